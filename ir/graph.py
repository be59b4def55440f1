"""The Graph: tensors, constants and ops in topological order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .ops import Op
from .tensor import DType, Tensor


def _frozen_array(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Graph:
    """A whole network.

    ``tensors`` declares every value (activations and constants) by name;
    ``constants`` holds the data of weights and biases; ``ops`` are in
    topological order; ``inputs``/``outputs`` name the graph's activations.
    Build one with :meth:`Graph.build`, which freezes the mappings and arrays,
    and check it with :func:`dian.ir.verify`.
    """

    name: str
    tensors: Mapping[str, Tensor]
    constants: Mapping[str, np.ndarray]
    ops: tuple[Op, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @staticmethod
    def build(
        name: str,
        tensors: Mapping[str, Tensor] | list[Tensor],
        constants: Mapping[str, np.ndarray],
        ops: list[Op] | tuple[Op, ...],
        inputs: list[str] | tuple[str, ...],
        outputs: list[str] | tuple[str, ...],
        metadata: Mapping[str, str] | None = None,
    ) -> Graph:
        if not isinstance(tensors, Mapping):
            tensors = {t.name: t for t in tensors}
        return Graph(
            name=name,
            tensors=MappingProxyType(dict(tensors)),
            constants=MappingProxyType({k: _frozen_array(v) for k, v in constants.items()}),
            ops=tuple(ops),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            metadata=MappingProxyType(dict(metadata or {})),
        )

    @property
    def is_quantized(self) -> bool:
        """True for the integer graph (its inputs are int8)."""
        return all(self.tensors[n].dtype is DType.INT8 for n in self.inputs)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def op(self, name: str) -> Op:
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(name)

    def producer(self, tensor_name: str) -> Op | None:
        for op in self.ops:
            if op.output == tensor_name:
                return op
        return None

    def consumers(self, tensor_name: str) -> list[Op]:
        return [op for op in self.ops if tensor_name in op.inputs]

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def activations(self) -> list[Tensor]:
        """Tensors that are not constants, in definition order."""
        return [t for n, t in self.tensors.items() if n not in self.constants]
