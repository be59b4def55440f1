"""Tensors of the layer IR: element types, quantization parameters, shapes.

Layout is NCHW for 4-D activations, [K, C/groups, FY, FX] for conv weights and
[out, in] for linear weights, exactly as in PyTorch, so a model's tensors move
into the IR without transposes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class DType(str, Enum):
    """Element types the IR knows. Activations are float32 before quantization
    and int8 after it; int32 is the bias type."""

    FLOAT32 = "float32"
    INT8 = "int8"
    INT32 = "int32"

    @property
    def is_integer(self) -> bool:
        return self is not DType.FLOAT32

    @property
    def bounds(self) -> tuple[int, int]:
        """Smallest and largest representable integer (integer types only)."""
        if self is DType.INT8:
            return (-128, 127)
        if self is DType.INT32:
            return (-(2**31), 2**31 - 1)
        raise ValueError("float32 has no integer bounds")


@dataclass(frozen=True)
class QuantParams:
    """Symmetric quantization: ``real = scale * q``, zero point always 0.

    ``axis`` is None for per-tensor parameters (one scale) and the channel axis
    for per-channel parameters (one scale per index along that axis). dian's
    contract fixes the zero point at 0 for activations and weights alike, so
    the accelerator never subtracts offsets; ReLU outputs then use 0..127.
    """

    scale: tuple[float, ...]
    axis: int | None = None

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    @staticmethod
    def per_tensor(scale: float) -> QuantParams:
        return QuantParams((float(scale),), None)


@dataclass(frozen=True)
class Tensor:
    """A named value of the Graph: an activation, or a constant (weights, bias)."""

    name: str
    shape: tuple[int, ...]
    dtype: DType
    quant: QuantParams | None = None

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n
