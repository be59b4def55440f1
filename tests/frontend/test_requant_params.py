"""Requantization parameters on hand-computed cases, and their invariants."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dian.frontend.requant_params import RatioRangeError, multiplier_shift, per_channel, per_tensor, shared_shift


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (0.5, (2**30, 31)),  # 0.5 = 2^30 / 2^31
        (0.75, (3 * 2**29, 31)),  # 0.75 = 0.75 * 2^31 / 2^31
        (1.0, (2**30, 30)),
        (3.0, (3 * 2**29, 29)),  # 3 = 0.75 * 2^2
        (0.25, (2**30, 32)),  # the 2x2 average pool
        (1 / 254, (round(2**38 / 254), 38)),  # 1/254 = (128/254) * 2^-7
        (2.0**30, (2**30, 0)),
        (2.0**31 - 1, (2**31 - 1, 0)),  # largest representable: shift 0
        (1 - 2.0**-40, (2**30, 30)),  # rounds up to 2^31, renormalized
    ],
)
def test_hand_computed_cases(ratio: float, expected: tuple[int, int]) -> None:
    assert multiplier_shift(ratio) == expected


def test_one_third() -> None:
    # 1/3 = (2/3) * 2^-1 -> M = round(2/3 * 2^31) = 1431655765 (.33 rounds down), s = 32
    assert multiplier_shift(1 / 3) == (1431655765, 32)


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (2.0**-40, (2**22, 62)),  # shift capped at 62, multiplier unnormalized
        (0.75 * 2.0**-62, (1, 62)),  # 0.75 rounds to 1
        (2.0**-63, (0, 62)),  # exactly 0.5 at shift 62: half to even gives 0
        (2.0**-70, (0, 62)),
    ],
)
def test_tiny_ratios(ratio: float, expected: tuple[int, int]) -> None:
    assert multiplier_shift(ratio) == expected


@pytest.mark.parametrize("ratio", [2.0**31, 1e12, 0.0, -0.5, math.inf, math.nan])
def test_unrepresentable_ratios_raise(ratio: float) -> None:
    with pytest.raises(RatioRangeError):
        multiplier_shift(ratio)


@given(st.floats(min_value=2.0**-31, max_value=2.0**30, allow_nan=False, allow_infinity=False))
def test_normalized_and_within_half_a_unit(ratio: float) -> None:
    m, s = multiplier_shift(ratio)
    assert 2**30 <= m < 2**31 and 0 <= s <= 62
    assert abs(Fraction(m) - Fraction(ratio) * 2**s) <= Fraction(1, 2)


def test_per_channel_and_per_tensor() -> None:
    rq = per_channel([0.5, 3.0])
    assert rq.multiplier == (2**30, 3 * 2**29) and rq.shift == (31, 29)
    assert per_tensor(0.25).multiplier == (2**30,) and per_tensor(0.25).shift == (32,)


def test_shared_shift_normalizes_the_larger_ratio() -> None:
    rq = shared_shift([0.25, 0.5])
    assert rq.multiplier == (2**29, 2**30) and rq.shift == (31,)
    rq = shared_shift([0.2, 3.0])  # shift from 3.0 (29); 0.2 * 2^29 = 107374182.4
    assert rq.multiplier == (107374182, 3 * 2**29) and rq.shift == (29,)
