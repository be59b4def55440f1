"""The Fmax a generated accelerator routes at, predicted from its config.

The design searches (search/explore.py, nas/) price a design's latency at a clock. The config's
``clock_mhz`` is the clock asked for; whether the RTL routes at it is nextpnr's verdict, known only
after a place and route of minutes to hours. This model stands in for that verdict: the clock
period (1000 / Fmax, ns) is a linear function of a few features of the config (:data:`FEATURES`),
with coefficients fitted by ``benchmarks/calibrate_fmax.py`` on recorded place-and-route runs of
one RTL revision and kept in ``search/fmax_fit.json`` with their error (leave-one-out when there
are at least two points). The prediction is clamped to the fit's floor and ceiling (the ceiling is
the fastest routed point: a line extrapolated to an empty chip would promise speeds no run has
shown). Targets of a family with no routed point (iCE40, the generic ASIC target) are not
modelled: :func:`predicted_fmax_mhz` returns None and the searches price them at the asked clock.

A design is priced at :func:`priced_clock_mhz`, ``min(predicted Fmax, clock_mhz)``: the asked
clock is a cap (a user who asks for 100 MHz runs at 100 MHz even where the model says 105), and a
design the model says will not route at the ask is priced at what it will route at.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.targets import TARGET_FABRIC, Target

FIT_FILE = Path(__file__).with_name("fmax_fit.json")

#: The fit's regressors, in the order the calibration takes them when it has few points: the
#: constant; the estimated LUTs over the part's (congestion lengthens routes: the routed critical
#: paths are 55-70 % routing); log2 of the lanes (fan-out and adder-tree depth grow with the
#: array); the LUT-built products of the DSP plan in thousands of LUT4 (deep carry chains); the
#: DRAM bus in bytes (the AXI master's datapath, where the recent critical paths end).
FEATURES = ("1", "lut_util", "log2_lanes", "lut_product_kluts", "bus_bytes")


@dataclass(frozen=True)
class FmaxFit:
    """A calibration: period (ns) = ``coef`` . features, clamped to [1000 / ceiling, 1000 / floor]."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    floor_mhz: float
    ceiling_mhz: float
    families: tuple[str, ...]  # target families with routed points ("ecp5")
    points: int
    rtl: str  # the RTL revision the points are of, as the calibration names it
    loo_max_rel: float | None  # leave-one-out relative error of Fmax (None with one point)
    loo_mean_rel: float | None
    ranges: tuple[tuple[str, float, float], ...] = ()  # each feature's (name, min, max) over the points

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FmaxFit:
        err = doc["error"]
        return cls(
            tuple(doc["features"]),
            tuple(float(c) for c in doc["coef"]),
            float(doc["floor_mhz"]),
            float(doc["ceiling_mhz"]),
            tuple(doc["families"]),
            int(err["points"]),
            str(doc["rtl"]),
            err.get("loo_max_rel"),
            err.get("loo_mean_rel"),
            tuple((f, float(lo), float(hi)) for f, (lo, hi) in sorted(doc.get("ranges", {}).items())),
        )

    def error_text(self) -> str:
        """The fit's size and error in one phrase, for reports."""
        if self.loo_max_rel is None or self.loo_mean_rel is None:
            err = "no leave-one-out error (one point)"
        else:
            err = f"leave-one-out error max {self.loo_max_rel:.1%}, mean {self.loo_mean_rel:.1%}"
        return f"{self.points} routed point(s) of RTL {self.rtl}, {err}"


def family(target: Target) -> str:
    """``ecp5`` for both ECP5 parts: one fabric, one timing model, two sizes."""
    return target.value.split("-")[0]


def feature_values(cfg: AccelConfig, part: Target | None = None) -> dict[str, float]:
    """Every feature of :data:`FEATURES` for ``cfg``'s RTL placed on ``part`` (default: its
    target). The RTL is ``cfg``'s (its DSP plan is for ``cfg.target``); only the utilization
    depends on the part, so a preset routed on a larger part is a point of its own."""
    from dian.hwgen.dsp_plan import plan_dsps

    from .resources import estimate

    fabric = TARGET_FABRIC.get(part or cfg.target)
    if fabric is None:
        raise ValueError(f"no Fmax features for {(part or cfg.target).value}: it has no FPGA fabric")
    return {
        "1": 1.0,
        "lut_util": estimate(cfg).luts / fabric.luts,
        "log2_lanes": math.log2(cfg.lanes),
        "lut_product_kluts": plan_dsps(cfg).lut_product_luts / 1000,
        "bus_bytes": float(cfg.bus_bytes),
    }


def period_ns(fit: FmaxFit, values: dict[str, float]) -> float:
    """The fit's clock period for feature ``values``, clamped to the floor and ceiling."""
    raw = sum(c * values[f] for f, c in zip(fit.features, fit.coef, strict=True))
    return min(max(raw, 1000 / fit.ceiling_mhz), 1000 / fit.floor_mhz)


@lru_cache(maxsize=4)
def load_fit(path: Path = FIT_FILE) -> FmaxFit | None:
    """The calibration in ``path``, or None when there is none."""
    if not path.is_file():
        return None
    return FmaxFit.from_json(json.loads(path.read_text()))


def predicted_fmax_mhz(cfg: AccelConfig, fit: FmaxFit | None = None) -> float | None:
    """The Fmax (MHz) ``cfg``'s RTL is predicted to route at on its target; None when the fit
    (default: search/fmax_fit.json) has no routed point of the target's family."""
    fit = fit if fit is not None else load_fit()
    if fit is None or TARGET_FABRIC.get(cfg.target) is None or family(cfg.target) not in fit.families:
        return None
    return 1000 / period_ns(fit, feature_values(cfg))


def extrapolated(cfg: AccelConfig, fit: FmaxFit | None = None) -> list[str]:
    """The features of ``cfg`` outside the range the calibration's points span (a prediction
    there is an extrapolation, whether or not the fit uses the feature), as ``name lo..hi``."""
    fit = fit if fit is not None else load_fit()
    if fit is None or predicted_fmax_mhz(cfg, fit) is None:
        return []
    values = feature_values(cfg)
    return [f"{f} {lo:.3g}..{hi:.3g}" for f, lo, hi in fit.ranges if not lo - 1e-9 <= values[f] <= hi + 1e-9]


def priced_clock_mhz(cfg: AccelConfig, fmax_mhz: float | None) -> float:
    """The clock a design is priced at: its predicted Fmax (rounded down to 0.1 MHz, a clock one can
    ask nextpnr for) capped by the asked ``cfg.clock_mhz`` (the asked clock alone when the target is
    not modelled)."""
    return cfg.clock_mhz if fmax_mhz is None else min(math.floor(fmax_mhz * 10) / 10, cfg.clock_mhz)
