"""State of one fx-graph-to-IR lowering: the IR being built and the map from
fx nodes to IR tensor names.

Lowering rules (``lower_rules.py``) see only this object, so the rules stay
free of fx bookkeeping and the driver (``trace.py``) stays free of op details.
Op and tensor names are the fx node names: fx already derives them from the
module path (``layer1.0.conv1`` -> ``layer1_0_conv1``) and keeps them unique,
which makes them readable and stable across runs. Constants are named
``<op>.weight`` / ``<op>.bias``; a dot never occurs in an fx node name, so
they cannot collide with activations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.fx as fx

from dian.ir import DType, Op, Tensor

from .blockers import NodeError, source_line

#: A lowering rule: one fx node in, the IR tensor name holding its value out.
Rule = Callable[["Builder", fx.Node], str]

#: Marker for fx values that are not tensors (sizes, shapes, ints): they only
#: parameterize reshapes, whose concrete output shape comes from shape propagation.
META = object()


def sanitize(name: str) -> str:
    """An identifier-safe version of ``name`` (letters, digits, underscores)."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s and not s[0].isdigit() else f"t_{s}"


def describe_location(node: fx.Node) -> str:
    """Where a node came from, for error messages: module path, fx node name and, when the
    tracer recorded it, the source line of the call."""
    if "where" in node.meta:  # set by the importers whose nodes are not the model's own fx nodes (ONNX)
        return str(node.meta["where"])
    parts = []
    if node.op == "call_module":
        parts.append(f"module `{node.target}`")
    else:
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            path, cls = list(stack.values())[-1]
            cls_name = getattr(cls, "__name__", str(cls))
            parts.append(f"inside `{path}` ({cls_name}.forward)" if path else f"in {cls_name}.forward")
    parts.append(f"fx node `{node.name}`")
    line = source_line(node)
    if line:
        parts.append(line)
    return ", ".join(parts)


def node_arg(node: fx.Node, index: int, key: str, default: Any = None) -> Any:
    """Argument by position or keyword (method nodes count ``self`` as position 0)."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


def unsupported(node: fx.Node, what: str, allowed: str) -> NodeError:
    """The error a rule raises for a variant dian does not lower: ``what`` the node does, ``allowed``
    what dian takes instead (trace.py lists it with every other node it could not lower)."""
    return NodeError(describe_location(node), f"{what}; {allowed}")


def node_module(b: Builder, node: fx.Node) -> torch.nn.Module:
    return b.modules[node.target]  # type: ignore[index]


@runtime_checkable
class Deferred(Protocol):
    """A value a rule keeps symbolic until an op needs it as a tensor (channel_rules.ChannelView:
    channels viewed as groups, which a transpose may still reorder)."""

    def materialize(self, b: Builder, node: fx.Node) -> str:
        """The IR tensor of this value, produced by fx node ``node``, or a clear NodeError."""
        ...


class Builder:
    """Accumulates tensors, constants and ops of the float Graph."""

    def __init__(self, modules: dict[str, torch.nn.Module], reserved: set[str]) -> None:
        self.modules = modules
        self.tensors: dict[str, Tensor] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.ops: list[Op] = []
        self.env: dict[fx.Node, Any] = {}
        self._used = set(reserved)
        #: conv/linear node -> the BatchNorm node folded into it
        self.folded: dict[fx.Node, fx.Node] = {}
        #: IR tensor -> the float range [lo, hi] a QAT fake-quant learned for it (frontend/qat.py)
        self.learned: dict[str, tuple[float, float]] = {}

    # -- names ---------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """A name not used by any fx node or earlier IR value."""
        name, i = base, 1
        while name in self._used:
            name, i = f"{base}_{i}", i + 1
        self._used.add(name)
        return name

    # -- values --------------------------------------------------------------
    @staticmethod
    def shape(node: fx.Node) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise NodeError(
                describe_location(node),
                "it does not produce a single tensor; dian lowers only ops with one tensor output",
            )
        return tuple(int(d) for d in meta.shape)

    def tensor(self, arg: Any, node: fx.Node, role: str = "input") -> str:
        """IR tensor name of ``arg`` (an fx node producing a tensor), or a clear error."""
        value = self.env.get(arg) if isinstance(arg, fx.Node) else None
        if isinstance(value, str):
            return value
        if isinstance(arg, fx.Node) and isinstance(value, Deferred):
            self.env[arg] = value.materialize(self, arg)
            return str(self.env[arg])
        what = "a Python constant" if not isinstance(arg, fx.Node) else "a non-tensor value"
        if isinstance(arg, torch.Tensor):
            what = "a constant tensor"
        shown = repr(arg) if len(repr(arg)) <= 40 else repr(arg)[:37] + "..."
        raise NodeError(
            describe_location(node),
            f"its {role} is {what} ({shown}); dian lowers ops whose data inputs are activations of the "
            f"network (no scalar operands, no broadcasting constants)",
        )

    def nchw(self, arg: Any, node: fx.Node, what: str) -> str:
        """As :meth:`tensor`, for an op that takes only [N, C, H, W] tensors (torch also takes
        unbatched [C, H, W] and other ranks for some)."""
        name = self.tensor(arg, node)
        shape = self.tensors[name].shape
        if len(shape) != 4:
            raise NodeError(
                describe_location(node),
                f"{what} of a rank-{len(shape)} tensor {list(shape)}; dian's {what} takes [N, C, H, W] tensors",
            )
        return name

    def declare(self, name: str, shape: tuple[int, ...]) -> str:
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), DType.FLOAT32)
        return name

    def const(self, op_name: str, role: str, data: np.ndarray) -> str:
        name = f"{op_name}.{role}"
        arr = np.ascontiguousarray(np.asarray(data, dtype=np.float32))
        self.constants[name] = arr
        self.tensors[name] = Tensor(name, tuple(arr.shape), DType.FLOAT32)
        return name

    def emit(
        self,
        cls: type[Op],
        node: fx.Node,
        inputs: list[str],
        name: str | None = None,
        out_shape: tuple[int, ...] | None = None,
        **fields: Any,
    ) -> str:
        """Append ``cls`` reading ``inputs``; output tensor and op share ``name``
        (default: the fx node's name) and the output gets ``out_shape`` (default:
        the node's propagated shape). Returns the output tensor name."""
        name = name or node.name
        self.declare(name, out_shape if out_shape is not None else self.shape(node))
        self.ops.append(cls(name=name, inputs=tuple(inputs), output=name, **fields))
        return name
