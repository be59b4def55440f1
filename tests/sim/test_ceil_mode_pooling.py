"""``ceil_mode`` pooling against torch: max pooling whose last windows hang past the edge (the
float graph against torch, the int8 graph on the machine simulator against the reference),
average pooling where rounding up adds no window, and the refusal where it would."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from machine_cases import CONFIGS, check_machine

from dian.errors import UnsupportedOpError
from dian.frontend import lower
from dian.ir import MaxPool2d
from dian.sim.reference import run_graph

#: (input size, kernel, stride, padding): odd sizes where ceil_mode adds a window, and one
#: where PyTorch drops a window that would start in the right padding.
MAX_CASES = [(7, 2, 2, 0), (9, 3, 2, 1), (6, 3, 2, 1), (5, 3, 3, 0), (5, 2, 2, 1)]


def _net(pool: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), pool).eval()


@pytest.mark.parametrize("size, k, s, p", MAX_CASES)
def test_max_pool_ceil_mode(size: int, k: int, s: int, p: int) -> None:
    m = _net(nn.MaxPool2d(k, s, p, ceil_mode=True))
    shape = (1, 3, size, size + 1)
    calib = np.random.default_rng(0).standard_normal((8, *shape[1:])).astype(np.float32)
    float_graph, int_graph = lower(m, shape, calib, "ceil")
    assert any(isinstance(op, MaxPool2d) and op.ceil_mode for op in float_graph.ops)
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    want = m(torch.from_numpy(x)).detach().numpy()
    got = run_graph(float_graph, {float_graph.inputs[0]: x})[float_graph.outputs[0]]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for cfg in CONFIGS:
        check_machine(int_graph, cfg, seed=size)


def test_avg_pool_ceil_mode_without_an_extra_window() -> None:
    m = _net(nn.AvgPool2d(2, 2, ceil_mode=True))
    float_graph, _ = lower(m, (1, 3, 8, 8), np.zeros((2, 3, 8, 8), np.float32), "avg")
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    got = run_graph(float_graph, {float_graph.inputs[0]: x})[float_graph.outputs[0]]
    np.testing.assert_allclose(got, m(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_avg_pool_ceil_mode_with_an_extra_window_is_refused() -> None:
    m = _net(nn.AvgPool2d(2, 2, ceil_mode=True))
    with pytest.raises(UnsupportedOpError, match="ceil_mode only where it adds no window"):
        lower(m, (1, 3, 7, 7), np.zeros((2, 3, 7, 7), np.float32), "avg")
