"""One lowering rule per supported torch module, function and method.

Each rule turns one fx node into zero or more IR ops and returns the IR tensor
name holding the node's value (rules for identities return their input's
name). The tables at the bottom are the single list of what dian supports
(the README's "Supported ops" table describes them; error messages point there).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from dian.ir import Add as AddOp
from dian.ir import AvgPool2d, Clamp, Concat, Conv2d, GlobalAvgPool, Linear, MaxPool2d, Reshape

from . import (
    bn_fold,
    channel_rules,
    conv1d_rules,
    elementwise_rules,
    pointwise_rules,
    resample_rules,
    transpose_conv_rules,
)
from .builder import Builder, Rule, describe_location
from .builder import node_arg as _arg
from .builder import node_module as _module
from .builder import unsupported as _unsupported


def _pair(v: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    t = tuple(int(x) for x in v)
    return (t[0], t[0]) if len(t) == 1 else (t[0], t[1])


# -- shared lowerings ---------------------------------------------------------
def lower_clamp(b: Builder, node: fx.Node, x: Any, lo: Any, hi: Any) -> str:
    for v in (lo, hi):
        if v is not None and not isinstance(v, (int, float)):
            raise _unsupported(
                node, f"clamp bound {v!r} is not a number", "clamp bounds must be Python numbers or None"
            )
    lo = None if lo is None else float(lo)
    hi = None if hi is None else float(hi)
    return b.emit(Clamp, node, [b.tensor(x, node)], min_value=lo, max_value=hi)


def lower_maxpool(
    b: Builder,
    node: fx.Node,
    x: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> str:
    if _pair(dilation) != (1, 1) or return_indices:
        raise _unsupported(
            node,
            f"max pooling with dilation={dilation}, return_indices={return_indices}",
            "dian supports dilation 1, no indices",
        )
    x = b.nchw(x, node, "max pooling")
    k = _pair(kernel)
    s = k if stride is None or stride == [] or stride == () else _pair(stride)
    return b.emit(MaxPool2d, node, [x], kernel=k, stride=s, padding=_pair(padding), ceil_mode=bool(ceil_mode))


def lower_avgpool(
    b: Builder,
    node: fx.Node,
    x: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
) -> str:
    x = b.nchw(x, node, "average pooling")
    k = _pair(kernel)
    s = k if stride is None or stride == [] or stride == () else _pair(stride)
    if ceil_mode:  # harmless when rounding up adds no window (PyTorch's divisor differs only there)
        h, w = b.tensors[x].shape[2:]
        p = _pair(padding)
        floor = tuple((n + 2 * q - kk) // ss + 1 for n, q, kk, ss in zip((h, w), p, k, s, strict=True))
        ceil_mode = floor != b.shape(node)[2:]
    if ceil_mode or not count_include_pad or divisor_override is not None:
        raise _unsupported(
            node,
            f"average pooling with ceil_mode={ceil_mode}, count_include_pad={count_include_pad}, "
            f"divisor_override={divisor_override}",
            "dian supports count_include_pad True, divisor_override None, and ceil_mode only where it adds "
            "no window (a window past the edge divides by fewer elements)",
        )
    return b.emit(AvgPool2d, node, [x], kernel=k, stride=s, padding=_pair(padding))


def lower_adaptive_avg(b: Builder, node: fx.Node, x: Any, output_size: Any) -> str:
    name = b.nchw(x, node, "adaptive average pooling")
    _, _, h, w = b.tensors[name].shape
    oh, ow = b.shape(node)[2:]
    if (oh, ow) == (h, w):
        return name
    if (oh, ow) == (1, 1):
        return b.emit(GlobalAvgPool, node, [name])
    if h % oh == 0 and w % ow == 0:  # equal, non-overlapping windows: a plain average pool
        k = (h // oh, w // ow)
        return b.emit(AvgPool2d, node, [name], kernel=k, stride=k, padding=(0, 0))
    raise _unsupported(
        node,
        f"adaptive average pooling from {h}x{w} to {oh}x{ow}",
        "dian supports output 1x1, output equal to the input, or an input divisible by the output",
    )


def lower_reshape(b: Builder, node: fx.Node, x: Any) -> Any:
    view = channel_rules.reshape_view(b, node, x)  # splitting or merging channel groups
    if view is not None:
        return view
    name = b.tensor(x, node)
    in_shape, out_shape = b.tensors[name].shape, b.shape(node)
    if out_shape == in_shape:
        return name
    if out_shape[:1] != in_shape[:1]:
        raise _unsupported(
            node,
            f"reshape {list(in_shape)} -> {list(out_shape)} changes the batch dimension",
            "reshapes and flattens must keep dimension 0 (the batch), e.g. torch.flatten(x, 1)",
        )
    return b.emit(Reshape, node, [name], shape=out_shape)


def lower_add(b: Builder, node: fx.Node, x: Any, y: Any, alpha: Any = 1) -> str:
    if alpha != 1:
        raise _unsupported(node, f"add with alpha={alpha}", "dian supports plain sums (alpha=1)")
    a, c = b.tensor(x, node, "first operand"), b.tensor(y, node, "second operand")
    if b.tensors[a].shape != b.tensors[c].shape:
        raise _unsupported(
            node,
            f"add of shapes {list(b.tensors[a].shape)} and {list(b.tensors[c].shape)}",
            "dian adds two tensors of the same shape (no broadcasting)",
        )
    return b.emit(AddOp, node, [a, c])


def lower_mean(b: Builder, node: fx.Node, x: Any, dim: Any, keepdim: bool) -> str:
    name = b.tensor(x, node)
    rank = len(b.tensors[name].shape)
    dims = sorted(int(d) % rank for d in ((dim,) if isinstance(dim, int) else (dim or ())))
    if rank == 3 and dims == [2]:
        return conv1d_rules.global_average(b, node, x, keepdim)
    if rank != 4 or dims != [2, 3]:
        raise _unsupported(
            node,
            f"mean over dims {dim} of a rank-{rank} tensor",
            "dian supports the spatial mean x.mean((2, 3)) of NCHW tensors and x.mean(2) of [N, C, L] ones",
        )
    if keepdim:
        return b.emit(GlobalAvgPool, node, [name])
    n, c = b.tensors[name].shape[:2]
    pooled = b.emit(GlobalAvgPool, node, [name], name=b.fresh(f"{node.name}_pool"), out_shape=(n, c, 1, 1))
    return b.emit(Reshape, node, [pooled], shape=(n, c))


# -- modules ------------------------------------------------------------------
def _conv_padding(node: fx.Node, m: nn.Conv2d) -> tuple[int, int]:
    if m.padding_mode != "zeros":
        raise _unsupported(node, f"nn.Conv2d with padding_mode='{m.padding_mode}'", "dian supports zero padding only")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return (0, 0)
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
        if any(t % 2 for t in total):
            raise _unsupported(
                node,
                "nn.Conv2d padding='same' with an even effective kernel (asymmetric padding)",
                "dian supports symmetric zero padding; pass explicit integer padding",
            )
        return (total[0] // 2, total[1] // 2)
    return _pair(m.padding)


def _folded_params(b: Builder, node: fx.Node, m: nn.Conv2d | nn.Linear) -> tuple[np.ndarray, np.ndarray | None]:
    w = m.weight.detach().numpy().astype(np.float32)
    bias = None if m.bias is None else m.bias.detach().numpy().astype(np.float32)
    bn_node = b.folded.get(node)
    if bn_node is not None:
        w, bias = bn_fold.fold_into(w, bias, _module(b, bn_node), describe_location(bn_node))  # type: ignore[arg-type]
    return w, bias


def conv2d_module(b: Builder, node: fx.Node) -> str:
    m: nn.Conv2d = _module(b, node)  # type: ignore[assignment]
    padding = _conv_padding(node, m)
    x = b.nchw(node.args[0], node, "nn.Conv2d")
    w, bias = _folded_params(b, node, m)
    return b.emit(
        Conv2d,
        node,
        [x],
        weight=b.const(node.name, "weight", w),
        bias=None if bias is None else b.const(node.name, "bias", bias),
        stride=_pair(m.stride),
        padding=padding,
        dilation=_pair(m.dilation),
        groups=int(m.groups),
    )


def linear_module(b: Builder, node: fx.Node) -> str:
    m: nn.Linear = _module(b, node)  # type: ignore[assignment]
    x = b.tensor(node.args[0], node)
    if len(b.tensors[x].shape) != 2:
        raise _unsupported(
            node,
            f"nn.Linear on a rank-{len(b.tensors[x].shape)} input {list(b.tensors[x].shape)}",
            "dian's Linear takes [N, features]; flatten first, e.g. torch.flatten(x, 1)",
        )
    w, bias = _folded_params(b, node, m)
    return b.emit(
        Linear,
        node,
        [x],
        weight=b.const(node.name, "weight", w),
        bias=None if bias is None else b.const(node.name, "bias", bias),
    )


def batchnorm_module(b: Builder, node: fx.Node) -> str:
    src = node.args[0]
    if isinstance(src, fx.Node) and b.folded.get(src) is node:
        return b.tensor(src, node)  # already folded into its producer
    m = _module(b, node)
    x = b.tensor(src, node)
    rank = len(b.tensors[x].shape)
    if isinstance(m, nn.BatchNorm1d) and rank == 3:
        return conv1d_rules.batchnorm_on_sequence(b, node, m)
    if (rank != 4) if isinstance(m, nn.BatchNorm2d) else (rank != 2):
        raise _unsupported(
            node,
            f"{type(m).__name__} on a rank-{rank} input",
            "dian supports BatchNorm2d on NCHW and BatchNorm1d on [N, C] and [N, C, L] tensors",
        )
    w, bias = bn_fold.standalone(m, describe_location(node))  # type: ignore[arg-type]
    wname, bname = b.const(node.name, "weight", w), b.const(node.name, "bias", bias)
    if isinstance(m, nn.BatchNorm2d):
        return b.emit(Conv2d, node, [x], weight=wname, bias=bname, groups=int(w.shape[0]))
    return b.emit(Linear, node, [x], weight=wname, bias=bname)


def _hardtanh_module(b: Builder, node: fx.Node) -> str:
    m: nn.Hardtanh = _module(b, node)  # type: ignore[assignment]
    return lower_clamp(b, node, node.args[0], m.min_val, m.max_val)


def _maxpool_module(b: Builder, node: fx.Node) -> str:
    m: nn.MaxPool2d = _module(b, node)  # type: ignore[assignment]
    return lower_maxpool(
        b, node, node.args[0], m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices
    )


def _avgpool_module(b: Builder, node: fx.Node) -> str:
    m: nn.AvgPool2d = _module(b, node)  # type: ignore[assignment]
    return lower_avgpool(
        b, node, node.args[0], m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
    )


def _identity(b: Builder, node: fx.Node) -> str:
    return b.tensor(node.args[0], node)


MODULE_RULES: dict[type[nn.Module], tuple[str, Rule]] = {
    nn.Conv2d: ("nn.Conv2d", conv2d_module),
    nn.Linear: ("nn.Linear", linear_module),
    nn.BatchNorm2d: ("nn.BatchNorm2d", batchnorm_module),
    nn.BatchNorm1d: ("nn.BatchNorm1d", batchnorm_module),
    nn.ReLU: ("nn.ReLU", lambda b, n: lower_clamp(b, n, n.args[0], 0.0, None)),
    nn.ReLU6: ("nn.ReLU6", lambda b, n: lower_clamp(b, n, n.args[0], 0.0, 6.0)),
    nn.Hardtanh: ("nn.Hardtanh", _hardtanh_module),
    **pointwise_rules.MODULE_RULES,
    **resample_rules.MODULE_RULES,
    **conv1d_rules.MODULE_RULES,
    **transpose_conv_rules.MODULE_RULES,
    nn.MaxPool2d: ("nn.MaxPool2d", _maxpool_module),
    nn.AvgPool2d: ("nn.AvgPool2d", _avgpool_module),
    nn.AdaptiveAvgPool2d: (
        "nn.AdaptiveAvgPool2d",
        lambda b, n: lower_adaptive_avg(b, n, n.args[0], _module(b, n).output_size),
    ),
    nn.Flatten: ("nn.Flatten", lambda b, n: lower_reshape(b, n, n.args[0])),
    nn.Identity: ("nn.Identity", _identity),
    nn.Dropout: ("nn.Dropout", _identity),
    nn.Dropout2d: ("nn.Dropout2d", _identity),
}


# -- functions and methods ---------------------------------------------------
def _dropout_fn(b: Builder, node: fx.Node) -> str:
    if _arg(node, 2, "training", True):
        raise _unsupported(node, "F.dropout with training=True", "dropout must be inactive (training=False) to lower")
    return _identity(b, node)


def _clamp_call(b: Builder, n: fx.Node) -> str:
    return lower_clamp(b, n, n.args[0], _arg(n, 1, "min"), _arg(n, 2, "max"))


def _hardtanh_call(b: Builder, n: fx.Node) -> str:
    return lower_clamp(b, n, n.args[0], _arg(n, 1, "min_val", -1.0), _arg(n, 2, "max_val", 1.0))


def _relu_call(b: Builder, n: fx.Node) -> str:
    return lower_clamp(b, n, n.args[0], 0.0, None)


def _add_call(b: Builder, n: fx.Node) -> str:
    return lower_add(b, n, n.args[0], _arg(n, 1, "other"), n.kwargs.get("alpha", 1))


def _cat(b: Builder, n: fx.Node) -> str:
    tensors, dim = _arg(n, 0, "tensors"), int(_arg(n, 1, "dim", 0))
    names = [b.tensor(t, n) for t in tensors]
    rank = len(b.tensors[names[0]].shape)
    if dim % rank == 0:
        raise _unsupported(n, "torch.cat along dimension 0 (the batch)", "dian concatenates along dimensions 1 and up")
    return b.emit(Concat, n, names, axis=dim % rank)


def _maxpool_call(b: Builder, n: fx.Node) -> str:
    return lower_maxpool(
        b,
        n,
        n.args[0],
        _arg(n, 1, "kernel_size"),
        _arg(n, 2, "stride"),
        _arg(n, 3, "padding", 0),
        _arg(n, 4, "dilation", 1),
        _arg(n, 5, "ceil_mode", False),
        _arg(n, 6, "return_indices", False),
    )


def _avgpool_call(b: Builder, n: fx.Node) -> str:
    return lower_avgpool(
        b,
        n,
        n.args[0],
        _arg(n, 1, "kernel_size"),
        _arg(n, 2, "stride"),
        _arg(n, 3, "padding", 0),
        _arg(n, 4, "ceil_mode", False),
        _arg(n, 5, "count_include_pad", True),
        _arg(n, 6, "divisor_override"),
    )


def _mean_call(b: Builder, n: fx.Node) -> str:
    return lower_mean(b, n, n.args[0], _arg(n, 1, "dim"), bool(_arg(n, 2, "keepdim", False)))


FUNCTION_RULES: dict[Any, tuple[str, Rule]] = {
    F.relu: ("F.relu", _relu_call),
    torch.relu: ("torch.relu", _relu_call),
    F.relu6: ("F.relu6", lambda b, n: lower_clamp(b, n, n.args[0], 0.0, 6.0)),
    F.hardtanh: ("F.hardtanh", _hardtanh_call),
    torch.clamp: ("torch.clamp", _clamp_call),
    torch.clip: ("torch.clip", _clamp_call),
    **pointwise_rules.FUNCTION_RULES,
    F.max_pool2d: ("F.max_pool2d", _maxpool_call),
    F.avg_pool2d: ("F.avg_pool2d", _avgpool_call),
    F.adaptive_avg_pool2d: (
        "F.adaptive_avg_pool2d",
        lambda b, n: lower_adaptive_avg(b, n, n.args[0], _arg(n, 1, "output_size")),
    ),
    operator.add: ("operator.add (a + b)", _add_call),
    operator.iadd: ("operator.iadd (a += b)", _add_call),
    torch.add: ("torch.add", _add_call),
    torch.cat: ("torch.cat", _cat),
    torch.flatten: ("torch.flatten", lambda b, n: lower_reshape(b, n, n.args[0])),
    torch.reshape: ("torch.reshape", lambda b, n: lower_reshape(b, n, n.args[0])),
    torch.squeeze: ("torch.squeeze", lambda b, n: lower_reshape(b, n, n.args[0])),
    torch.unsqueeze: ("torch.unsqueeze", lambda b, n: lower_reshape(b, n, n.args[0])),
    torch.mean: ("torch.mean over (2, 3)", _mean_call),
    F.dropout: ("F.dropout (eval)", _dropout_fn),
    **elementwise_rules.FUNCTION_RULES,
    **resample_rules.FUNCTION_RULES,
    **channel_rules.FUNCTION_RULES,
    **conv1d_rules.FUNCTION_RULES,
}

METHOD_RULES: dict[str, Rule] = {
    "relu": _relu_call,
    "relu_": _relu_call,
    "clamp": _clamp_call,
    "clamp_": _clamp_call,
    "clip": _clamp_call,
    **pointwise_rules.METHOD_RULES,
    "add": _add_call,
    "add_": _add_call,
    "view": lambda b, n: lower_reshape(b, n, n.args[0]),
    "reshape": lambda b, n: lower_reshape(b, n, n.args[0]),
    "flatten": lambda b, n: lower_reshape(b, n, n.args[0]),
    "squeeze": lambda b, n: lower_reshape(b, n, n.args[0]),
    "unsqueeze": lambda b, n: lower_reshape(b, n, n.args[0]),
    "contiguous": _identity,
    "mean": _mean_call,
    **elementwise_rules.METHOD_RULES,
    **channel_rules.METHOD_RULES,
}

#: Non-tensor fx values allowed as reshape arguments: ``x.size()``, ``x.shape`` and
#: integer arithmetic on them.
SHAPE_METHODS = ("size", "dim")
SHAPE_FUNCTIONS = (getattr, operator.getitem, operator.mul, operator.floordiv, operator.add, operator.sub, len)
