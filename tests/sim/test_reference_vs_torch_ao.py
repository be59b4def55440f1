"""dian's integer reference simulator against torch.ao's quantized kernels.

Requirement: for every op torch.ao supports (conv2d, linear, add, relu,
pooling) our output is within 1 LSB of torch's on >= 99.9 % of elements, on
random layers with odd sizes, strides, padding and groups.

Each test runs many layers (hand-picked corner cases plus seeded random ones),
accumulates the element statistics of one op kind and asserts (a) no element
differs by more than 1 and (b) at most 0.1 % differ at all. Run with ``-s`` to
see the statistics.

Measured (torch 2.13, x86 engine; the *_many_layers tests: 2000 conv, 1500
linear, 1200 add layers): conv2d 4 of 846k elements off by one, add 2 of 524k, linear,
relu, maxpool, odd-window avgpool and global avgpool none.

Known differences, not hidden here:

* rounding ties: dian rounds half up, torch.ao half to even (``nearbyint``).
  Exact ties need a dyadic scale ratio; torch.ao's pooling keeps the input
  scale, so average pooling with an *even* window (2x2, 4x4, 2x3, 6x6 global)
  hits exact ties in ~1/window of its outputs and ~half of those differ by one
  (see the last tests, which pin that every difference is an exact tie);
* torch's own defects: its x86/fbgemm engines saturate on CPUs without
  AVX-512 VNNI and get depthwise convolution with a channel multiplier wrong
  on some shapes, so the witness is the qnnpack engine (tests/sim/torch_witness.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.ao.nn.quantized.functional as qF
from int_layers import (
    ConvSpec,
    add_graph,
    conv_graph,
    global_avgpool_graph,
    linear_graph,
    pool_graph,
    random_int8,
    random_mac_params,
    relu_graph,
)
from layer_cases import AVGPOOLS_EVEN, AVGPOOLS_ODD, CORNER_CONVS, MAXPOOLS, conv_specs
from torch_witness import Mismatch, bias_float, from_quint8, quantized_engine, to_quint8, weight_qint8

from dian.sim.reference import run_graph

pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions.*:UserWarning")


@pytest.fixture(autouse=True)
def _engine():
    with quantized_engine():
        yield


# -- conv2d -----------------------------------------------------------------------


def torch_conv(spec: ConvSpec, p, x: np.ndarray) -> np.ndarray:
    w = weight_qint8(p)
    if spec.relu:  # the fused kernel, as a quantized model would call it
        packed = torch.ops.quantized.conv2d_prepack(
            w, bias_float(p), list(spec.stride), list(spec.padding), list(spec.dilation), spec.groups
        )
        y = torch.ops.quantized.conv2d_relu(to_quint8(x, p.in_scale), packed, p.out_scale, 128)
    else:
        y = qF.conv2d(
            to_quint8(x, p.in_scale),
            w,
            bias_float(p),
            spec.stride,
            spec.padding,
            spec.dilation,
            spec.groups,
            scale=p.out_scale,
            zero_point=128,
        )
    return from_quint8(y)


def _conv_stats(count: int, seed: int) -> None:
    stats = {"conv2d": Mismatch("conv2d"), "conv2d+relu": Mismatch("conv2d+relu")}
    for i, spec in enumerate(conv_specs(count, seed=seed)):
        rng = np.random.default_rng(1000 * seed + i)
        p = random_mac_params(rng, spec.w_shape)
        x = random_int8(rng, spec.x_shape)
        ours = run_graph(conv_graph(spec, p), {"x": x})["y"]
        s = stats["conv2d+relu" if spec.relu else "conv2d"]
        s.add(str(spec), ours, torch_conv(spec, p, x))
    for s in stats.values():
        s.check()


def test_conv2d_within_one_lsb() -> None:
    _conv_stats(120, seed=1)


def test_conv2d_within_one_lsb_many_layers() -> None:
    _conv_stats(2000, seed=2)


def test_conv2d_exercises_saturation_and_relu_clamp() -> None:
    """The random scales must reach both int8 ends, or the comparison proves little."""
    spec = CORNER_CONVS[0]
    rng = np.random.default_rng(7)
    p = random_mac_params(rng, spec.w_shape)
    y = run_graph(conv_graph(spec, p), {"x": random_int8(rng, spec.x_shape)})["y"]
    assert (y == 127).any() and (y == -128).any() and len(np.unique(y)) > 100


# -- linear ------------------------------------------------------------------------


def _linear_stats(count: int, seed: int) -> None:
    stats = Mismatch("linear")
    rng = np.random.default_rng(seed)
    for i in range(count):
        n, fin, fout = (
            int(rng.integers(1, 6)),
            int(rng.choice([1, 3, 7, 33, 127, 513])),
            int(rng.choice([1, 5, 11, 63, 101])),
        )
        relu = bool(i % 3 == 0)
        p = random_mac_params(rng, (fout, fin))
        x = random_int8(rng, (n, fin))
        ours = run_graph(linear_graph(n, fin, fout, p, relu), {"x": x})["y"]
        y = qF.linear(to_quint8(x, p.in_scale), weight_qint8(p), bias_float(p), p.out_scale, 128)
        theirs = from_quint8(torch.relu(y) if relu else y)
        stats.add(f"linear {n}x{fin}->{fout} relu={relu}", ours, theirs)
    stats.check()


def test_linear_within_one_lsb() -> None:
    _linear_stats(60, seed=2)


# -- add ---------------------------------------------------------------------------


def _add_stats(relu: bool, count: int, seed: int) -> None:
    stats = Mismatch("add_relu" if relu else "add")
    rng = np.random.default_rng(seed)
    for i in range(count):
        shape = (
            int(rng.integers(1, 3)),
            int(rng.integers(1, 9)),
            int(rng.choice([5, 7, 13])),
            int(rng.choice([3, 9, 11])),
        )
        sa, sb = (float(v) for v in rng.uniform(0.005, 0.1, 2))
        so = float(max(sa, sb) * rng.uniform(0.6, 2.5))  # includes s_out < s_a: outputs saturate
        if i == 0:
            so = sa  # output scale equal to one input's (the multiplier is then exactly 2**30)
        a, b = random_int8(rng, shape), random_int8(rng, shape)
        ours = run_graph(add_graph(shape, sa, sb, so, relu), {"a": a, "b": b})["y"]
        fn = torch.ops.quantized.add_relu if relu else torch.ops.quantized.add
        theirs = from_quint8(fn(to_quint8(a, sa), to_quint8(b, sb), so, 128))
        stats.add(f"{shape} sa={sa:.4g} sb={sb:.4g} so={so:.4g}", ours, theirs)
    stats.check()


@pytest.mark.parametrize("relu", [False, True], ids=["add", "add_relu"])
def test_add_within_one_lsb(relu: bool) -> None:
    _add_stats(relu, 40, seed=3 + relu)


def test_linear_and_add_within_one_lsb_many_layers() -> None:
    _linear_stats(1500, seed=12)
    _add_stats(False, 600, seed=13)
    _add_stats(True, 600, seed=14)


# -- relu ----------------------------------------------------------------------------


def test_relu_is_exact() -> None:
    stats = Mismatch("relu")
    rng = np.random.default_rng(5)
    for _ in range(10):
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 9)), 7, 9)
        s = float(rng.uniform(0.01, 0.1))
        x = random_int8(rng, shape)
        ours = run_graph(relu_graph(shape, s), {"x": x})["y"]
        stats.add(str(shape), ours, from_quint8(torch.relu(to_quint8(x, s))))
    stats.check(max_fraction=0.0)


# -- pooling -------------------------------------------------------------------------


def _pool_compare(kind: str, cases, seed: int, label: str) -> Mismatch:
    stats = Mismatch(label)
    rng = np.random.default_rng(seed)
    for kernel, stride, pad, h, w in cases:
        for n, c in ((1, 3), (2, 8)):
            s = float(rng.uniform(0.01, 0.1))
            x = random_int8(rng, (n, c, h, w))
            ours = run_graph(pool_graph(kind, x.shape, kernel, stride, pad, s), {"x": x})["y"]
            xq = to_quint8(x, s)
            if kind == "max":
                y = qF.max_pool2d(xq, kernel, stride, pad)
            else:
                y = qF.avg_pool2d(xq, kernel, stride, pad, count_include_pad=True)
            stats.add(f"{kind}pool k{kernel} s{stride} p{pad} {x.shape}", ours, from_quint8(y))
    return stats


def test_maxpool_with_padding_is_exact() -> None:
    _pool_compare("max", MAXPOOLS, 6, "maxpool2d").check(max_fraction=0.0)


def test_avgpool_odd_window_within_one_lsb() -> None:
    _pool_compare("avg", AVGPOOLS_ODD, 8, "avgpool2d (odd windows)").check()


def _global_compare(planes, seed: int, label: str) -> Mismatch:
    stats = Mismatch(label)
    rng = np.random.default_rng(seed)
    for h, w in planes:
        s = float(rng.uniform(0.01, 0.1))
        x = random_int8(rng, (2, 16, h, w))
        ours = run_graph(global_avgpool_graph(x.shape, s), {"x": x})["y"]
        stats.add(f"global {h}x{w}", ours, from_quint8(qF.adaptive_avg_pool2d(to_quint8(x, s), 1)))
    return stats


def test_global_avgpool_odd_plane_within_one_lsb() -> None:
    _global_compare([(7, 7), (1, 1), (5, 3), (13, 11), (3, 9)] * 4, 9, "global_avgpool (odd planes)").check()


# -- the rounding-rule difference, pinned down -------------------------------------------


def _exact_ties(x: np.ndarray, kernel, stride, pad) -> np.ndarray:
    """Where the exact mean sum/window is n + 1/2 (independent float64 torch sum)."""
    sums = torch.nn.functional.avg_pool2d(
        torch.from_numpy(x.astype(np.float64)), kernel, stride, pad, count_include_pad=True, divisor_override=1
    ).numpy()
    window = kernel[0] * kernel[1]
    return 2 * np.mod(sums, window) == window


def test_avgpool_even_window_differs_only_on_exact_ties() -> None:
    """Every element where dian and torch disagree is an exact tie of sum/window,
    and the disagreement is one LSB. Off ties the two are identical."""
    rng = np.random.default_rng(10)
    ties_seen = differ_seen = 0
    for kernel, stride, pad, h, w in AVGPOOLS_EVEN:
        s = float(rng.uniform(0.01, 0.1))
        x = random_int8(rng, (2, 8, h, w))
        ours = run_graph(pool_graph("avg", x.shape, kernel, stride, pad, s), {"x": x})["y"].astype(int)
        theirs = from_quint8(qF.avg_pool2d(to_quint8(x, s), kernel, stride, pad, count_include_pad=True)).astype(int)
        tie = _exact_ties(x, kernel, stride, pad)
        d = ours - theirs
        assert np.abs(d).max() <= 1
        assert not d[~tie].any(), f"k{kernel}: differences off exact ties"
        ties_seen += int(tie.sum())
        differ_seen += int((d != 0).sum())
    assert ties_seen > 0 and differ_seen > 0
