"""Lowering rules of 1-D layers on [N, C, L] tensors: ``nn.Conv1d``, ``nn.BatchNorm1d`` on
sequences, ``nn.MaxPool1d`` / ``nn.AvgPool1d`` (and their ``F.`` functions),
``nn.AdaptiveAvgPool1d(1)`` and ``x.mean(-1)``. lower_rules.py merges these tables into its own.

Each is its 2-D op on the tensor viewed as [N, C, 1, L]: a reshape in, the op with a 1 x k window,
a reshape back. Reshapes move no data (the accelerator reads [N, C, L] and [N, C, 1, L] in the
same channel-blocked layout), so a 1-D net runs as the H = 1 case of the 2-D machinery, and
rank-agnostic ops (ReLU, tables, add) work on the 1-D tensors as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from dian.ir import AvgPool2d, Conv2d, GlobalAvgPool, MaxPool2d, Reshape

from . import bn_fold
from .builder import Builder, Rule, describe_location, node_arg, node_module, unsupported

#: Emits the 2-D op reading the [N, C, 1, L] tensor named by the first argument, as an op named by
#: the second with the [N, K, 1, L'] output shape given third; returns its output's name.
Emit2d = Callable[[str, str, tuple[int, ...]], str]


def _one(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def on_sequence(
    b: Builder, node: fx.Node, x: Any, what: str, emit: Emit2d, out_shape: tuple[int, ...] | None = None
) -> str:
    """Reshape ``x`` [N, C, L] to [N, C, 1, L], ``emit`` the 2-D op, reshape to ``node``'s shape."""
    name = b.tensor(x, node)
    shape = b.tensors[name].shape
    if len(shape) != 3:
        raise unsupported(node, f"{what} on a rank-{len(shape)} input {list(shape)}", f"{what} takes [N, C, L]")
    n, c, length = shape
    out = out_shape if out_shape is not None else b.shape(node)
    x4 = b.emit(
        Reshape, node, [name], name=b.fresh(f"{node.name}_in2d"), out_shape=(n, c, 1, length), shape=(n, c, 1, length)
    )
    y4 = emit(
        x4, b.fresh(f"{node.name}_2d"), (out[0], out[1], 1, *out[2:3]) if len(out) == 3 else (out[0], out[1], 1, 1)
    )
    return b.emit(Reshape, node, [y4], out_shape=out, shape=out)


def _conv1d_padding(node: fx.Node, m: nn.Conv1d) -> int:
    if m.padding_mode != "zeros":
        raise unsupported(node, f"nn.Conv1d with padding_mode='{m.padding_mode}'", "dian supports zero padding only")
    if m.padding == "valid":
        return 0
    if m.padding == "same":
        total = _one(m.dilation) * (_one(m.kernel_size) - 1)
        if total % 2:
            raise unsupported(
                node, "nn.Conv1d padding='same' with an even effective kernel", "pass explicit integer padding"
            )
        return total // 2
    return _one(m.padding)


def _conv1d_module(b: Builder, node: fx.Node) -> str:
    m: nn.Conv1d = node_module(b, node)  # type: ignore[assignment]
    pad = _conv1d_padding(node, m)
    w = m.weight.detach().numpy().astype(np.float32)
    bias = None if m.bias is None else m.bias.detach().numpy().astype(np.float32)
    bn_node = b.folded.get(node)
    if bn_node is not None:
        w, bias = bn_fold.fold_into(w, bias, node_module(b, bn_node), describe_location(bn_node))  # type: ignore[arg-type]

    def emit(x4: str, name: str, out: tuple[int, ...]) -> str:
        return b.emit(
            Conv2d,
            node,
            [x4],
            name=name,
            out_shape=out,
            weight=b.const(name, "weight", w[:, :, None, :]),
            bias=None if bias is None else b.const(name, "bias", bias),
            stride=(1, _one(m.stride)),
            padding=(0, pad),
            dilation=(1, _one(m.dilation)),
            groups=int(m.groups),
        )

    return on_sequence(b, node, node.args[0], "nn.Conv1d", emit)


def batchnorm_on_sequence(b: Builder, node: fx.Node, m: nn.BatchNorm1d) -> str:
    """A BatchNorm1d on [N, C, L] with no conv to fold into: a depthwise 1 x 1 conv."""
    scale, shift = (v.astype(np.float32) for v in bn_fold.bn_affine(m, describe_location(node)))

    def emit(x4: str, name: str, out: tuple[int, ...]) -> str:
        weight = b.const(name, "weight", scale.reshape(-1, 1, 1, 1))
        return b.emit(
            Conv2d,
            node,
            [x4],
            name=name,
            out_shape=out,
            weight=weight,
            bias=b.const(name, "bias", shift),
            groups=len(scale),
        )

    return on_sequence(b, node, node.args[0], "nn.BatchNorm1d", emit)


def _pool(
    b: Builder, node: fx.Node, x: Any, kind: str, kernel: Any, stride: Any, padding: Any, extra: dict[str, Any]
) -> str:
    k = _one(kernel)
    s = k if stride is None or stride in ([], ()) else _one(stride)
    p = _one(padding)
    if kind == "max":
        if _one(extra.get("dilation", 1)) != 1 or extra.get("return_indices"):
            raise unsupported(node, "max pooling with dilation or indices", "dian supports dilation 1, no indices")

        def emit(x4: str, name: str, out: tuple[int, ...]) -> str:
            return b.emit(
                MaxPool2d,
                node,
                [x4],
                name=name,
                out_shape=out,
                kernel=(1, k),
                stride=(1, s),
                padding=(0, p),
                ceil_mode=bool(extra.get("ceil_mode", False)),
            )
    else:
        if extra.get("ceil_mode") or not extra.get("count_include_pad", True):
            raise unsupported(
                node, "1-D average pooling with ceil_mode or count_include_pad=False", "dian supports the defaults"
            )

        def emit(x4: str, name: str, out: tuple[int, ...]) -> str:
            return b.emit(AvgPool2d, node, [x4], name=name, out_shape=out, kernel=(1, k), stride=(1, s), padding=(0, p))

    return on_sequence(b, node, x, f"1-D {kind} pooling", emit)


def _maxpool1d_module(b: Builder, node: fx.Node) -> str:
    m: nn.MaxPool1d = node_module(b, node)  # type: ignore[assignment]
    extra = {"dilation": m.dilation, "return_indices": m.return_indices, "ceil_mode": m.ceil_mode}
    return _pool(b, node, node.args[0], "max", m.kernel_size, m.stride, m.padding, extra)


def _avgpool1d_module(b: Builder, node: fx.Node) -> str:
    m: nn.AvgPool1d = node_module(b, node)  # type: ignore[assignment]
    extra = {"ceil_mode": m.ceil_mode, "count_include_pad": m.count_include_pad}
    return _pool(b, node, node.args[0], "avg", m.kernel_size, m.stride, m.padding, extra)


def _maxpool1d_call(b: Builder, n: fx.Node) -> str:
    extra = {
        "dilation": node_arg(n, 4, "dilation", 1),
        "ceil_mode": node_arg(n, 5, "ceil_mode", False),
        "return_indices": node_arg(n, 6, "return_indices", False),
    }
    return _pool(
        b,
        n,
        n.args[0],
        "max",
        node_arg(n, 1, "kernel_size"),
        node_arg(n, 2, "stride"),
        node_arg(n, 3, "padding", 0),
        extra,
    )


def _avgpool1d_call(b: Builder, n: fx.Node) -> str:
    extra = {
        "ceil_mode": node_arg(n, 4, "ceil_mode", False),
        "count_include_pad": node_arg(n, 5, "count_include_pad", True),
    }
    return _pool(
        b,
        n,
        n.args[0],
        "avg",
        node_arg(n, 1, "kernel_size"),
        node_arg(n, 2, "stride"),
        node_arg(n, 3, "padding", 0),
        extra,
    )


def global_average(b: Builder, node: fx.Node, x: Any, keepdim: bool) -> str:
    """The mean over L of [N, C, L]: [N, C, 1] with ``keepdim``, else [N, C]."""

    def emit(x4: str, name: str, out: tuple[int, ...]) -> str:
        return b.emit(GlobalAvgPool, node, [x4], name=name, out_shape=out)

    name = b.tensor(x, node)
    n, c = b.tensors[name].shape[:2]
    return on_sequence(b, node, x, "a mean over L", emit, out_shape=(n, c, 1) if keepdim else (n, c))


def _adaptive_avg1d(b: Builder, node: fx.Node, x: Any, size: Any) -> str:
    if _one(size) != 1:
        raise unsupported(node, f"adaptive 1-D average pooling to {size}", "dian supports output size 1")
    return global_average(b, node, x, keepdim=True)


MODULE_RULES: dict[type[nn.Module], tuple[str, Rule]] = {
    nn.Conv1d: ("nn.Conv1d", _conv1d_module),
    nn.MaxPool1d: ("nn.MaxPool1d", _maxpool1d_module),
    nn.AvgPool1d: ("nn.AvgPool1d", _avgpool1d_module),
    nn.AdaptiveAvgPool1d: (
        "nn.AdaptiveAvgPool1d(1)",
        lambda b, n: _adaptive_avg1d(b, n, n.args[0], node_module(b, n).output_size),
    ),
}

FUNCTION_RULES: dict[Any, tuple[str, Rule]] = {
    F.max_pool1d: ("F.max_pool1d", _maxpool1d_call),
    F.avg_pool1d: ("F.avg_pool1d", _avgpool1d_call),
    F.adaptive_avg_pool1d: (
        "F.adaptive_avg_pool1d(1)",
        lambda b, n: _adaptive_avg1d(b, n, n.args[0], node_arg(n, 1, "output_size")),
    ),
}
