"""Pointwise functions as torch writes them, for the tests against torch: the module, the
IR function and parameters it must lower to, and a torch reference of the function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dian.frontend import quantize, trace
from dian.ir import Graph
from dian.sim.reference import run_graph

CHANNELS = 4
PRELU_SLOPES = (0.25, -0.3, 0.02, 1.7)


@dataclass(frozen=True)
class Case:
    module: Callable[[], nn.Module]
    fn: str
    params: tuple[float, ...]


def _prelu(slopes: tuple[float, ...]) -> nn.Module:
    m = nn.PReLU(len(slopes))
    with torch.no_grad():
        m.weight.copy_(torch.tensor(slopes))
    return m


class Fn(nn.Module):
    """A module whose forward calls ``f(x)``: the function and method spellings."""

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)


#: One case per function (module spellings); the reference is the module itself.
MODULES: dict[str, Case] = {
    "silu": Case(nn.SiLU, "silu", ()),
    "hardswish": Case(nn.Hardswish, "hardswish", ()),
    "hardsigmoid": Case(nn.Hardsigmoid, "hardsigmoid", ()),
    "sigmoid": Case(nn.Sigmoid, "sigmoid", ()),
    "tanh": Case(nn.Tanh, "tanh", ()),
    "gelu": Case(nn.GELU, "gelu", ()),
    "gelu_tanh": Case(lambda: nn.GELU(approximate="tanh"), "gelu_tanh", ()),
    "leaky_relu": Case(lambda: nn.LeakyReLU(0.1), "leaky_relu", (0.1,)),
    "elu": Case(lambda: nn.ELU(0.7), "elu", (0.7,)),
    "mish": Case(nn.Mish, "mish", ()),
    "softplus": Case(lambda: nn.Softplus(beta=2.0, threshold=3.0), "softplus", (2.0, 3.0)),
    "prelu": Case(lambda: _prelu(PRELU_SLOPES), "prelu", tuple(np.float32(PRELU_SLOPES).tolist())),
    "prelu_single": Case(lambda: _prelu((0.25,)), "prelu", (0.25,)),
}

#: The function and method spellings.
CALLS: dict[str, Case] = {
    "F.silu": Case(lambda: Fn(F.silu), "silu", ()),
    "F.hardswish": Case(lambda: Fn(F.hardswish), "hardswish", ()),
    "F.hardsigmoid": Case(lambda: Fn(F.hardsigmoid), "hardsigmoid", ()),
    "torch.sigmoid": Case(lambda: Fn(torch.sigmoid), "sigmoid", ()),
    "F.sigmoid": Case(lambda: Fn(F.sigmoid), "sigmoid", ()),
    "x.sigmoid()": Case(lambda: Fn(lambda x: x.sigmoid()), "sigmoid", ()),
    "torch.tanh": Case(lambda: Fn(torch.tanh), "tanh", ()),
    "F.tanh": Case(lambda: Fn(F.tanh), "tanh", ()),
    "x.tanh()": Case(lambda: Fn(lambda x: x.tanh()), "tanh", ()),
    "F.gelu": Case(lambda: Fn(F.gelu), "gelu", ()),
    "F.gelu_tanh": Case(lambda: Fn(lambda x: F.gelu(x, approximate="tanh")), "gelu_tanh", ()),
    "F.leaky_relu": Case(lambda: Fn(F.leaky_relu), "leaky_relu", (0.01,)),
    "F.leaky_relu_kw": Case(lambda: Fn(lambda x: F.leaky_relu(x, negative_slope=0.3)), "leaky_relu", (0.3,)),
    "F.elu": Case(lambda: Fn(lambda x: F.elu(x, 1.5)), "elu", (1.5,)),
    "F.mish": Case(lambda: Fn(F.mish), "mish", ()),
    "F.softplus": Case(lambda: Fn(lambda x: F.softplus(x, beta=0.5)), "softplus", (0.5, 20.0)),
}


def all_int8(channels: int = CHANNELS) -> np.ndarray:
    """Every int8 value once per channel: [1, channels, 16, 16]."""
    q = np.arange(-128, 128, dtype=np.int16).reshape(16, 16)
    return np.broadcast_to(q, (1, channels, 16, 16)).astype(np.int8)


def int_graph(module: nn.Module, in_range: float, out_range: float) -> Graph:
    """``module`` on [1, CHANNELS, 16, 16] traced and quantized with the given max-abs ranges
    (scales ``range / 127``) of its input and output."""
    g = trace(module, (1, CHANNELS, 16, 16), "pointwise")
    assert len(g.ops) == 1, g.ops
    return quantize(g, {g.inputs[0]: in_range, g.outputs[0]: out_range})


def table_output(g: Graph) -> np.ndarray:
    """dian's output on :func:`all_int8`: the table, per channel, as [channels, 256]."""
    out = run_graph(g, {g.inputs[0]: all_int8()})[g.outputs[0]]
    return out.reshape(CHANNELS, 256)
