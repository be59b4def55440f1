"""Lowering rules of nearest-neighbour upsampling: ``nn.Upsample``, ``nn.UpsamplingNearest2d`` and
``F.interpolate`` with ``mode='nearest'`` (or ``'nearest-exact'``, the same for whole factors)
onto one :class:`~dian.ir.Upsample`. The factors come from the traced input and output shapes,
so ``scale_factor`` and ``size`` spellings alike work; they must be whole numbers. Other modes
(bilinear, bicubic, ...) are refused by name. lower_rules.py merges these tables into its own.
"""

from __future__ import annotations

from typing import Any

import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from dian.ir import Upsample

from .builder import Builder, Rule, node_arg, node_module, unsupported

_NEAREST = ("nearest", "nearest-exact")


def lower_upsample(b: Builder, node: fx.Node, x: Any, mode: Any) -> str:
    name = b.tensor(x, node)
    shape_in, shape_out = b.tensors[name].shape, b.shape(node)
    if mode not in _NEAREST:
        raise unsupported(node, f"{mode} upsampling", "dian upsamples with mode='nearest' only")
    if len(shape_in) != 4 or shape_out[:2] != shape_in[:2]:
        raise unsupported(
            node, f"upsampling a {list(shape_in)} tensor to {list(shape_out)}", "dian upsamples NCHW tensors in H, W"
        )
    factors = tuple(o // i for o, i in zip(shape_out[2:], shape_in[2:], strict=True))
    if any(o != i * f or f < 1 for o, i, f in zip(shape_out[2:], shape_in[2:], factors, strict=True)):
        raise unsupported(
            node,
            f"upsampling {shape_in[2]}x{shape_in[3]} to {shape_out[2]}x{shape_out[3]}",
            "dian upsamples by whole factors (the output a multiple of the input in height and width)",
        )
    return b.emit(Upsample, node, [name], scale=factors)


def _upsample_module(b: Builder, node: fx.Node) -> str:
    m: nn.Upsample = node_module(b, node)  # type: ignore[assignment]
    return lower_upsample(b, node, node.args[0], m.mode)


def _interpolate_call(b: Builder, node: fx.Node) -> str:
    return lower_upsample(b, node, node.args[0], node_arg(node, 3, "mode", "nearest"))


MODULE_RULES: dict[type[nn.Module], tuple[str, Rule]] = {
    nn.Upsample: ("nn.Upsample (nearest)", _upsample_module),
    nn.UpsamplingNearest2d: ("nn.UpsamplingNearest2d", _upsample_module),
}

FUNCTION_RULES: dict[Any, tuple[str, Rule]] = {
    F.interpolate: ("F.interpolate (nearest)", _interpolate_call),
}
