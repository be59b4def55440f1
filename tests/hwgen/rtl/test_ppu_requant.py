"""PPURequant against the reference simulator's ``requantize`` (round half up)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pipeline_harness import assert_param_error, check_latency, run_stream

from dian.hwgen.rtl.ppu_requant import PPURequant
from dian.ir import Requant
from dian.sim.reference import requantize

M_MAX = 2**31 - 1


def expected(v: dict) -> list[int]:
    total = np.asarray(v["acc"], dtype=np.int64) + np.asarray(v["bias"], dtype=np.int64)
    rq = Requant(tuple(v["multiplier"]), tuple(v["shift"]))
    return [int(q) for q in requantize(total[None, :], rq, 1, v["lo"], v["hi"])[0]]


def split(rng: random.Random, total: int, acc_bits: int) -> tuple[int, int]:
    """An (acc, bias) pair with acc + bias == total, acc in acc_bits, bias in int32."""
    half = 2 ** (acc_bits - 1)
    bias = rng.choice([0, rng.randint(-1000, 1000), rng.randint(-(2**31), 2**31 - 1)])
    acc = total - bias
    if not -half <= acc < half:
        acc, bias = total, 0
    return acc, bias


def lane_case(rng: random.Random, acc_bits: int) -> tuple[int, int, int]:
    """(acc + bias, M, s) for one lane: edge values, exact ties, outputs inside int8."""
    top = 2 ** (acc_bits - 1) - 1
    kind = rng.randrange(6)
    if kind == 0:  # extremes
        return (
            rng.choice([top, -top, top - 1, -top + 1, 0, 1, -1]),
            rng.choice([0, 1, M_MAX, 2**30]),
            rng.choice([0, 1, 31, 61, 62]),
        )
    if kind == 1:  # tie, x = odd * 2**(s-1) through M
        s = rng.randint(1, 31)
        odd = 2 * rng.randint(-100, 100) + 1
        return odd, 2 ** (s - 1), s
    if kind == 2:  # tie through acc
        s = rng.randint(1, min(20, acc_bits - 9))
        return (2 * rng.randint(-100, 99) + 1) * 2 ** (s - 1), 1, s
    if kind == 3:  # realistic: M normalized, output lands in or near int8
        s = rng.randint(31, 50)
        m = rng.randint(2**30, M_MAX)
        target = rng.randint(-140, 140)
        return max(-top, min(top, (target * 2**s) // m + rng.randint(-2, 2))), m, s
    if kind == 4:  # anything
        return rng.randint(-top, top), rng.randint(0, M_MAX), rng.randint(0, 62)
    s = rng.randint(0, 62)  # large products near the shift boundary
    return rng.randint(-top, top), rng.randint(2**30, M_MAX), s


def vectors(rng: random.Random, lanes: int, acc_bits: int, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        acc, bias, ms, ss = [], [], [], []
        for _ in range(lanes):
            total, m, s = lane_case(rng, acc_bits)
            a, b = split(rng, total, acc_bits)
            acc.append(a), bias.append(b), ms.append(m), ss.append(s)
        lo = rng.choice([-128, 0, rng.randint(-128, 0)])
        hi = rng.choice([127, 6, rng.randint(max(lo, 0), 127)])
        out.append({"acc": acc, "bias": bias, "multiplier": ms, "shift": ss, "lo": lo, "hi": hi})
    return out


@pytest.mark.parametrize(
    "lanes, acc_bits, dsp",
    [
        (4, 32, None),
        (2, 16, None),
        (2, 18, None),
        (2, 19, None),
        (8, 24, None),
        (16, 32, None),
        (4, 32, 0),
        (4, 32, 9),
        (2, 16, 1),
    ],
)
def test_matches_reference_requantize(lanes: int, acc_bits: int, dsp: int | None) -> None:
    """Also with every (dsp=0) or some partial products in LUTs (hwgen/rtl/multiplier.py)."""
    rng = random.Random(lanes * 100 + acc_bits)
    vecs = vectors(rng, lanes, acc_bits, 600 if lanes <= 4 else 150)
    results, issued = run_stream(PPURequant(lanes, acc_bits, dsp=dsp), vecs, ["out", "overflow"], gap_seed=acc_bits)
    check_latency(results, issued, PPURequant.LATENCY)
    inside = 0
    for v, r in zip(vecs, results, strict=True):
        assert r.values["out"] == expected(v), v
        assert r.values["overflow"] == 0
        inside += sum(v["lo"] < q < v["hi"] for q in r.values["out"])
    assert inside > len(vecs) * lanes // 4  # the cases exercise rounding, not just saturation


def test_hand_cases() -> None:
    """round_shift's rule by hand: ties go up (toward +inf), also when negative."""
    cases = [  # acc, M, s, expected before clamp
        (5, 1, 1, 3),
        (-5, 1, 1, -2),
        (3, 1, 1, 2),
        (-3, 1, 1, -1),
        (6, 1, 2, 2),
        (-6, 1, 2, -1),
        (7, 1, 0, 7),
        (-128 * 2**20, 1, 20, -128),
        (2**31 - 1, M_MAX, 62, 1),
        (-(2**31 - 1), M_MAX, 62, -1),
        (2**31 - 1, M_MAX, 61, 2),
        (100, 0, 5, 0),
        (-(2**31) + 1, 1, 0, -128),
        (1, 2**30, 31, 1),
        (-1, 2**30, 31, 0),
    ]
    vecs = [
        {"acc": [a, a], "bias": [0, 0], "multiplier": [m, m], "shift": [s, s], "lo": -128, "hi": 127}
        for a, m, s, _ in cases
    ]
    results, _ = run_stream(PPURequant(2, 32), vecs, ["out"])
    for (a, m, s, want), r in zip(cases, results, strict=True):
        assert r.values["out"] == [max(-128, min(127, want))] * 2, (a, m, s)
        assert (
            r.values["out"]
            == expected({"acc": [a], "bias": [0], "multiplier": [m], "shift": [s], "lo": -128, "hi": 127}) * 2
        )


def test_overflow_flag() -> None:
    vecs = [
        {"acc": [2**15 - 1, 0], "bias": [1, 0], "multiplier": [1, 1], "shift": [0, 0], "lo": -128, "hi": 127},
        {"acc": [2**15 - 1, -(2**15)], "bias": [0, 0], "multiplier": [1, 1], "shift": [0, 0], "lo": -128, "hi": 127},
        {"acc": [0, -(2**15)], "bias": [0, -1], "multiplier": [1, 1], "shift": [0, 0], "lo": -128, "hi": 127},
    ]
    results, _ = run_stream(PPURequant(2, 16), vecs, ["overflow"])
    assert [r.values["overflow"] for r in results] == [1, 0, 1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lanes": 3}, "lanes must be a power of two from 2 to 64"),
        ({"lanes": 128}, "lanes must be a power of two from 2 to 64"),
        ({"lanes": 4, "acc_bits": 33}, "acc_bits must be an integer from 16 to 32"),
        ({"lanes": 4, "acc_bits": 8}, "acc_bits must be an integer from 16 to 32"),
        ({"lanes": 4, "acc_bits": 32, "dsp": -1}, "dsp must be None or an integer from 0 to 16"),
        ({"lanes": 4, "acc_bits": 16, "dsp": 9}, "dsp must be None or an integer from 0 to 8"),
        ({"lanes": 4, "rate": 3}, r"rate must be one of \(1, 2, 4\) and at most lanes / 2 \(2\)"),
        ({"lanes": 4, "rate": 4}, "rate must be one of"),
        ({"lanes": 8, "acc_bits": 32, "rate": 2, "dsp": 17}, "dsp must be None or an integer from 0 to 16"),
    ],
)
def test_parameter_errors(kwargs: dict, message: str) -> None:
    assert_param_error(PPURequant, kwargs, message)


@pytest.mark.parametrize("lanes, rate, dsp", [(4, 2, None), (8, 4, 5), (16, 2, 0)])
def test_rate_matches_reference(lanes: int, rate: int, dsp: int | None) -> None:
    """A word every ``rate`` cycles (idle cycles between, with other inputs on the ports: the unit
    must use what it latched), ``rate - 1`` edges later than at rate 1."""
    rng = random.Random(lanes * 10 + rate)
    vecs = vectors(rng, lanes, 32, 120)
    junk = vectors(rng, lanes, 32, 1)[0]
    paced = [x for v in vecs for x in [v] + [{**junk, "in_valid": 0}] * (rate - 1)]
    dut = PPURequant(lanes, 32, rate=rate, dsp=dsp)
    assert dut.slots == lanes // rate
    results, issued = run_stream(dut, paced, ["out", "overflow"], gap_seed=rate, drain=20)
    check_latency(results, issued, PPURequant.LATENCY + rate - 1)
    for v, r in zip(vecs, results, strict=True):
        assert r.values["out"] == expected(v), v
        assert r.values["overflow"] == 0


def test_rate_overflow_flag() -> None:
    """The flag of a word at rate 2 is any lane's, in either of its cycles, and only that word's."""
    ok = {"bias": [0] * 4, "multiplier": [1] * 4, "shift": [0] * 4, "lo": -128, "hi": 127}
    vecs = [
        {**ok, "acc": [0, 0, 0, 2**15 - 1], "bias": [0, 0, 0, 1]},
        {**ok, "acc": [0, 0, 0, 0]},
        {**ok, "acc": [-(2**15), 0, 0, 0], "bias": [-1, 0, 0, 0]},
        {**ok, "acc": [2**15 - 1, 0, 0, 0]},
    ]
    paced = [x for v in vecs for x in (v, {**ok, "acc": [0] * 4, "in_valid": 0})]
    results, _ = run_stream(PPURequant(4, 16, rate=2), paced, ["overflow"])
    assert [r.values["overflow"] for r in results] == [1, 0, 1, 0]
