"""AccUpdate: reset/accumulate against plain integer sums, overflow flag."""

from __future__ import annotations

import random

import pytest
from pipeline_harness import assert_param_error, check_latency, run_stream

from dian.hwgen.rtl.accumulator import AccUpdate


@pytest.mark.parametrize("lanes, acc_bits, sum_bits", [(4, 32, 18), (16, 32, 20), (2, 16, 17)])
def test_read_modify_write(lanes: int, acc_bits: int, sum_bits: int) -> None:
    rng = random.Random(acc_bits + lanes)
    half, shalf = 2 ** (acc_bits - 1), 2 ** (sum_bits - 1)
    vecs, want = [], []
    for _ in range(300):
        reset = rng.random() < 0.3
        acc = [rng.randint(-half, half - 1) for _ in range(lanes)]
        cs = []
        for a in acc:  # a sum that keeps the exact result in range (the verifier's guarantee)
            lo, hi = max(-shalf, -half - (0 if reset else a)), min(shalf - 1, half - 1 - (0 if reset else a))
            cs.append(rng.choice([lo, hi, rng.randint(lo, hi)]))
        vecs.append({"col_sum": cs, "acc_in": acc, "reset": int(reset)})
        want.append(cs if reset else [a + s for a, s in zip(acc, cs, strict=True)])
    results, issued = run_stream(AccUpdate(lanes, acc_bits, sum_bits), vecs, ["acc_out", "overflow"], gap_seed=1)
    check_latency(results, issued, AccUpdate.LATENCY)
    assert [r.values["acc_out"] for r in results] == want
    assert not any(r.values["overflow"] for r in results)


def test_overflow_flag() -> None:
    top = 2**15 - 1
    vecs = [
        {"col_sum": [1, 0], "acc_in": [top, 0], "reset": 0},  # wraps
        {"col_sum": [1, 0], "acc_in": [top, 0], "reset": 1},  # reset: 1
        {"col_sum": [0, -1], "acc_in": [0, -top - 1], "reset": 0},  # wraps below
        {"col_sum": [2**16, 0], "acc_in": [0, 0], "reset": 1},
    ]  # a 17-bit sum that cannot fit
    results, _ = run_stream(AccUpdate(2, 16, 18), vecs, ["overflow", "acc_out"])
    assert [r.values["overflow"] for r in results] == [1, 0, 1, 1]
    assert results[1].values["acc_out"] == [1, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lanes": 5}, "lanes must be a power of two"),
        ({"lanes": 4, "acc_bits": 40}, "acc_bits must be an integer from 16 to 32"),
        ({"lanes": 4, "sum_bits": 64}, "sum_bits must be an integer from 2 to 40"),
    ],
)
def test_parameter_errors(kwargs: dict, message: str) -> None:
    assert_param_error(AccUpdate, kwargs, message)
