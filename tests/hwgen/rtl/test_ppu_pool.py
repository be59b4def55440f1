"""PPUPool, alone and feeding PPURequant as the PPU wires them, against run_graph
on hand-built pooling graphs."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from pipeline_harness import assert_param_error, check_latency, run_stream

from dian.hwgen.rtl.ppu_pool import PoolOp, PPUPool
from dian.hwgen.rtl.ppu_requant import PPURequant
from dian.ir import AvgPool2d, DType, GlobalAvgPool, Graph, MaxPool2d, QuantParams, Requant, Tensor, verify
from dian.sim.reference import run_graph


class PoolThenRequant(Elaboratable):
    """The PPU's pooling path: window result -> requantizer with bias 0 and a per-tensor M, s."""

    def __init__(self, lanes: int) -> None:
        self.pool, self.rq = PPUPool(lanes), PPURequant(lanes)
        for name in ("in_valid", "x", "first", "last", "op"):
            setattr(self, name, getattr(self.pool, name))
        self.multiplier, self.shift = Signal(31), Signal(6)
        self.out_valid, self.out = self.rq.out_valid, self.rq.out
        self.lanes = lanes

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.pool, m.submodules.rq = pool, rq = self.pool, self.rq
        m.d.comb += [rq.in_valid.eq(pool.out_valid), rq.acc.eq(pool.out), rq.lo.eq(-128), rq.hi.eq(127)]
        for i in range(self.lanes):
            m.d.comb += [rq.bias[i].eq(0), rq.multiplier[i].eq(self.multiplier), rq.shift[i].eq(self.shift)]
        return m


def pool_graph(
    kind: str, shape: tuple[int, int, int, int], kernel: int, stride: int, pad: int, m: int, s: int
) -> tuple[Graph, tuple[int, ...]]:
    n, c, h, w = shape
    if kind == "gap":
        out, window = (n, c, 1, 1), h * w
        op = GlobalAvgPool("p", ("x",), "y", requant=Requant((m,), (s,)))
    else:
        oh, ow = ((h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1)
        out, window = (n, c, oh, ow), kernel * kernel
        kw = {"kernel": (kernel, kernel), "stride": (stride, stride), "padding": (pad, pad)}
        op = (
            MaxPool2d("p", ("x",), "y", **kw)
            if kind == "max"
            else AvgPool2d("p", ("x",), "y", requant=Requant((m,), (s,)), **kw)
        )
    out_scale = 1.0 if kind == "max" else 2.0**s / (m * window)  # makes (m, s) the verifier's requant
    tensors = [
        Tensor("x", shape, DType.INT8, QuantParams.per_tensor(1.0)),
        Tensor("y", out, DType.INT8, QuantParams.per_tensor(out_scale)),
    ]
    return verify(Graph.build("g", tensors, {}, [op], ["x"], ["y"])), out


@pytest.mark.parametrize(
    "kind, lanes, kernel, stride, pad",
    [
        ("max", 4, 3, 2, 1),
        ("avg", 4, 3, 2, 1),
        ("avg", 8, 2, 2, 0),
        ("gap", 4, 0, 0, 0),
        ("max", 2, 2, 1, 1),
    ],
)
def test_pooling_path_matches_run_graph(kind: str, lanes: int, kernel: int, stride: int, pad: int) -> None:
    rng = np.random.default_rng(lanes + kernel)
    shape = (1, 2 * lanes, 5, 6)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    x[0, 0] = -100  # an all-negative plane: zero padding must not win a max
    window = shape[2] * shape[3] if kind == "gap" else kernel * kernel
    s = 0 if kind == "max" else 30 + (window - 1).bit_length()
    m = 1 if kind == "max" else round(2**s / window)
    graph, out_shape = pool_graph(kind, shape, kernel, stride, pad, m, s)
    want = run_graph(graph, {"x": x})["y"]
    kh, kw = (shape[2], shape[3]) if kind == "gap" else (kernel, kernel)
    stride, pad = (1, 0) if kind == "gap" else (stride, pad)
    op = PoolOp.MAX if kind == "max" else PoolOp.SUM
    vecs, expected = [], []
    for cb in range(2):
        for oy in range(out_shape[2]):
            for ox in range(out_shape[3]):
                taps = [(oy * stride - pad + fy, ox * stride - pad + fx) for fy in range(kh) for fx in range(kw)]
                taps = [(iy, ix) for iy, ix in taps if 0 <= iy < shape[2] and 0 <= ix < shape[3]]  # in-bounds only
                for k, (iy, ix) in enumerate(taps):
                    vecs.append(
                        {
                            "x": [int(v) for v in x[0, cb * lanes : (cb + 1) * lanes, iy, ix]],
                            "first": int(k == 0),
                            "last": int(k == len(taps) - 1),
                            "op": op,
                            "multiplier": m,
                            "shift": s,
                        }
                    )
                expected.append([int(v) for v in want[0, cb * lanes : (cb + 1) * lanes, oy, ox]])
    results, _ = run_stream(PoolThenRequant(lanes), vecs, ["out"], gap_seed=3)
    assert [r.values["out"] for r in results] == expected


def test_window_stream_alone() -> None:
    rng = random.Random(2)
    lanes, vecs, want = 4, [], []
    for _ in range(60):
        n = rng.choice([1, 1, 2, 4, 9])
        op = rng.choice([PoolOp.MAX, PoolOp.SUM])
        words = [[rng.choice([-128, 127, rng.randint(-128, 127)]) for _ in range(lanes)] for _ in range(n)]
        for k, w in enumerate(words):
            vecs.append({"x": w, "first": int(k == 0), "last": int(k == n - 1), "op": op})
        cols = np.array(words, dtype=np.int64)
        want.append([int(v) for v in (cols.max(axis=0) if op == PoolOp.MAX else cols.sum(axis=0))])
    results, issued = run_stream(PPUPool(lanes), vecs, ["out", "overflow"], gap_seed=9)
    assert [r.values["out"] for r in results] == want
    assert not any(r.values["overflow"] for r in results)
    check_latency(results, [e for e, v in zip(issued, vecs, strict=True) if v["last"]], PPUPool.LATENCY)


def test_sum_overflow_flag() -> None:
    # 16-bit sums hold 256 words of -128; the 257th overflows; the next window starts clean
    words = [{"x": [-128, 1], "first": int(k == 0), "last": int(k == 256), "op": PoolOp.SUM} for k in range(257)]
    words += [{"x": [5, 5], "first": 1, "last": 1, "op": PoolOp.SUM}]
    results, _ = run_stream(PPUPool(2, 16), words, ["out", "overflow"])
    assert [r.values["overflow"] for r in results] == [1, 0]
    assert results[1].values["out"] == [5, 5]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lanes": 0}, "lanes must be a power of two"),
        ({"lanes": 4, "acc_bits": 12}, "acc_bits must be an integer from 16 to 32"),
    ],
)
def test_parameter_errors(kwargs: dict, message: str) -> None:
    assert_param_error(PPUPool, kwargs, message)
