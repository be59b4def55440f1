"""A per-channel affine map ``y = x * scale[c] + shift[c]`` (c = dimension 1), shared by the
importers whose graphs carry batch norm and constant arithmetic as plain ops: torch.export's
``aten.batch_norm`` and ONNX's BatchNormalization, ``Mul``/``Add``/``Sub``/``Div`` by a
per-channel constant.

When the affine map is the only reader of a conv or linear layer's output it is folded into that
layer's weights and bias, exactly as bn_fold.py folds ``nn.BatchNorm2d`` (float64, cast once);
otherwise it becomes a layer of its own: a depthwise 1x1 conv on NCHW tensors, a diagonal linear
on [N, C] ones, which the accelerator runs like any other conv or linear.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch.fx as fx

from dian.ir import Conv2d, Linear

from .builder import Builder, unsupported


def _per_channel(node: fx.Node, values: np.ndarray, channels: int, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 1:
        return np.full(channels, float(v[0]))
    if v.size != channels:
        raise unsupported(
            node, f"a {what} of {v.size} values on a tensor of {channels} channels", "give one value per channel"
        )
    return v


def lower_channel_affine(b: Builder, node: fx.Node, x: Any, scale: np.ndarray, shift: np.ndarray) -> str:
    """``x * scale + shift`` per channel; ``scale``/``shift`` hold one value per channel or one shared."""
    name = b.tensor(x, node)
    shape = b.tensors[name].shape
    if len(shape) not in (2, 4):
        raise unsupported(
            node,
            f"a per-channel scale and shift of a rank-{len(shape)} tensor {list(shape)}",
            "dian applies them to NCHW and [N, C] tensors",
        )
    channels = shape[1]
    s, t = _per_channel(node, scale, channels, "scale"), _per_channel(node, shift, channels, "shift")
    producer = next((op for op in b.ops if op.output == name), None)
    if isinstance(producer, (Conv2d, Linear)) and _only_reader(b, node, name):
        return _fold(b, producer, s, t)
    if len(shape) == 4:
        w = s.reshape(-1, 1, 1, 1)
        return b.emit(
            Conv2d,
            node,
            [name],
            weight=b.const(node.name, "weight", w),
            bias=b.const(node.name, "bias", t),
            groups=channels,
        )
    return b.emit(
        Linear, node, [name], weight=b.const(node.name, "weight", np.diag(s)), bias=b.const(node.name, "bias", t)
    )


def _only_reader(b: Builder, node: fx.Node, name: str) -> bool:
    """Whether ``node`` is the only reader of the IR tensor ``name``: every fx node whose value is
    ``name`` (its producer, and identities or earlier folds of it) is read only by those nodes and
    ``node`` (a graph output is read by the output node, so it never folds)."""
    aliases = {n for n, v in b.env.items() if isinstance(v, str) and v == name}
    return bool(aliases) and all(set(n.users) <= aliases | {node} for n in aliases)


def _fold(b: Builder, op: Conv2d | Linear, scale: np.ndarray, shift: np.ndarray) -> str:
    """Scale ``op``'s output channels and add ``shift``: new weight and bias constants in place."""
    w = b.constants[op.weight].astype(np.float64)
    bias = np.zeros(w.shape[0]) if op.bias is None else b.constants[op.bias].astype(np.float64)
    b.constants[op.weight] = np.ascontiguousarray((w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32))
    new_bias = (bias * scale + shift).astype(np.float32)
    if op.bias is None:
        b.ops[b.ops.index(op)] = replace(op, bias=b.const(op.name, "bias", new_bias))
    else:
        b.constants[op.bias] = np.ascontiguousarray(new_bias)
    return op.output
