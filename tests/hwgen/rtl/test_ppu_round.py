"""RoundClamp against sim.reference.round_shift (hypothesis, derandomized)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pipeline_harness import assert_param_error, check_latency, run_stream

from dian.hwgen.rtl.ppu_round import RoundClamp
from dian.sim.reference import round_shift

LANES, BITS = 2, 63


@st.composite
def word(draw) -> dict:
    values = [
        draw(
            st.one_of(
                st.integers(-(2**62), 2**62 - 1),
                st.integers(-(2**20), 2**20),
                st.sampled_from([-(2**62), 2**62 - 1, 0, -1, 1]),
            )
        )
        for _ in range(LANES)
    ]
    shifts = [draw(st.integers(0, 62)) for _ in range(LANES)]
    lo = draw(st.integers(-128, 127))
    return {"value": values, "shift": shifts, "lo": lo, "hi": draw(st.integers(lo, 127))}


@settings(derandomize=True, max_examples=20, deadline=None)
@given(st.lists(word(), min_size=1, max_size=40))
def test_matches_round_shift(vecs: list[dict]) -> None:
    results, issued = run_stream(RoundClamp(LANES, BITS), vecs, ["out"], gap_seed=0)
    check_latency(results, issued, RoundClamp.LATENCY)
    for v, r in zip(vecs, results, strict=True):
        want = np.clip(
            round_shift(np.asarray(v["value"], np.int64), np.asarray(v["shift"], np.int64)), v["lo"], v["hi"]
        )
        assert r.values["out"] == [int(q) for q in want], v


def test_parameter_errors() -> None:
    assert_param_error(RoundClamp, {"lanes": 4, "in_bits": 1}, "in_bits must be an integer from 2 to 96")
    assert_param_error(RoundClamp, {"lanes": 3, "in_bits": 20}, "lanes must be a power of two")
