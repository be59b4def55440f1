"""Op kinds of the layer IR, one frozen dataclass each.

Every op has a unique ``name``, data ``inputs`` (activation tensor names) and
one ``output``. Weights and biases are named constants of the Graph, referred
to by the ``weight``/``bias`` fields, so data flow and parameters stay apart.

The same classes describe the float graph (from the frontend) and the integer
graph (after quantization). Fields that only the integer graph uses default to
None and are required there by the verifier:

* ``requant``: per-output-channel (or per-tensor) multiplier and shift of the
  requantization ``clamp(round_shift(acc * M, s), lo, hi)``;
* ``out_min``/``out_max``: the integer clamp after requantization. It is the
  int8 saturation range, narrowed when a ReLU/ReLU6/clamp was fused in;
* ``table``: the int8 lookup table of a :class:`Pointwise` function.

Rounding rule of ``round_shift(x, s)`` (the only one in dian): round half up,
``floor((x + 2**(s-1)) / 2**s)`` for s > 0, and ``x`` for s = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar


class OpKind(str, Enum):
    CONV2D = "conv2d"
    LINEAR = "linear"
    ADD = "add"
    CLAMP = "clamp"
    MAXPOOL2D = "maxpool2d"
    AVGPOOL2D = "avgpool2d"
    GLOBAL_AVGPOOL = "global_avgpool"
    RESHAPE = "reshape"
    CONCAT = "concat"
    POINTWISE = "pointwise"
    MUL = "mul"
    UPSAMPLE = "upsample"
    SELECT_CHANNELS = "select_channels"
    INTERLEAVE = "interleave"


@dataclass(frozen=True)
class Requant:
    """Integer rescale ``round_shift(x * multiplier, shift)``.

    One entry per output channel, or a single entry for per-tensor scaling.
    ``0 <= multiplier < 2**31`` and ``0 <= shift <= 62``: with an accumulator
    below 2**31 in magnitude the product and rounding term fit in int64.
    """

    multiplier: tuple[int, ...]
    shift: tuple[int, ...]

    MULTIPLIER_BITS: ClassVar[int] = 31
    MAX_SHIFT: ClassVar[int] = 62

    def __len__(self) -> int:
        return len(self.multiplier)


@dataclass(frozen=True)
class Op:
    """Common fields. Subclasses set ``kind``."""

    name: str
    inputs: tuple[str, ...]
    output: str

    kind: ClassVar[OpKind]

    @property
    def constants(self) -> tuple[str, ...]:
        """Names of the constant tensors (weights, bias) this op reads."""
        return ()


@dataclass(frozen=True)
class Conv2d(Op):
    """2-D convolution; ``groups == C == K`` is depthwise. Padding is zeros."""

    weight: str = ""
    bias: str | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    requant: Requant | None = None
    out_min: int | None = None
    out_max: int | None = None

    kind: ClassVar[OpKind] = OpKind.CONV2D

    @property
    def constants(self) -> tuple[str, ...]:
        return (self.weight,) if self.bias is None else (self.weight, self.bias)


@dataclass(frozen=True)
class Linear(Op):
    """Fully connected layer ``y = x W^T + b`` on [N, in] inputs."""

    weight: str = ""
    bias: str | None = None
    requant: Requant | None = None
    out_min: int | None = None
    out_max: int | None = None

    kind: ClassVar[OpKind] = OpKind.LINEAR

    @property
    def constants(self) -> tuple[str, ...]:
        return (self.weight,) if self.bias is None else (self.weight, self.bias)


@dataclass(frozen=True)
class Add(Op):
    """Elementwise sum of two same-shaped tensors (residual connections), or with
    ``subtract`` their difference ``a - b``.

    Integer form: ``clamp(round_shift(a * Ma ± b * Mb, shift), lo, hi)`` with
    ``requant.multiplier == (Ma, Mb)`` and a single shared ``requant.shift``:
    both inputs are rescaled to the output scale with one rounding.
    """

    requant: Requant | None = None
    out_min: int | None = None
    out_max: int | None = None
    subtract: bool = False

    kind: ClassVar[OpKind] = OpKind.ADD


@dataclass(frozen=True)
class Mul(Op):
    """Elementwise product ``a * b`` of two tensors of the same shape, or of a tensor and a
    per-channel gate ``b`` of shape [N, C, 1, 1] broadcast over the plane (squeeze-excite).

    Integer form: ``clamp(round_shift(a * b * M, shift), lo, hi)`` with one multiplier and
    shift (``M / 2^shift = s_a * s_b / s_out``): the int16 product is rescaled with one rounding.
    """

    requant: Requant | None = None
    out_min: int | None = None
    out_max: int | None = None

    kind: ClassVar[OpKind] = OpKind.MUL


@dataclass(frozen=True)
class Clamp(Op):
    """ReLU (0, None), ReLU6 (0, 6) and general clamps. Float bounds in the float
    graph, integer bounds in the integer graph; None means unbounded."""

    min_value: float | int | None = None
    max_value: float | int | None = None

    kind: ClassVar[OpKind] = OpKind.CLAMP


@dataclass(frozen=True)
class MaxPool2d(Op):
    """Max pooling; padded positions never win (they are -inf / the int8 minimum).

    ``ceil_mode`` as PyTorch's: the output size rounds up, so a last window may hang past the
    bottom or right edge (its outside positions are padding too), but every window starts inside
    the input or its leading padding.
    """

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int] = (0, 0)
    ceil_mode: bool = False

    kind: ClassVar[OpKind] = OpKind.MAXPOOL2D


@dataclass(frozen=True)
class AvgPool2d(Op):
    """Average pooling, padded zeros counted in the divisor (PyTorch's default
    ``count_include_pad=True``). Integer form: window sum, then
    ``round_shift(sum * M, s)`` with ``M / 2**s ≈ in_scale / (out_scale * kh * kw)``."""

    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] = (2, 2)
    padding: tuple[int, int] = (0, 0)
    requant: Requant | None = None

    kind: ClassVar[OpKind] = OpKind.AVGPOOL2D


@dataclass(frozen=True)
class GlobalAvgPool(Op):
    """Mean over H and W, keeping them as size 1: [N, C, H, W] -> [N, C, 1, 1].
    Integer form as :class:`AvgPool2d` with the whole plane as the window."""

    requant: Requant | None = None

    kind: ClassVar[OpKind] = OpKind.GLOBAL_AVGPOOL


@dataclass(frozen=True)
class Upsample(Op):
    """Nearest-neighbour upsampling of an NCHW tensor by whole factors:
    ``y[n, c, i, j] = x[n, c, i // scale[0], j // scale[1]]``. Moves values without rescaling."""

    scale: tuple[int, int] = (2, 2)

    kind: ClassVar[OpKind] = OpKind.UPSAMPLE


@dataclass(frozen=True)
class SelectChannels(Op):
    """Channel ``j`` of the output is channel ``channels[j]`` of the NCHW (or [N, C]) input:
    slices ``x[:, a:b]``, chunk/split pieces and channel shuffles are all one gather.
    Moves values without rescaling."""

    channels: tuple[int, ...] = ()

    kind: ClassVar[OpKind] = OpKind.SELECT_CHANNELS


@dataclass(frozen=True)
class Interleave(Op):
    """The phases of a strided output woven into one tensor:
    ``y[n, c, f0*i + a, f1*j + b] = inputs[a*f1 + b][n, c, i, j]`` for ``factor = (f0, f1)``.
    A transposed convolution of stride (f0, f1) is f0*f1 ordinary convolutions, one per output
    phase, and this op. Phase (a, b) has ``ceil((H - a) / f0)`` rows and ``ceil((W - b) / f1)``
    columns of the H x W output.

    Integer form rescales each input to the output scale like :class:`Concat`:
    ``requant.multiplier[i]``, ``requant.shift[i]`` for input i."""

    factor: tuple[int, int] = (2, 2)
    requant: Requant | None = None

    kind: ClassVar[OpKind] = OpKind.INTERLEAVE


@dataclass(frozen=True)
class Reshape(Op):
    """Row-major reshape (flatten, view). Moves no data in NCHW order."""

    shape: tuple[int, ...] = ()

    kind: ClassVar[OpKind] = OpKind.RESHAPE


@dataclass(frozen=True)
class Concat(Op):
    """Concatenation along ``axis``. Integer form rescales each input to the
    output scale: ``requant.multiplier[i]``, ``requant.shift[i]`` for input i."""

    axis: int = 1
    requant: Requant | None = None

    kind: ClassVar[OpKind] = OpKind.CONCAT


@dataclass(frozen=True)
class Pointwise(Op):
    """``y = fn(x)`` element by element: SiLU, sigmoid, GELU, leaky ReLU, PReLU, ...

    ``fn`` names a function of ir/pointwise.py's registry and ``params`` are its
    parameters (a slope, an alpha; for PReLU one slope per channel or one shared).
    Integer form: ``table`` names an int8 constant of shape [rows, 256] and
    ``y = table[row, x + 128]``, with one row, or one per channel (dimension 1)
    for a per-channel function. The table is built from ``fn`` and the two
    scales by the rule of ir/pointwise.py, so any function of one int8 tensor
    is exact; ``fn`` and ``params`` stay on the op to say what it computes.
    ReLU-like clamps stay :class:`Clamp`: they fuse into their producer.
    """

    fn: str = ""
    params: tuple[float, ...] = ()
    table: str | None = None

    kind: ClassVar[OpKind] = OpKind.POINTWISE

    @property
    def constants(self) -> tuple[str, ...]:
        return () if self.table is None else (self.table,)


OP_CLASSES: dict[OpKind, type[Op]] = {
    cls.kind: cls
    for cls in (
        Conv2d,
        Linear,
        Add,
        Clamp,
        MaxPool2d,
        AvgPool2d,
        GlobalAvgPool,
        Reshape,
        Concat,
        Pointwise,
        Mul,
        Upsample,
        SelectChannels,
        Interleave,
    )
}

#: Ops whose integer form ends in requantization + clamp to [out_min, out_max].
CLAMPED_OPS: tuple[type[Conv2d], type[Linear], type[Add], type[Mul]] = (Conv2d, Linear, Add, Mul)
