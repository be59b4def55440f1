"""How a calibrated activation range is chosen from the values a tensor took.

``max`` (the default) is the largest ``|x|`` seen: nothing saturates on the calibration data, and
one outlier sets the step of every other value. ``percentile`` and ``mse`` trade a few saturated
outliers for a finer step:

* ``percentile``: the ``p``-th percentile of ``|x|`` over every element of every sample
  (:data:`DEFAULT_PERCENTILE` unless the user gives one);
* ``mse``: the clipping range ``r`` that minimizes the expected squared quantization error of the
  values seen, over :data:`MSE_CANDIDATES` candidates ``r = max * k / MSE_CANDIDATES``. With
  ``step = r / 127`` a value inside the range costs ``step**2 / 12`` (uniform rounding noise;
  exact zeros, which int8 holds exactly, cost nothing) and a value beyond it ``(|x| - r)**2``.

Memory stays bounded whatever the sample count: each tensor keeps one histogram of ``|x|``
(:class:`AbsHistogram`, :data:`BINS` counts) instead of its values. The histogram's top edge is a
power of two that doubles (merging bin pairs, which is exact) when larger values arrive, so one
pass over the samples suffices and at least half of the bins cover the values seen. Percentiles
are interpolated linearly within a bin, so they are exact to within one bin width
(``top / BINS``, at most ``2 * max / BINS``).
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from dian.errors import QuantizationError

BINS = 4096
DEFAULT_PERCENTILE = 99.99
MSE_CANDIDATES = 512
QMAX = 127  # the positive end of int8, as in scales.activation_scale


class CalibMethod(str, Enum):
    """How the range of each activation tensor is chosen from its calibration values."""

    MAX = "max"
    PERCENTILE = "percentile"
    MSE = "mse"


def calib_method(name: str) -> CalibMethod:
    """The method called ``name``, or a :class:`QuantizationError` listing the methods."""
    try:
        return CalibMethod(name)
    except ValueError:
        allowed = ", ".join(m.value for m in CalibMethod)
        raise QuantizationError(f"unknown calibration method {name!r}; the methods are {allowed}.") from None


def check_percentile(p: float) -> float:
    """``p`` if it is a percentile dian can use (0 < p <= 100), else a :class:`QuantizationError`."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0 < p <= 100):
        raise QuantizationError(f"calibration percentile {p!r} is not in (0, 100]; e.g. 99.99 (the default).")
    return float(p)


class AbsHistogram:
    """Counts of ``|x|`` in :data:`BINS` equal bins over ``[0, top]``, ``top`` a power of two
    (0 until a non-zero value arrives); exact zeros are also counted on their own."""

    def __init__(self) -> None:
        self.counts = np.zeros(BINS, dtype=np.int64)
        self.top = 0.0
        self.zeros = 0
        self.max = 0.0

    def add(self, values: np.ndarray) -> None:
        """Count the magnitudes of ``values`` (finite; the caller reports inf/NaN)."""
        a = np.abs(np.asarray(values, dtype=np.float64)).ravel()
        if a.size == 0:
            return
        self.zeros += int(np.count_nonzero(a == 0))
        m = float(a.max())
        self.max = max(self.max, m)
        if m == 0:
            self.counts[0] += a.size
            return
        if self.top == 0:
            self.top = math.ldexp(1.0, math.frexp(m)[1])  # the power of two above m
        while m > self.top:  # double the range: bin pairs merge exactly
            self.counts = np.concatenate([self.counts.reshape(-1, 2).sum(axis=1), np.zeros(BINS // 2, np.int64)])
            self.top *= 2
        idx = np.minimum((a * (BINS / self.top)).astype(np.int64), BINS - 1)
        self.counts += np.bincount(idx, minlength=BINS)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of the magnitudes counted, linear within its bin."""
        if self.top == 0:
            return 0.0
        want = p / 100 * self.total
        cum = np.cumsum(self.counts)
        b = int(np.searchsorted(cum, want, side="left"))
        b = min(b, BINS - 1)
        below = float(cum[b - 1]) if b > 0 else 0.0
        inside = float(self.counts[b])
        frac = (want - below) / inside if inside > 0 else 1.0
        width = self.top / BINS
        return min(self.max, (b + min(max(frac, 0.0), 1.0)) * width)

    def mse_range(self) -> float:
        """The candidate clipping range with the least expected squared quantization error."""
        if self.top == 0:
            return 0.0
        width = self.top / BINS
        centers = (np.arange(BINS) + 0.5) * width
        centers = np.minimum(centers, self.max)  # the last bin's values are at most max
        counts = self.counts.astype(np.float64)
        nonzero = counts.copy()
        nonzero[0] -= self.zeros
        r = self.max * np.arange(1, MSE_CANDIDATES + 1) / MSE_CANDIDATES
        first_over = np.searchsorted(centers, r, side="right")  # bins whose center lies beyond r
        inside = np.concatenate([[0.0], np.cumsum(nonzero)])[first_over]

        def tail(w: np.ndarray) -> np.ndarray:  # sum of w over the bins from first_over on
            return np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])[first_over]

        clipped = tail(counts * centers**2) - 2 * r * tail(counts * centers) + r**2 * tail(counts)
        err = inside * (r / QMAX) ** 2 / 12 + np.maximum(clipped, 0.0)
        return float(r[int(np.argmin(err))])


def choose_range(hist: AbsHistogram, method: CalibMethod, percentile: float = DEFAULT_PERCENTILE) -> float:
    """The range ``method`` picks from ``hist`` (``max``: the exact largest magnitude)."""
    if method is CalibMethod.PERCENTILE:
        return hist.percentile(percentile)
    if method is CalibMethod.MSE:
        return hist.mse_range()
    return hist.max
