"""One lowering rule per supported aten overload: the ops of a ``torch.export`` program.

torch.export writes a model as aten calls (``aten.conv2d.default``, ``aten.batch_norm.default``,
``aten.add.Tensor``, ...) with parameters read by ``get_attr`` nodes; its nodes are fx nodes with
shapes already propagated, so these rules call the torch.fx rules' lowerings directly
(lower_rules.py, elementwise_rules.py, pointwise_rules.py, resample_rules.py) and batch norm goes
through channel_affine.py, which folds it into the conv or linear before it. ``RULES`` is the
single list of what dian reads from an exported program; error messages print it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.fx as fx

from dian.ir import Concat, Conv2d, Linear

from . import bn_fold
from .builder import Builder, Rule, unsupported
from .builder import node_arg as arg
from .channel_affine import lower_channel_affine
from .channel_rules import select
from .elementwise_rules import lower_add_sub, lower_affine, lower_div, lower_mul
from .lower_rules import lower_adaptive_avg, lower_avgpool, lower_clamp, lower_maxpool, lower_mean, lower_reshape
from .pointwise_rules import lower_pointwise
from .resample_rules import lower_upsample

aten = torch.ops.aten


def const(b: Builder, node: fx.Node, a: Any, what: str, required: bool = True) -> np.ndarray | None:
    """The constant tensor (a parameter or buffer read by ``get_attr``) behind argument ``a``."""
    value = b.env.get(a) if isinstance(a, fx.Node) else None
    if isinstance(value, torch.Tensor):
        return value.detach().double().numpy()
    if a is None and not required:
        return None
    raise unsupported(node, f"its {what} is not a parameter or buffer of the model", f"dian needs the {what} constant")


def _pair(v: Any) -> tuple[int, int]:
    t = (v,) if isinstance(v, int) else tuple(int(x) for x in v)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


def _conv(
    b: Builder, n: fx.Node, x: Any, w: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any
) -> str:
    weight = const(b, n, w, "weight")
    assert weight is not None
    if weight.ndim != 4:
        raise unsupported(n, f"a {weight.ndim - 2}-D convolution", "dian convolves in 2-D (NCHW)")
    if isinstance(padding, str):
        total = [d * (k - 1) for d, k in zip(_pair(dilation), weight.shape[2:], strict=True)]
        if padding == "same" and any(t % 2 for t in total):
            raise unsupported(n, "padding='same' with an even kernel", "dian pads symmetrically")
        padding = (0, 0) if padding == "valid" else (total[0] // 2, total[1] // 2)
    bvals = const(b, n, bias, "bias", required=False)
    return b.emit(
        Conv2d,
        n,
        [b.tensor(x, n)],
        weight=b.const(n.name, "weight", weight),
        bias=None if bvals is None else b.const(n.name, "bias", bvals),
        stride=_pair(stride),
        padding=_pair(padding),
        dilation=_pair(dilation),
        groups=int(groups),
    )


def _conv2d(b: Builder, n: fx.Node) -> str:
    a = [arg(n, i, k, d) for i, (k, d) in enumerate(_CONV_ARGS)]
    return _conv(b, n, a[0], a[1], a[2], a[3], a[4], a[5], a[6])


_CONV_ARGS = (
    ("input", None),
    ("weight", None),
    ("bias", None),
    ("stride", 1),
    ("padding", 0),
    ("dilation", 1),
    ("groups", 1),
)


def _convolution(b: Builder, n: fx.Node) -> str:
    if arg(n, 6, "transposed", False):
        raise unsupported(n, "a transposed convolution", "dian lowers forward convolutions")
    a = n.args
    return _conv(b, n, a[0], a[1], a[2], a[3], a[4], a[5], arg(n, 8, "groups", 1))


def _linear(b: Builder, n: fx.Node) -> str:
    x = b.tensor(n.args[0], n)
    if len(b.tensors[x].shape) != 2:
        raise unsupported(n, f"linear on a rank-{len(b.tensors[x].shape)} input", "dian's Linear takes [N, features]")
    w = const(b, n, n.args[1], "weight")
    bias = const(b, n, arg(n, 2, "bias"), "bias", required=False)
    bias_name = None if bias is None else b.const(n.name, "bias", bias)
    return b.emit(Linear, n, [x], weight=b.const(n.name, "weight", w), bias=bias_name)  # type: ignore[arg-type]


def _matmul(b: Builder, n: fx.Node, bias: Any, x: Any, w_t: Any, beta: Any = 1, alpha: Any = 1) -> str:
    """``beta * bias + alpha * (x @ w_t)``: a decomposed linear (``addmm``/``mm`` of a transposed weight)."""
    w = const(b, n, w_t, "weight (right operand)")
    if w is None or w.ndim != 2:
        raise unsupported(n, "a matrix product of two activations", "dian multiplies by constant weights")
    bvals = const(b, n, bias, "bias", required=False)
    name = b.tensor(x, n)
    return b.emit(
        Linear,
        n,
        [name],
        weight=b.const(n.name, "weight", w.T * float(alpha)),
        bias=None if bvals is None else b.const(n.name, "bias", np.broadcast_to(bvals * float(beta), (w.shape[1],))),
    )


def _batchnorm(b: Builder, n: fx.Node, training: bool, eps: Any) -> str:
    if training:
        raise unsupported(
            n, "batch norm in training mode", "export the model in eval mode (model.eval() before torch.export.export)"
        )
    stats = [const(b, n, arg(n, i, k), k, required=k in ("running_mean", "running_var")) for i, k in _BN_ARGS]
    if stats[2] is None or stats[3] is None:
        raise unsupported(n, "batch norm without running statistics", "dian folds batch norms with running statistics")
    scale, shift = bn_fold.affine_from_stats(stats[2], stats[3], stats[0], stats[1], float(eps))
    return lower_channel_affine(b, n, n.args[0], scale, shift)


_BN_ARGS = ((1, "weight"), (2, "bias"), (3, "running_mean"), (4, "running_var"))


def _number_or_node(b: Builder, n: fx.Node, v: Any) -> Any:
    """A scalar tensor constant as a Python number; anything else as it is."""
    c = b.env.get(v) if isinstance(v, fx.Node) else None
    if isinstance(c, torch.Tensor) and c.numel() == 1:
        return float(c.reshape(-1)[0])
    return v


def _binary(fn: Callable[..., str], **fixed: Any) -> Rule:
    return lambda b, n: fn(b, n, _number_or_node(b, n, n.args[0]), _number_or_node(b, n, n.args[1]), **fixed)


def _add(subtract: bool) -> Rule:
    return lambda b, n: lower_add_sub(
        b, n, _number_or_node(b, n, n.args[0]), _number_or_node(b, n, n.args[1]), arg(n, 2, "alpha", 1), subtract
    )


def _prelu(b: Builder, n: fx.Node) -> str:
    slopes = const(b, n, n.args[1], "weight")
    return lower_pointwise(b, n, n.args[0], "prelu", *slopes.reshape(-1).tolist())  # type: ignore[union-attr]


def _pointwise(fn: str, *defaults: tuple[str, float]) -> Rule:
    return lambda b, n: lower_pointwise(
        b, n, n.args[0], fn, *(arg(n, i + 1, k, d) for i, (k, d) in enumerate(defaults))
    )


def _gelu(b: Builder, n: fx.Node) -> str:
    approx = arg(n, 1, "approximate", "none")
    if approx not in ("none", "tanh"):
        raise unsupported(n, f"GELU with approximate={approx!r}", "dian supports 'none' and 'tanh'")
    return lower_pointwise(b, n, n.args[0], "gelu" if approx == "none" else "gelu_tanh")


def _elu(b: Builder, n: fx.Node) -> str:
    if arg(n, 2, "scale", 1) != 1 or arg(n, 3, "input_scale", 1) != 1:
        raise unsupported(n, "ELU with scale or input_scale (SELU/CELU)", "dian supports plain ELU")
    return lower_pointwise(b, n, n.args[0], "elu", arg(n, 1, "alpha", 1.0))


def _cat(b: Builder, n: fx.Node) -> str:
    names = [b.tensor(t, n) for t in n.args[0]]  # type: ignore[union-attr]
    dim = int(arg(n, 1, "dim", 0)) % len(b.tensors[names[0]].shape)
    if dim == 0:
        raise unsupported(
            n, "concatenation along dimension 0 (the batch)", "dian concatenates along dimensions 1 and up"
        )
    return b.emit(Concat, n, names, axis=dim)


def _dropout(b: Builder, n: fx.Node) -> str:
    if arg(n, 2, "train", False):
        raise unsupported(n, "dropout in training mode", "export the model in eval mode")
    return b.tensor(n.args[0], n)


def _getitem(b: Builder, n: fx.Node) -> str:
    src, index = n.args
    if index != 0 or not isinstance(src, fx.Node) or src.target not in _TUPLE_OPS:
        raise unsupported(n, f"item {index} of a multi-output op", "dian reads the first output of batch norm only")
    return b.tensor(src, n)


_TUPLE_OPS = (aten._native_batch_norm_legit_no_training.default,)


def _maxpool(b: Builder, n: fx.Node) -> str:
    keys = (
        ("self", None),
        ("kernel_size", None),
        ("stride", ()),
        ("padding", 0),
        ("dilation", 1),
        ("ceil_mode", False),
    )
    a = [arg(n, i, k, d) for i, (k, d) in enumerate(keys)]
    return lower_maxpool(b, n, a[0], a[1], a[2], a[3], a[4], a[5], False)


def _avgpool(b: Builder, n: fx.Node) -> str:
    keys = (("kernel_size", None), ("stride", ()), ("padding", 0), ("ceil_mode", False), ("count_include_pad", True))
    a = [arg(n, i + 1, k, d) for i, (k, d) in enumerate(keys)]
    return lower_avgpool(b, n, n.args[0], a[0], a[1], a[2], a[3], a[4], arg(n, 6, "divisor_override"))


def _slice(b: Builder, n: fx.Node) -> str:
    x = b.tensor(n.args[0], n)
    shape = b.tensors[x].shape
    dim, start, end, step = (arg(n, i, k, d) for i, (k, d) in enumerate(_SLICE_ARGS, start=1))
    kept = tuple(range(shape[int(dim) % len(shape)]))[slice(start, end, step)]
    if int(dim) % len(shape) == 1:
        return select(b, n, x, kept)
    if kept == tuple(range(shape[int(dim) % len(shape)])):
        return x
    raise unsupported(n, f"a slice along dimension {dim}", "dian slices along the channels (dimension 1)")


_SLICE_ARGS = (("dim", 0), ("start", None), ("end", None), ("step", 1))


def _identity(b: Builder, n: fx.Node) -> str:
    return b.tensor(n.args[0], n)


def _reshape(b: Builder, n: fx.Node) -> str:
    return lower_reshape(b, n, n.args[0])


RULES: dict[Any, Rule] = {
    aten.conv2d.default: _conv2d,
    aten.conv2d.padding: _conv2d,
    aten.convolution.default: _convolution,
    aten.linear.default: _linear,
    aten.addmm.default: lambda b, n: _matmul(b, n, *n.args, **n.kwargs),
    aten.mm.default: lambda b, n: _matmul(b, n, None, *n.args),
    aten.batch_norm.default: lambda b, n: _batchnorm(b, n, bool(arg(n, 5, "training")), arg(n, 7, "eps")),
    aten._native_batch_norm_legit_no_training.default: lambda b, n: _batchnorm(b, n, False, arg(n, 6, "eps")),
    operator.getitem: _getitem,
    aten.relu.default: lambda b, n: lower_clamp(b, n, n.args[0], 0.0, None),
    aten.relu_.default: lambda b, n: lower_clamp(b, n, n.args[0], 0.0, None),
    aten.hardtanh.default: lambda b, n: lower_clamp(
        b, n, n.args[0], arg(n, 1, "min_val", -1.0), arg(n, 2, "max_val", 1.0)
    ),
    aten.hardtanh_.default: lambda b, n: lower_clamp(
        b, n, n.args[0], arg(n, 1, "min_val", -1.0), arg(n, 2, "max_val", 1.0)
    ),
    aten.relu6.default: lambda b, n: lower_clamp(b, n, n.args[0], 0.0, 6.0),
    aten.clamp.default: lambda b, n: lower_clamp(b, n, n.args[0], arg(n, 1, "min"), arg(n, 2, "max")),
    aten.clip.default: lambda b, n: lower_clamp(b, n, n.args[0], arg(n, 1, "min"), arg(n, 2, "max")),
    aten.add.Tensor: _add(False),
    aten.add.Scalar: _add(False),
    aten.add_.Tensor: _add(False),
    aten.sub.Tensor: _add(True),
    aten.sub.Scalar: _add(True),
    aten.rsub.Scalar: lambda b, n: lower_add_sub(b, n, arg(n, 1, "other"), n.args[0], arg(n, 2, "alpha", 1), True),
    aten.mul.Tensor: _binary(lower_mul),
    aten.mul.Scalar: _binary(lower_mul),
    aten.div.Tensor: _binary(lower_div),
    aten.div.Scalar: _binary(lower_div),
    aten.neg.default: lambda b, n: lower_affine(b, n, n.args[0], -1.0, 0.0),
    aten.sigmoid.default: _pointwise("sigmoid"),
    aten.tanh.default: _pointwise("tanh"),
    aten.silu.default: _pointwise("silu"),
    aten.hardswish.default: _pointwise("hardswish"),
    aten.hardsigmoid.default: _pointwise("hardsigmoid"),
    aten.mish.default: _pointwise("mish"),
    aten.gelu.default: _gelu,
    aten.softplus.default: _pointwise("softplus", ("beta", 1.0), ("threshold", 20.0)),
    aten.leaky_relu.default: _pointwise("leaky_relu", ("negative_slope", 0.01)),
    aten.elu.default: _elu,
    aten.prelu.default: _prelu,
    aten._prelu_kernel.default: _prelu,
    aten.max_pool2d.default: _maxpool,
    aten.avg_pool2d.default: _avgpool,
    aten.adaptive_avg_pool2d.default: lambda b, n: lower_adaptive_avg(b, n, n.args[0], n.args[1]),
    aten.mean.dim: lambda b, n: lower_mean(b, n, n.args[0], arg(n, 1, "dim"), bool(arg(n, 2, "keepdim", False))),
    aten.cat.default: _cat,
    aten.slice.Tensor: _slice,
    aten.upsample_nearest2d.vec: lambda b, n: lower_upsample(b, n, n.args[0], "nearest"),
    aten.upsample_nearest2d.default: lambda b, n: lower_upsample(b, n, n.args[0], "nearest"),
    aten.flatten.using_ints: _reshape,
    aten.view.default: _reshape,
    aten.reshape.default: _reshape,
    aten._unsafe_view.default: _reshape,
    aten.squeeze.dim: _reshape,
    aten.unsqueeze.default: _reshape,
    aten.dropout.default: _dropout,
    aten.clone.default: _identity,
    aten.contiguous.default: _identity,
    aten.alias.default: _identity,
    aten.detach.default: _identity,
}


def supported_summary() -> str:
    names = sorted({str(k).removeprefix("aten.") for k in RULES if k is not operator.getitem})
    return f"dian reads the aten ops {', '.join(names)} from an exported program"
