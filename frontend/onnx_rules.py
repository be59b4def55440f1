"""One lowering rule per supported ONNX op type (the default domain, opset 13 and later).

A rule sees an :class:`OnnxNode`: the ONNX node, its attributes and constant inputs, and the fx
node that stands for it in onnx_import.py's scratch graph (its name, its inferred output shape,
its activation inputs as ``args``). With that stand-in the rules call the same lowerings as the
torch.fx rules (lower_rules.py, elementwise_rules.py, pointwise_rules.py, resample_rules.py,
channel_affine.py), so an ONNX ``Clip`` and a ``torch.clamp`` become the same IR by the same code.
``RULES`` is the single list of what dian reads from ONNX; error messages print it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import torch.fx as fx

from dian.ir import Clamp, Concat, Conv2d, GlobalAvgPool, Linear, Pointwise

from . import bn_fold
from .builder import Builder, unsupported
from .channel_affine import lower_channel_affine
from .channel_rules import select
from .elementwise_rules import lower_add_sub, lower_div, lower_mul
from .lower_rules import lower_avgpool, lower_clamp, lower_maxpool, lower_mean, lower_reshape
from .pointwise_rules import lower_pointwise
from .resample_rules import lower_upsample


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node as its rule sees it."""

    proto: onnx.NodeProto
    fx: fx.Node
    consts: Mapping[str, np.ndarray]

    def attr(self, name: str, default: Any = None) -> Any:
        for a in self.proto.attribute:
            if a.name == name:
                v = onnx.helper.get_attribute_value(a)
                return v.decode() if isinstance(v, bytes) else v
        return default

    def const(self, i: int) -> np.ndarray | None:
        """Input ``i`` when it is a constant (an initializer or folded); None when absent or an activation."""
        name = self.proto.input[i] if i < len(self.proto.input) else ""
        return self.consts.get(name) if name else None

    def arg(self, i: int) -> Any:
        """Input ``i``: the fx stand-in of an activation, else its constant array (None when absent)."""
        a = self.fx.args[i] if i < len(self.fx.args) else None
        return a if a is not None else self.const(i)

    def need_const(self, i: int, what: str) -> np.ndarray:
        c = self.const(i)
        if c is None:
            raise unsupported(
                self.fx,
                f"its {what} (input {i}) is computed by the network",
                f"dian needs the {what} as a constant (an initializer)",
            )
        return c


OnnxRule = Callable[[Builder, OnnxNode], str]


def _pads(
    n: OnnxNode, kernel: tuple[int, ...], strides: tuple[int, ...], dilations: tuple[int, ...]
) -> tuple[int, int]:
    """Symmetric (top/bottom, left/right) zero padding from ``pads`` or ``auto_pad``."""
    auto = n.attr("auto_pad", "NOTSET")
    if auto == "VALID":
        return (0, 0)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        in_hw = n.fx.args[0].meta["tensor_meta"].shape[2:]  # type: ignore[union-attr]
        total = [
            max((math.ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0)
            for i, s, k, d in zip(in_hw, strides, kernel, dilations, strict=True)
        ]
        if any(t % 2 for t in total):
            raise unsupported(
                n.fx, f"auto_pad={auto} with uneven padding {total}", "dian pads symmetrically; give explicit pads"
            )
        return (total[0] // 2, total[1] // 2)
    pads = tuple(n.attr("pads", [0, 0, 0, 0]))
    if len(pads) != 4 or pads[:2] != pads[2:]:
        raise unsupported(n.fx, f"pads {list(pads)}", "dian pads symmetrically (begin == end per axis) in 2-D")
    return (int(pads[0]), int(pads[1]))


def _window(
    n: OnnxNode, weight_hw: tuple[int, ...] = ()
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    kernel = tuple(n.attr("kernel_shape", weight_hw))
    if len(kernel) != 2:
        raise unsupported(n.fx, f"a {len(kernel)}-D window", "dian pools and convolves in 2-D (NCHW)")
    strides = tuple(n.attr("strides", [1, 1]))
    dilations = tuple(n.attr("dilations", [1, 1]))
    return kernel, strides, _pads(n, kernel, strides, dilations), dilations


def _conv(b: Builder, n: OnnxNode) -> str:
    w = n.need_const(1, "weight")
    if w.ndim != 4:
        raise unsupported(n.fx, f"a {w.ndim - 2}-D convolution", "dian convolves in 2-D (NCHW)")
    _, strides, pads, dilations = _window(n, tuple(w.shape[2:]))
    bias = n.const(2)
    if bias is None and len(n.proto.input) > 2 and n.proto.input[2]:
        raise unsupported(n.fx, "a bias computed by the network", "dian needs the bias as a constant")
    name = n.fx.name
    return b.emit(
        Conv2d,
        n.fx,
        [b.tensor(n.arg(0), n.fx)],
        weight=b.const(name, "weight", w),
        bias=None if bias is None else b.const(name, "bias", bias.reshape(-1)),
        stride=strides,
        padding=pads,
        dilation=dilations,
        groups=int(n.attr("group", 1)),
    )


def _linear(b: Builder, n: OnnxNode, x: Any, w: np.ndarray, bias: np.ndarray | None) -> str:
    """``x @ w.T + bias`` with ``x`` an [N, in] activation."""
    xname = b.tensor(x, n.fx)
    if len(b.tensors[xname].shape) != 2:
        raise unsupported(
            n.fx,
            f"a matrix product on a rank-{len(b.tensors[xname].shape)} input",
            "dian's Linear takes [N, features]; flatten first",
        )
    name = n.fx.name
    bias_name = None if bias is None else b.const(name, "bias", np.broadcast_to(bias.reshape(-1), (w.shape[0],)))
    return b.emit(Linear, n.fx, [xname], weight=b.const(name, "weight", w), bias=bias_name)


def _gemm(b: Builder, n: OnnxNode) -> str:
    if n.attr("transA", 0):
        raise unsupported(n.fx, "Gemm with transA=1", "dian multiplies an [N, in] activation by constant weights")
    w = n.need_const(1, "weight (B)").astype(np.float64) * float(n.attr("alpha", 1.0))
    w = w if n.attr("transB", 0) else w.T
    c = n.const(2)
    if c is None and len(n.proto.input) > 2 and n.proto.input[2]:
        raise unsupported(n.fx, "a Gemm bias (C) computed by the network", "dian needs C as a constant")
    return _linear(b, n, n.arg(0), w, None if c is None else c.astype(np.float64) * float(n.attr("beta", 1.0)))


def _matmul(b: Builder, n: OnnxNode) -> str:
    w = n.const(1)
    if w is None or w.ndim != 2 or n.const(0) is not None:
        raise unsupported(
            n.fx,
            "a matrix product whose right operand is not a constant matrix",
            "dian multiplies an activation by constant weights",
        )
    return _linear(b, n, n.arg(0), w.T, None)


def _batchnorm(b: Builder, n: OnnxNode) -> str:
    if n.attr("training_mode", 0):
        raise unsupported(n.fx, "BatchNormalization with training_mode=1", "export the model in eval mode")
    scale, shift = bn_fold.affine_from_stats(
        n.need_const(3, "mean"),
        n.need_const(4, "variance"),
        n.need_const(1, "scale"),
        n.need_const(2, "bias"),
        n.attr("epsilon", 1e-5),
    )
    return lower_channel_affine(b, n.fx, n.arg(0), scale, shift)


def _channel_vector(n: OnnxNode, k: np.ndarray, rank: int) -> np.ndarray | None:
    """``k`` as one value per channel (or one value) when it broadcasts along dimension 1 only."""
    if k.size == 1:
        return k.reshape(-1)
    if k.ndim > rank:
        return None
    full = k.reshape((1,) * (rank - k.ndim) + k.shape)
    return full.reshape(-1) if rank >= 2 and all(d == 1 for i, d in enumerate(full.shape) if i != 1) else None


def _arith(b: Builder, n: OnnxNode) -> str:
    op, x, y = n.proto.op_type, n.arg(0), n.arg(1)
    kx, ky = isinstance(x, np.ndarray), isinstance(y, np.ndarray)
    if not kx and not ky:
        if op == "Div":
            raise unsupported(n.fx, "division by an activation", "dian divides by constants only")
        return lower_mul(b, n.fx, x, y) if op == "Mul" else lower_add_sub(b, n.fx, x, y, 1, subtract=op == "Sub")
    act, k = (y, x) if kx else (x, y)
    rank = len(n.fx.meta["tensor_meta"].shape)
    vec = _channel_vector(n, k, rank)
    if vec is None:
        raise unsupported(
            n.fx,
            f"{op} with a constant of shape {list(k.shape)}",
            "dian takes a scalar or a per-channel ([C, 1, 1]) constant",
        )
    vec = vec.astype(np.float64)
    if op == "Div" and kx:
        raise unsupported(n.fx, "a constant divided by an activation", "dian divides by constants only")
    if op == "Div" and not np.all(vec):
        raise unsupported(n.fx, "division by zero", "dian divides by nonzero constants")
    if vec.size == 1:  # the pointwise table affine(scale, offset), as for `x * c` in torch
        c = float(vec[0])
        if op == "Mul":
            return lower_mul(b, n.fx, act, c)
        if op == "Div":
            return lower_div(b, n.fx, act, c)
        first, second = (c, act) if kx else (act, c)
        return lower_add_sub(b, n.fx, first, second, 1, subtract=op == "Sub")
    one, zero = np.ones_like(vec), np.zeros_like(vec)
    scale, shift = {
        "Mul": (vec, zero),
        "Div": (1.0 / vec, zero),
        "Add": (one, vec),
        "Sub": (-one, vec) if kx else (one, -vec),
    }[op]
    return lower_channel_affine(b, n.fx, act, scale, shift)


def _clip(b: Builder, n: OnnxNode) -> str:
    bounds = []
    for i, key in ((1, "min"), (2, "max")):
        c = n.const(i)
        if c is None and i < len(n.proto.input) and n.proto.input[i]:
            raise unsupported(n.fx, f"a Clip {key} computed by the network", "dian needs Clip bounds as constants")
        bounds.append(float(c.reshape(-1)[0]) if c is not None else n.attr(key))
    return lower_clamp(b, n.fx, n.arg(0), bounds[0], bounds[1])


def _pointwise(fn: str, *attrs: tuple[str, float]) -> OnnxRule:
    return lambda b, n: lower_pointwise(b, n.fx, n.arg(0), fn, *(float(n.attr(k, d)) for k, d in attrs))


def _gelu(b: Builder, n: OnnxNode) -> str:
    approx = n.attr("approximate", "none")
    if approx not in ("none", "tanh"):
        raise unsupported(n.fx, f"Gelu with approximate={approx!r}", "dian supports 'none' and 'tanh'")
    return lower_pointwise(b, n.fx, n.arg(0), "gelu" if approx == "none" else "gelu_tanh")


def _hardsigmoid(b: Builder, n: OnnxNode) -> str:
    alpha, beta = float(n.attr("alpha", 0.2)), float(n.attr("beta", 0.5))
    if math.isclose(alpha, 1 / 6, rel_tol=1e-6) and beta == 0.5:  # torch's relu6(x + 3) / 6
        return lower_pointwise(b, n.fx, n.arg(0), "hardsigmoid")
    x = b.tensor(n.arg(0), n.fx)
    mid = b.emit(Pointwise, n.fx, [x], name=b.fresh(f"{n.fx.name}_affine"), fn="affine", params=(alpha, beta))
    return b.emit(Clamp, n.fx, [mid], min_value=0.0, max_value=1.0)


def _prelu(b: Builder, n: OnnxNode) -> str:
    slope = n.need_const(1, "slope")
    vec = _channel_vector(n, slope, len(n.fx.meta["tensor_meta"].shape))
    if vec is None:
        raise unsupported(
            n.fx, f"PRelu slopes of shape {list(slope.shape)}", "dian takes one slope per channel or one shared"
        )
    return lower_pointwise(b, n.fx, n.arg(0), "prelu", *(float(v) for v in vec))


def _maxpool(b: Builder, n: OnnxNode) -> str:
    kernel, strides, pads, dilations = _window(n)
    indices = len(n.proto.output) > 1 and bool(n.proto.output[1]) and len(n.fx.users) > 0
    return lower_maxpool(b, n.fx, n.arg(0), kernel, strides, pads, dilations, bool(n.attr("ceil_mode", 0)), indices)


def _avgpool(b: Builder, n: OnnxNode) -> str:
    kernel, strides, pads, _ = _window(n)
    include_pad = bool(n.attr("count_include_pad", 0)) or pads == (0, 0)
    return lower_avgpool(b, n.fx, n.arg(0), kernel, strides, pads, bool(n.attr("ceil_mode", 0)), include_pad, None)


def _reduce_mean(b: Builder, n: OnnxNode) -> str:
    axes = n.attr("axes")
    if axes is None and n.const(1) is not None:
        axes = [int(a) for a in n.const(1).reshape(-1)]  # type: ignore[union-attr]
    return lower_mean(b, n.fx, n.arg(0), list(axes or ()), bool(n.attr("keepdims", 1)))


def _concat(b: Builder, n: OnnxNode) -> str:
    if any(isinstance(n.arg(i), np.ndarray) for i in range(len(n.proto.input))):
        raise unsupported(n.fx, "concatenation with a constant tensor", "dian concatenates activations")
    names = [b.tensor(n.arg(i), n.fx) for i in range(len(n.proto.input))]
    rank = len(b.tensors[names[0]].shape)
    axis = int(n.attr("axis")) % rank
    if axis == 0:
        raise unsupported(n.fx, "Concat along axis 0 (the batch)", "dian concatenates along axes 1 and up")
    return b.emit(Concat, n.fx, names, axis=axis)


_NEAREST_COORDS = {("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil")}
_NEAREST_COORDS |= {("pytorch_half_pixel", m) for _, m in _NEAREST_COORDS if _ == "half_pixel"}


def _resize(b: Builder, n: OnnxNode) -> str:
    mode = n.attr("mode", "nearest")
    coords = (n.attr("coordinate_transformation_mode", "half_pixel"), n.attr("nearest_mode", "round_prefer_floor"))
    if mode == "nearest" and coords not in _NEAREST_COORDS:
        raise unsupported(
            n.fx,
            f"nearest Resize with coordinate_transformation_mode={coords[0]!r}, nearest_mode={coords[1]!r}",
            "dian resizes by whole factors with 'asymmetric' + 'floor' (torch's nearest) or 'half_pixel' + rounding",
        )
    return lower_upsample(b, n.fx, n.arg(0), mode)


def _slice(b: Builder, n: OnnxNode) -> str:
    """A slice along the channels (dimension 1) with constant bounds: one channel gather."""
    x = b.tensor(n.arg(0), n.fx)
    shape = b.tensors[x].shape
    starts, ends = n.need_const(1, "starts").reshape(-1), n.need_const(2, "ends").reshape(-1)
    axes_c, steps_c = n.const(3), n.const(4)
    axes = np.arange(len(starts)) if axes_c is None else axes_c.reshape(-1)
    steps = np.ones(len(starts), np.int64) if steps_c is None else steps_c.reshape(-1)
    picked = list(range(shape[1]))
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = int(axis) % len(shape)
        kept = list(range(shape[axis]))[slice(int(start), int(end), int(step))]
        if axis == 1:
            picked = [picked[i] for i in kept]
        elif kept != list(range(shape[axis])):
            raise unsupported(n.fx, f"a slice along dimension {axis}", "dian slices along the channels (dimension 1)")
    return select(b, n.fx, x, tuple(picked))


def _identity(b: Builder, n: OnnxNode) -> str:
    if n.proto.op_type == "Dropout" and n.const(2) is not None and bool(n.const(2)):
        raise unsupported(n.fx, "Dropout with training_mode true", "dropout must be inactive to lower")
    return b.tensor(n.arg(0), n.fx)


def _global_avgpool(b: Builder, n: OnnxNode) -> str:
    x = b.tensor(n.arg(0), n.fx)
    if len(b.tensors[x].shape) != 4:
        raise unsupported(n.fx, f"global pooling of a rank-{len(b.tensors[x].shape)} tensor", "dian pools NCHW tensors")
    return b.emit(GlobalAvgPool, n.fx, [x])


RULES: dict[str, OnnxRule] = {
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "BatchNormalization": _batchnorm,
    "Relu": lambda b, n: lower_clamp(b, n.fx, n.arg(0), 0.0, None),
    "Clip": _clip,
    "Add": _arith,
    "Sub": _arith,
    "Mul": _arith,
    "Div": _arith,
    "Neg": lambda b, n: lower_pointwise(b, n.fx, n.arg(0), "affine", -1.0, 0.0),
    "Sigmoid": _pointwise("sigmoid"),
    "Tanh": _pointwise("tanh"),
    "HardSigmoid": _hardsigmoid,
    "HardSwish": _pointwise("hardswish"),
    "LeakyRelu": _pointwise("leaky_relu", ("alpha", 0.01)),
    "PRelu": _prelu,
    "Elu": _pointwise("elu", ("alpha", 1.0)),
    "Gelu": _gelu,
    "Softplus": _pointwise("softplus", ("beta", 1.0), ("threshold", 20.0)),
    "Mish": _pointwise("mish"),
    "MaxPool": _maxpool,
    "AveragePool": _avgpool,
    "GlobalAveragePool": _global_avgpool,
    "ReduceMean": _reduce_mean,
    "Concat": _concat,
    "Flatten": lambda b, n: lower_reshape(b, n.fx, n.arg(0)),
    "Reshape": lambda b, n: lower_reshape(b, n.fx, n.arg(0)),
    "Squeeze": lambda b, n: lower_reshape(b, n.fx, n.arg(0)),
    "Unsqueeze": lambda b, n: lower_reshape(b, n.fx, n.arg(0)),
    "Resize": _resize,
    "Slice": _slice,
    "Identity": _identity,
    "Dropout": _identity,
}


def supported_summary() -> str:
    return f"dian reads the ONNX ops {', '.join(sorted(RULES))} (opset 13 and later)"
