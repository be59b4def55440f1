"""PEArray: column sums against numpy, double-buffered weights, both modes."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_harness import assert_param_error, check_latency, run_stream

from dian.hwgen.rtl.pe_array import PEArray, PEMode

IDLE = {"w_load_valid": 0, "w_swap": 0}


class Program:
    """Builds a cycle-by-cycle input stream and, beside it, the expected column
    sums from numpy and a plain model of the two weight sets (shadow, active)."""

    def __init__(self, lanes: int, rng: np.random.Generator, depthwise: bool = True) -> None:
        self.L, self.rng, self.depthwise = lanes, rng, depthwise
        self.shadow = np.zeros((lanes, lanes), np.int64)
        self.active = np.zeros((lanes, lanes), np.int64)
        self.vectors: list[dict] = []
        self.expected: list[list[int]] = []

    def cycle(
        self, load: tuple[int, np.ndarray] | None = None, swap: bool = False, x: tuple[PEMode, np.ndarray] | None = None
    ) -> None:
        v: dict = {"w_load_valid": int(load is not None), "w_swap": int(swap), "in_valid": int(x is not None)}
        if swap:  # the edge: a swap takes the shadow as it was before this cycle's load,
            self.active = self.shadow.copy()  # and this cycle's input already uses it
        if load is not None:
            v.update(w_load_row=load[0], w_load_data=[int(b) for b in load[1]])
        if x is not None:
            mode, data = x
            if mode == PEMode.GEMM:
                v["x_data"] = [int(b) for b in data]
                full = np.repeat(data[:, None], self.L, axis=1)  # byte r to every PE of row r
            else:
                v["x_words"] = [[int(b) for b in row] for row in data]
                full = data
            if self.depthwise:
                v["mode"] = mode
            # numpy's own matrix arithmetic: sum over rows of w * x
            self.expected.append([int(s) for s in (self.active * full).sum(axis=0)])
        self.vectors.append(v)
        if load is not None:
            self.shadow[load[0]] = load[1]

    def random_x(self, dw_ok: bool = True) -> tuple[PEMode, np.ndarray]:
        mode = PEMode.DW if dw_ok and self.rng.random() < 0.5 else PEMode.GEMM
        shape = (self.L, self.L) if mode == PEMode.DW else (self.L,)
        data = self.rng.integers(-128, 128, shape)
        if self.rng.random() < 0.15:
            data[:] = -128
        return mode, data


def block(rng: np.random.Generator, lanes: int, extreme: bool = False) -> np.ndarray:
    return np.full((lanes, lanes), -128) if extreme else rng.integers(-128, 128, (lanes, lanes))


@pytest.mark.parametrize("lanes, dsp", [(2, None), (4, None), (8, None), (16, None), (4, 0), (4, 7)])
def test_streams_against_numpy(lanes: int, dsp: int | None) -> None:
    """Also with every (dsp=0) or some PE products in LUTs (hwgen/rtl/multiplier.py)."""
    rng = np.random.default_rng(lanes)
    p = Program(lanes, rng)
    w = block(rng, lanes, extreme=True)  # worst case first: sum = lanes * 128 * 128
    for r in range(lanes):
        p.cycle(load=(r, w[r]))
    p.cycle(swap=True)
    p.cycle(x=(PEMode.GEMM, np.full(lanes, -128)))
    p.cycle(x=(PEMode.DW, np.full((lanes, lanes), -128)))
    for _ in range(5 if lanes < 16 else 3):
        w = block(rng, lanes)
        for r in range(lanes):  # the next block loads while this one streams
            p.cycle(load=(r, w[r]), x=p.random_x())
            p.cycle(x=p.random_x())
        p.cycle(swap=True, load=(0, block(rng, lanes)[0]), x=p.random_x())  # new weights; row 0 of the next
        p.cycle(x=p.random_x())
    dut = PEArray(lanes, dsp=dsp)
    results, issued = run_stream(dut, p.vectors, ["col_sum"], gap_seed=lanes, idle=IDLE)
    check_latency(results, issued, PEArray.LATENCY)
    assert [r.values["col_sum"] for r in results] == p.expected
    assert max(max(abs(s) for s in e) for e in p.expected) == lanes * 128 * 128
    assert dut.sum_bits == 16 + (lanes.bit_length() - 1)


def test_gemm_only_array_has_no_dw_ports() -> None:
    lanes = 4
    rng = np.random.default_rng(7)
    dut = PEArray(lanes, depthwise=False)
    assert not hasattr(dut, "x_words") and not hasattr(dut, "mode")
    p = Program(lanes, rng, depthwise=False)
    w = block(rng, lanes)
    for r in range(lanes):
        p.cycle(load=(r, w[r]))
    p.cycle(swap=True)
    for _ in range(30):
        p.cycle(x=p.random_x(dw_ok=False))
    results, issued = run_stream(dut, p.vectors, ["col_sum"], idle=IDLE)
    check_latency(results, issued, PEArray.LATENCY)
    assert [r.values["col_sum"] for r in results] == p.expected


def test_conv_as_gemm_blocks() -> None:
    """A 1x1 conv of C=8 -> K=4 on a 4-lane array: two channel blocks
    accumulated in software from col_sum equal numpy's einsum."""
    lanes, rng = 4, np.random.default_rng(3)
    W = rng.integers(-128, 128, (4, 8))  # [K, C]
    X = rng.integers(-128, 128, (8, 6))  # [C, pixels]
    p = Program(lanes, rng, depthwise=False)
    for cb in range(2):
        for r in range(lanes):  # WBUF word r byte c = W[c, cb*L + r]
            p.cycle(load=(r, W[:, cb * lanes + r]))
        p.cycle(swap=True)
        for px in range(6):
            p.cycle(x=(PEMode.GEMM, X[cb * lanes : (cb + 1) * lanes, px]))
    results, _ = run_stream(PEArray(lanes, depthwise=False), p.vectors, ["col_sum"], idle=IDLE)
    sums = np.array([r.values["col_sum"] for r in results]).reshape(2, 6, lanes).sum(axis=0)
    assert (np.einsum("kc,cp->kp", W, X) == sums.T).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lanes": 6}, "lanes must be a power of two from 2 to 64"),
        ({"lanes": 1}, "lanes must be a power of two from 2 to 64"),
        ({"lanes": 4, "depthwise": "yes"}, "depthwise must be a bool"),
        ({"lanes": 4, "dsp": 17}, "dsp must be None or an integer from 0 to 16"),
    ],
)
def test_parameter_errors(kwargs: dict, message: str) -> None:
    assert_param_error(PEArray, kwargs, message)
