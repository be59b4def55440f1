"""Integer requantization parameters: a real scale ratio as ``M / 2**s``.

The IR (ir/ops.py) rescales with ``round_shift(x * M, s)``, ``0 <= M < 2**31``
and ``0 <= s <= 62``. To keep the most precision, M is normalized into
``[2**30, 2**31)`` (31 significant bits), the TFLite convention:

* ``ratio = m * 2**e`` with ``m`` in [0.5, 1) (``math.frexp``);
* ``M = round_half_even(m * 2**31)``, ``s = 31 - e``; if rounding gives
  ``M == 2**31`` it becomes ``2**30`` with ``s - 1``;
* a ratio too small for ``s <= 62`` keeps ``s = 62`` and the unnormalized
  ``M = round(ratio * 2**62)``, which is 0 only when ``ratio * 2**62 < 0.5``;
* a ratio of ``2**31`` or more cannot be written with ``s >= 0`` and raises.

Hand-checkable examples: 0.5 -> (2**30, 31); 0.75 -> (3 * 2**29, 31);
1.0 -> (2**30, 30); 3.0 -> (3 * 2**29, 29).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dian.ir import Requant

MULT_BITS = Requant.MULTIPLIER_BITS  # 31
MAX_SHIFT = Requant.MAX_SHIFT  # 62


class RatioRangeError(ValueError):
    """A ratio that no (M, s) in the IR's range can represent; callers turn it
    into a QuantizationError naming the layer."""


def multiplier_shift(ratio: float) -> tuple[int, int]:
    """``(M, s)`` with ``M / 2**s`` the closest representable value to ``ratio``
    (normalized as described in the module docstring)."""
    if not (math.isfinite(ratio) and ratio > 0):
        raise RatioRangeError(f"scale ratio {ratio!r} must be positive and finite")
    m, e = math.frexp(ratio)
    shift = MULT_BITS - e
    mult = round(math.ldexp(m, MULT_BITS))  # exact product; Python rounds half to even
    if mult == 1 << MULT_BITS:
        mult, shift = mult >> 1, shift - 1
    if shift < 0:
        raise RatioRangeError(f"scale ratio {ratio:.6g} is at least 2^31, beyond a 31-bit multiplier with shift >= 0")
    if shift > MAX_SHIFT:
        return round(math.ldexp(ratio, MAX_SHIFT)), MAX_SHIFT
    return mult, shift


def per_channel(ratios: Sequence[float]) -> Requant:
    """One independently normalized (M, s) per output channel."""
    pairs = [multiplier_shift(float(r)) for r in ratios]
    return Requant(tuple(m for m, _ in pairs), tuple(s for _, s in pairs))


def per_tensor(ratio: float) -> Requant:
    """A single (M, s) for the whole tensor (pooling)."""
    return per_channel([ratio])


def shared_shift(ratios: Sequence[float]) -> Requant:
    """Multipliers for several inputs summed before one rounding (Add):
    the shift normalizes the largest ratio into [2**30, 2**31); the others use
    the same shift, ``M_i = round(ratio_i * 2**s)``."""
    _, shift = multiplier_shift(max(float(r) for r in ratios))
    mults = tuple(round(math.ldexp(float(r), shift)) for r in ratios)
    return Requant(mults, (shift,))
