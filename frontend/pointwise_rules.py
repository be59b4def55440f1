"""Lowering rules of the pointwise functions: torch's activation modules, functions and methods
(SiLU, sigmoid, GELU, PReLU, ...) onto one :class:`~dian.ir.Pointwise` op each, whose function
names come from ir/pointwise.py's registry. lower_rules.py merges these tables into its own.

ReLU, ReLU6 and Hardtanh are not here: they are clamps (lower_rules.py), which fuse into the
layer before them; LeakyReLU with any slope is a table.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from dian.ir import Pointwise

from .builder import Builder, Rule, node_arg, node_module, unsupported


def lower_pointwise(b: Builder, node: fx.Node, x: Any, fn: str, *params: Any) -> str:
    """One elementwise function of ir/pointwise.py's registry; its parameters must be numbers."""
    for v in params:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise unsupported(
                node, f"{fn} parameter {v!r} is not a finite number", f"{fn}'s parameters must be finite Python numbers"
            )
    return b.emit(Pointwise, node, [b.tensor(x, node)], fn=fn, params=tuple(float(v) for v in params))


def _gelu_fn(node: fx.Node, approximate: Any) -> str:
    if approximate not in ("none", "tanh"):
        raise unsupported(node, f"GELU with approximate={approximate!r}", "dian supports 'none' (erf) and 'tanh'")
    return "gelu" if approximate == "none" else "gelu_tanh"


def _pointwise_module(fn: str, *attrs: str) -> Rule:
    """Rule for a module computing ``fn`` with parameters read from the module's ``attrs``."""
    return lambda b, n: lower_pointwise(b, n, n.args[0], fn, *(getattr(node_module(b, n), a) for a in attrs))


def _gelu_module(b: Builder, node: fx.Node) -> str:
    m: nn.GELU = node_module(b, node)  # type: ignore[assignment]
    return lower_pointwise(b, node, node.args[0], _gelu_fn(node, m.approximate))


def _prelu_module(b: Builder, node: fx.Node) -> str:
    m: nn.PReLU = node_module(b, node)  # type: ignore[assignment]
    slopes = m.weight.detach().double().reshape(-1).tolist()
    return lower_pointwise(b, node, node.args[0], "prelu", *slopes)


def _pointwise_call(fn: str, *defaults: tuple[str, float]) -> Rule:
    """Rule for ``f(x, p1, p2, ...)`` computing ``fn``; ``defaults`` are the (keyword, default) of each parameter."""
    return lambda b, n: lower_pointwise(
        b, n, n.args[0], fn, *(node_arg(n, i + 1, key, value) for i, (key, value) in enumerate(defaults))
    )


def _gelu_call(b: Builder, n: fx.Node) -> str:
    return lower_pointwise(b, n, n.args[0], _gelu_fn(n, node_arg(n, 1, "approximate", "none")))


MODULE_RULES: dict[type[nn.Module], tuple[str, Rule]] = {
    nn.SiLU: ("nn.SiLU", _pointwise_module("silu")),
    nn.Sigmoid: ("nn.Sigmoid", _pointwise_module("sigmoid")),
    nn.Tanh: ("nn.Tanh", _pointwise_module("tanh")),
    nn.Hardswish: ("nn.Hardswish", _pointwise_module("hardswish")),
    nn.Hardsigmoid: ("nn.Hardsigmoid", _pointwise_module("hardsigmoid")),
    nn.GELU: ("nn.GELU", _gelu_module),
    nn.Mish: ("nn.Mish", _pointwise_module("mish")),
    nn.Softplus: ("nn.Softplus", _pointwise_module("softplus", "beta", "threshold")),
    nn.LeakyReLU: ("nn.LeakyReLU", _pointwise_module("leaky_relu", "negative_slope")),
    nn.ELU: ("nn.ELU", _pointwise_module("elu", "alpha")),
    nn.PReLU: ("nn.PReLU", _prelu_module),
}

FUNCTION_RULES: dict[Any, tuple[str, Rule]] = {
    F.silu: ("F.silu", _pointwise_call("silu")),
    torch.sigmoid: ("torch.sigmoid", _pointwise_call("sigmoid")),
    torch.tanh: ("torch.tanh", _pointwise_call("tanh")),
    F.hardswish: ("F.hardswish", _pointwise_call("hardswish")),
    F.hardsigmoid: ("F.hardsigmoid", _pointwise_call("hardsigmoid")),
    F.gelu: ("F.gelu", _gelu_call),
    F.mish: ("F.mish", _pointwise_call("mish")),
    F.softplus: ("F.softplus", _pointwise_call("softplus", ("beta", 1.0), ("threshold", 20.0))),
    F.leaky_relu: ("F.leaky_relu", _pointwise_call("leaky_relu", ("negative_slope", 0.01))),
    F.elu: ("F.elu", _pointwise_call("elu", ("alpha", 1.0))),
}

METHOD_RULES: dict[str, Rule] = {
    "sigmoid": _pointwise_call("sigmoid"),  # F.sigmoid and F.tanh trace as these methods
    "sigmoid_": _pointwise_call("sigmoid"),
    "tanh": _pointwise_call("tanh"),
    "tanh_": _pointwise_call("tanh"),
}
