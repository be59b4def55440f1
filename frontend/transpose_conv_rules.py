"""Lowering rule of ``nn.ConvTranspose2d``: sub-pixel decomposition into ordinary convolutions.

A transposed convolution of stride (s0, s1) computes each output phase (a, b) — the pixels
``(s0*i + a, s1*j + b)`` — as an ordinary stride-1 convolution of the input with the taps of the
flipped kernel that land on that phase (every s-th tap, offset by the phase). So the op becomes
s0*s1 :class:`~dian.ir.Conv2d` s and one :class:`~dian.ir.Interleave` that weaves their outputs,
with no zero-inserted input and no MACs on zeros. The IR's padding is symmetric, so a phase whose
window reaches further on one side gets zero taps on the other (a few MACs of zeros, exact).
A BatchNorm2d right after it folds into every phase. lower_rules.py merges this table into its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch.fx as fx
import torch.nn as nn

from dian.ir import Conv2d, Interleave

from . import bn_fold
from .builder import Builder, Rule, describe_location, node_module, unsupported


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def correlation_weight(m: nn.ConvTranspose2d) -> np.ndarray:
    """The kernel ``F`` [K, C / groups, kh, kw] with ``conv_transpose(x) == conv2d(zero_inserted(x), F)``:
    the transposed kernel's in/out axes swapped per group and its taps flipped."""
    w = m.weight.detach().numpy().astype(np.float64)  # [C, K / groups, kh, kw]
    g = int(m.groups)
    c, kg, kh, kw = w.shape
    f = w.reshape(g, c // g, kg, kh, kw).transpose(0, 2, 1, 3, 4).reshape(g * kg, c // g, kh, kw)
    return np.ascontiguousarray(f[:, :, ::-1, ::-1])


def phase_taps(size: int, kernel: int, stride: int, padding: int, out: int, phase: int) -> tuple[int, int, int, int]:
    """One axis of phase ``phase``: (first tap of F, front zero taps, back zero taps, symmetric padding)
    of the stride-1 convolution producing its ``ceil((out - phase) / stride)`` outputs; the first
    tap is -1 when no tap lands on the phase (a kernel < stride: the phase is the bias alone)."""
    p0 = kernel - 1 - padding  # F's reach before an output pixel, in zero-inserted input pixels
    first = (p0 - phase) % stride
    taps = len(range(first, kernel, stride))
    left = (p0 - phase - first) // stride  # real input pixels before the first output's window
    n_out = -(-(out - phase) // stride)
    if taps == 0:  # no tap lands on this phase: a one-tap zero kernel (bias only)
        first, taps, left = -1, 1, 0
    pad = max(left, 0, n_out + taps - 1 - size - left)
    front = pad - left
    back = size + pad + left - taps + 1 - n_out
    return first, front, back, pad


def _conv_transpose_module(b: Builder, node: fx.Node) -> str:
    m: nn.ConvTranspose2d = node_module(b, node)  # type: ignore[assignment]
    if _pair(m.dilation) != (1, 1) or m.padding_mode != "zeros" or isinstance(m.padding, str):
        raise unsupported(
            node,
            f"nn.ConvTranspose2d with dilation={m.dilation}, padding_mode='{m.padding_mode}'",
            "dian supports dilation 1 and integer zero padding (output_padding and groups are fine)",
        )
    x = b.nchw(node.args[0], node, "nn.ConvTranspose2d")
    n, _, h, w = b.tensors[x].shape
    out = b.shape(node)
    f = correlation_weight(m)
    bias = None if m.bias is None else m.bias.detach().numpy().astype(np.float64)
    bn_node = b.folded.get(node)
    if bn_node is not None:
        f, bias = bn_fold.fold_into(f, bias, node_module(b, bn_node), describe_location(bn_node))  # type: ignore[arg-type]
    (s0, s1), (p0, p1) = _pair(m.stride), _pair(m.padding)
    kh, kw = f.shape[2:]  # taps of phase (a, c): F[:, :, fy::s0, fx::s1], zero-padded to a symmetric window
    phases = []
    for a in range(s0):
        fy, zy0, zy1, py = phase_taps(h, kh, s0, p0, out[2], a)
        for c in range(s1):
            fx, zx0, zx1, px = phase_taps(w, kw, s1, p1, out[3], c)
            taps = f[:, :, fy::s0, fx::s1] if fy >= 0 and fx >= 0 else np.zeros((*f.shape[:2], 1, 1))
            kernel = np.pad(taps, ((0, 0), (0, 0), (zy0, zy1), (zx0, zx1)))
            name = b.fresh(f"{node.name}_phase{a}{c}")
            shape = (n, out[1], -(-(out[2] - a) // s0), -(-(out[3] - c) // s1))
            phases.append(
                b.emit(
                    Conv2d,
                    node,
                    [x],
                    name=name,
                    out_shape=shape,
                    weight=b.const(name, "weight", kernel.astype(np.float32)),
                    bias=None if bias is None else b.const(name, "bias", bias.astype(np.float32)),
                    padding=(py, px),
                    groups=int(m.groups),
                )
            )
    return b.emit(Interleave, node, phases, factor=(s0, s1))


MODULE_RULES: dict[type[nn.Module], tuple[str, Rule]] = {
    nn.ConvTranspose2d: ("nn.ConvTranspose2d", _conv_transpose_module),
}
