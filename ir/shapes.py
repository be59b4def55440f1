"""Shape inference: one rule per op kind, errors that name the op.

Output sizes follow PyTorch's floor convention
``(in + 2*pad - dilation*(kernel-1) - 1) // stride + 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dian.errors import IRValidationError

from . import pointwise
from .ops import (
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    Pointwise,
    Reshape,
    SelectChannels,
    Upsample,
)

Shape = tuple[int, ...]


def _fail(op: Op, what: str, allowed: str) -> IRValidationError:
    return IRValidationError(f"{op.kind.value} op '{op.name}': {what}; {allowed}.")


def _need_rank(op: Op, shape: Shape, rank: int, role: str = "input") -> None:
    if len(shape) != rank:
        raise _fail(
            op, f"{role} has shape {list(shape)} (rank {len(shape)})", f"{op.kind.value} needs a rank-{rank} {role}"
        )


def _window_out(
    op: Op, size: int, kernel: int, stride: int, pad: int, dilation: int, axis: str, ceil: bool = False
) -> int:
    if kernel < 1 or stride < 1 or pad < 0 or dilation < 1:
        raise _fail(
            op,
            f"kernel {kernel}, stride {stride}, padding {pad}, dilation {dilation} along {axis}",
            "kernel, stride and dilation must be >= 1 and padding >= 0",
        )
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:  # PyTorch: the last window starts inside
        out -= 1
    if out < 1:
        raise _fail(
            op,
            f"window {kernel} (dilation {dilation}) does not fit input {axis} {size} with padding {pad}",
            "the padded input must be at least as large as the window",
        )
    return out


def _conv2d(op: Conv2d, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    _need_rank(op, x, 4)
    w = consts[op.weight]
    _need_rank(op, w, 4, "weight")
    n, c, h, wd = x
    k, cg, fy, fx = w
    if op.groups < 1 or c % op.groups or k % op.groups:
        raise _fail(
            op, f"groups={op.groups} with {c} input and {k} output channels", "groups must divide both channel counts"
        )
    if cg != c // op.groups:
        raise _fail(
            op,
            f"weight has {cg} input channels per group, input gives {c // op.groups}",
            "weight shape must be [K, C/groups, FY, FX]",
        )
    if op.bias is not None and consts[op.bias] != (k,):
        raise _fail(op, f"bias has shape {list(consts[op.bias])}", f"bias must have shape [{k}]")
    oy = _window_out(op, h, fy, op.stride[0], op.padding[0], op.dilation[0], "height")
    ox = _window_out(op, wd, fx, op.stride[1], op.padding[1], op.dilation[1], "width")
    return (n, k, oy, ox)


def _linear(op: Linear, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    _need_rank(op, x, 2)
    w = consts[op.weight]
    _need_rank(op, w, 2, "weight")
    if w[1] != x[1]:
        raise _fail(op, f"input has {x[1]} features, weight expects {w[1]}", "weight shape must be [out, in]")
    if op.bias is not None and consts[op.bias] != (w[0],):
        raise _fail(op, f"bias has shape {list(consts[op.bias])}", f"bias must have shape [{w[0]}]")
    return (x[0], w[0])


def _add(op: Add, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    if len(ins) != 2 or ins[0] != ins[1]:
        raise _fail(
            op, f"input shapes {[list(s) for s in ins]}", "add takes two inputs of the same shape (no broadcasting)"
        )
    return ins[0]


def _mul(op: Mul, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    a, b = ins
    gate = len(a) == 4 and b == (a[0], a[1], 1, 1)
    if a != b and not gate:
        raise _fail(
            op,
            f"input shapes {[list(s) for s in ins]}",
            "mul takes two inputs of the same shape, or an NCHW tensor and an [N, C, 1, 1] gate as the second",
        )
    return a


def _upsample(op: Upsample, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    _need_rank(op, x, 4)
    if len(op.scale) != 2 or any(isinstance(f, bool) or not isinstance(f, int) or not 1 <= f <= 64 for f in op.scale):
        raise _fail(op, f"scale {list(op.scale)}", "upsampling takes two whole factors from 1 to 64 (height, width)")
    return (x[0], x[1], x[2] * op.scale[0], x[3] * op.scale[1])


def _interleave(op: Interleave, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    f0, f1 = op.factor if len(op.factor) == 2 else (0, 0)
    if any(isinstance(f, bool) or not isinstance(f, int) or not 1 <= f <= 16 for f in (f0, f1)):
        raise _fail(op, f"factor {list(op.factor)}", "interleave takes two whole factors from 1 to 16")
    if len(ins) != f0 * f1 or any(len(s) != 4 or s[:2] != ins[0][:2] for s in ins):
        raise _fail(
            op,
            f"{len(ins)} inputs of shapes {[list(s) for s in ins][:4]}",
            f"interleave takes factor[0] x factor[1] = {f0 * f1} NCHW inputs with the same N and C",
        )
    rows = [ins[a * f1][2] for a in range(f0)]
    cols = [ins[b][3] for b in range(f1)]
    h, w = sum(rows), sum(cols)
    for a in range(f0):
        for b in range(f1):
            want = (-(-(h - a) // f0), -(-(w - b) // f1))
            if ins[a * f1 + b][2:] != want or want[0] < 1 or want[1] < 1:
                raise _fail(
                    op,
                    f"phase ({a}, {b}) of shape {list(ins[a * f1 + b][2:])}",
                    f"phase (a, b) of an {h} x {w} output has ceil(({h} - a) / {f0}) x ceil(({w} - b) / {f1}) pixels",
                )
    return (ins[0][0], ins[0][1], h, w)


def _select_channels(op: SelectChannels, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    if len(x) < 2:
        raise _fail(op, f"input shape {list(x)}", "select_channels takes an input with a channel dimension (1)")
    bad = [c for c in op.channels if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < x[1]]
    if not op.channels or bad:
        raise _fail(
            op,
            f"channels {list(op.channels)[:8]}" + (" ..." if len(op.channels) > 8 else ""),
            f"select_channels takes one or more channel numbers in [0, {x[1]})",
        )
    return (x[0], len(op.channels), *x[2:])


def _same(op: Op, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    return x


def _pointwise(op: Pointwise, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    bad = pointwise.problem(op.fn, op.params, x[1] if len(x) > 1 else 1)
    if bad is not None:
        raise _fail(op, *bad)
    return x


def _pool(op: MaxPool2d | AvgPool2d, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    _need_rank(op, x, 4)
    for p, k in zip(op.padding, op.kernel, strict=True):
        if 2 * p > k:
            raise _fail(
                op,
                f"padding {list(op.padding)} with kernel {list(op.kernel)}",
                "padding must be at most half the kernel (as in PyTorch)",
            )
    ceil = isinstance(op, MaxPool2d) and op.ceil_mode
    oy = _window_out(op, x[2], op.kernel[0], op.stride[0], op.padding[0], 1, "height", ceil)
    ox = _window_out(op, x[3], op.kernel[1], op.stride[1], op.padding[1], 1, "width", ceil)
    return (x[0], x[1], oy, ox)


def _global_avgpool(op: GlobalAvgPool, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    _need_rank(op, x, 4)
    return (x[0], x[1], 1, 1)


def _reshape(op: Reshape, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    (x,) = ins
    n_in = 1
    for d in x:
        n_in *= d
    n_out = 1
    for d in op.shape:
        n_out *= d
    if n_out != n_in or any(d < 1 for d in op.shape):
        raise _fail(
            op,
            f"cannot reshape {list(x)} to {list(op.shape)}",
            "the target shape must be explicit (no -1) and keep the element count",
        )
    if op.shape[0] != x[0]:
        raise _fail(
            op,
            f"reshape {list(x)} -> {list(op.shape)} changes the batch size",
            "the batch dimension must stay first and unchanged",
        )
    return op.shape


def _concat(op: Concat, ins: Sequence[Shape], consts: Mapping[str, Shape]) -> Shape:
    if not ins:
        raise _fail(op, "no inputs", "concat needs at least one input")
    rank = len(ins[0])
    if not 1 <= op.axis < rank:
        raise _fail(op, f"axis {op.axis} for rank-{rank} inputs", f"axis must be in 1..{rank - 1} (not the batch axis)")
    for s in ins:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, ins[0], strict=True)) if i != op.axis):
            raise _fail(
                op,
                f"input shapes {[list(s) for s in ins]}",
                f"inputs must agree on every dimension except axis {op.axis}",
            )
    out = list(ins[0])
    out[op.axis] = sum(s[op.axis] for s in ins)
    return tuple(out)


_RULES: dict[type[Op], Callable[..., Shape]] = {
    Conv2d: _conv2d,
    Linear: _linear,
    Add: _add,
    Clamp: _same,
    MaxPool2d: _pool,
    AvgPool2d: _pool,
    GlobalAvgPool: _global_avgpool,
    Reshape: _reshape,
    Concat: _concat,
    Pointwise: _pointwise,
    Mul: _mul,
    Upsample: _upsample,
    SelectChannels: _select_channels,
    Interleave: _interleave,
}


def infer_shape(op: Op, input_shapes: Sequence[Shape], constant_shapes: Mapping[str, Shape]) -> Shape:
    """Output shape of ``op`` given its inputs' shapes and all constants' shapes."""
    expected_inputs = 2 if type(op) in (Add, Mul) else None if isinstance(op, (Concat, Interleave)) else 1
    if expected_inputs is not None and len(input_shapes) != expected_inputs:
        raise _fail(op, f"{len(input_shapes)} inputs", f"{op.kind.value} takes {expected_inputs}")
    for c in op.constants:
        if c not in constant_shapes:
            raise _fail(op, f"constant '{c}' is not defined", "weights and biases must be constants of the graph")
    return _RULES[type(op)](op, input_shapes, constant_shapes)
