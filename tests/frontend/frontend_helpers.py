"""Shared test helpers: run a Graph in the reference simulator on a batch and
compare with torch (the independent source of truth for the float graph)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from dian.frontend import with_batch
from dian.ir import Graph
from dian.sim.reference import dequantize_output, quantize_input, run_graph


class Net(nn.Module):
    """A module whose forward is ``fn(self, x)``; submodules given as keywords."""

    def __init__(self, fn: Callable[..., Any], **mods: nn.Module) -> None:
        super().__init__()
        self.fn = fn
        for k, v in mods.items():
            setattr(self, k, v)

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(self, x)


def randomize_bn(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(n, generator=g) * 0.3)
    return module


def torch_outputs(module: nn.Module, x: np.ndarray) -> list[np.ndarray]:
    with torch.no_grad():
        out = module.eval()(torch.from_numpy(x))
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o.numpy() for o in outs]


def run_float(graph: Graph, x: np.ndarray) -> list[np.ndarray]:
    g = with_batch(graph, x.shape[0]) if x.shape[0] != graph.tensors[graph.inputs[0]].shape[0] else graph
    res = run_graph(g, {g.inputs[0]: x})
    return [res[n] for n in g.outputs]


def run_int(graph: Graph, x: np.ndarray) -> list[np.ndarray]:
    """Quantize x with the graph input's scale, run the integer graph, dequantize."""
    g = with_batch(graph, x.shape[0]) if x.shape[0] != graph.tensors[graph.inputs[0]].shape[0] else graph
    s_in = g.tensors[g.inputs[0]].quant.scale[0]  # type: ignore[union-attr]
    res = run_graph(g, {g.inputs[0]: quantize_input(x, s_in)})
    return [dequantize_output(res[n], g.tensors[n].quant.scale[0]) for n in g.outputs]  # type: ignore[union-attr]


def assert_close_to_torch(graph: Graph, module: nn.Module, x: np.ndarray, rtol: float = 1e-4) -> None:
    got, want = run_float(graph, x), torch_outputs(module, x)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * 0.1 * max(1.0, float(np.abs(w).max())))


def sample(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
