"""The float interpreter against torch's float functional ops on the same layers
as the torch.ao comparison (odd sizes, strides, padding, dilation, groups)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from int_layers import (
    add_graph,
    conv_graph,
    global_avgpool_graph,
    linear_graph,
    pool_graph,
    random_mac_params,
    relu_graph,
)
from layer_cases import AVGPOOLS_EVEN, AVGPOOLS_ODD, MAXPOOLS, conv_specs

from dian.sim.reference import run_graph

RTOL = 1e-5


def assert_close(ours: np.ndarray, ref: torch.Tensor) -> None:
    """rtol 1e-5, with an absolute floor of 1e-5 of the output's magnitude for
    elements near zero (summation order differs between numpy and torch)."""
    r = ref.detach().numpy()
    assert ours.dtype == np.float32 and ours.shape == r.shape
    np.testing.assert_allclose(ours, r, rtol=RTOL, atol=RTOL * float(np.abs(r).max(initial=0.0) + 1e-30))


def _randn(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("chunk", range(4))
def test_conv2d_float(chunk: int) -> None:
    specs = conv_specs(40, seed=21)
    for i, spec in enumerate(specs[chunk::4]):
        rng = np.random.default_rng(100 * chunk + i)
        p = random_mac_params(rng, spec.w_shape)
        x = _randn(rng, spec.x_shape)
        ours = run_graph(conv_graph(spec, p, integer=False), {"x": x})["y"]
        ref = F.conv2d(
            torch.from_numpy(x),
            torch.from_numpy(p.w_float),
            torch.from_numpy(p.b_float.astype(np.float32)),
            spec.stride,
            spec.padding,
            spec.dilation,
            spec.groups,
        )
        assert_close(ours, F.relu(ref) if spec.relu else ref)


def test_linear_float() -> None:
    rng = np.random.default_rng(22)
    for i in range(20):
        n, fin, fout = (
            int(rng.integers(1, 6)),
            int(rng.choice([1, 3, 7, 33, 127, 513])),
            int(rng.choice([1, 5, 11, 101])),
        )
        relu = i % 2 == 0
        p = random_mac_params(rng, (fout, fin))
        x = _randn(rng, (n, fin))
        ours = run_graph(linear_graph(n, fin, fout, p, relu, integer=False), {"x": x})["y"]
        ref = F.linear(torch.from_numpy(x), torch.from_numpy(p.w_float), torch.from_numpy(p.b_float.astype(np.float32)))
        assert_close(ours, F.relu(ref) if relu else ref)


@pytest.mark.parametrize("relu", [False, True])
def test_add_and_relu_float(relu: bool) -> None:
    rng = np.random.default_rng(23)
    shape = (2, 5, 7, 11)
    a, b = _randn(rng, shape), _randn(rng, shape)
    ours = run_graph(add_graph(shape, None, None, None, relu), {"a": a, "b": b})["y"]
    ref = torch.from_numpy(a) + torch.from_numpy(b)
    assert_close(ours, F.relu(ref) if relu else ref)
    x = _randn(rng, shape)
    assert_close(run_graph(relu_graph(shape, None, 0.0, 6.0), {"x": x})["y"], F.relu6(torch.from_numpy(x)))


def test_pools_float() -> None:
    rng = np.random.default_rng(24)
    for kind, cases in (("max", MAXPOOLS), ("avg", AVGPOOLS_ODD + AVGPOOLS_EVEN)):
        for kernel, stride, pad, h, w in cases:
            x = _randn(rng, (2, 3, h, w))
            ours = run_graph(pool_graph(kind, x.shape, kernel, stride, pad, None), {"x": x})["y"]
            t = torch.from_numpy(x)
            ref = (
                F.max_pool2d(t, kernel, stride, pad)
                if kind == "max"
                else F.avg_pool2d(t, kernel, stride, pad, count_include_pad=True)
            )
            assert_close(ours, ref)
    for h, w in ((7, 7), (1, 1), (6, 6), (5, 13)):
        x = _randn(rng, (2, 9, h, w))
        ours = run_graph(global_avgpool_graph(x.shape, None), {"x": x})["y"]
        assert_close(ours, F.adaptive_avg_pool2d(torch.from_numpy(x), 1))


def test_maxpool_float_all_negative_padding_never_wins() -> None:
    x = -np.ones((1, 1, 3, 3), dtype=np.float32) * 5
    ours = run_graph(pool_graph("max", x.shape, (3, 3), (1, 1), (1, 1), None), {"x": x})["y"]
    assert (ours == -5).all()
