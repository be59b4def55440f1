"""search/fmax.py and benchmarks/calibrate_fmax.py: the Fmax model against figures worked out by
hand from small fit files and point sets, and the searches' ranking at the predicted clock."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import Target
from dian.search.explore import Design, choose, config_of, pareto, smallest_design_params
from dian.search.fmax import (
    FmaxFit,
    extrapolated,
    feature_values,
    load_fit,
    predicted_fmax_mhz,
    priced_clock_mhz,
)

ROOT = Path(__file__).resolve().parents[2]


def _fit(
    tmp_path: Path, features: list[str], coef: list[float], floor: float = 50.0, ceiling: float = 150.0
) -> FmaxFit:
    doc = {
        "rtl": "abc1234",
        "features": features,
        "coef": coef,
        "floor_mhz": floor,
        "ceiling_mhz": ceiling,
        "families": ["ecp5"],
        "error": {"points": 3, "loo_max_rel": 0.05, "loo_mean_rel": 0.02},
        "points": [],
        "ranges": {"log2_lanes": [1.0, 2.0], "bus_bytes": [2.0, 4.0]},
    }
    path = tmp_path / f"fit{len(list(tmp_path.iterdir()))}.json"  # load_fit caches by path
    path.write_text(json.dumps(doc))
    fit = load_fit(path)
    assert fit is not None
    return fit


def test_prediction_from_a_hand_written_fit(tmp_path: Path) -> None:
    # tiny: 4x4 PEs (log2 lanes 2), a 32-bit bus (4 bytes): 6 + 0.5 * 2 + 0.25 * 4 = 8 ns = 125 MHz.
    fit = _fit(tmp_path, ["1", "log2_lanes", "bus_bytes"], [6.0, 0.5, 0.25])
    assert predicted_fmax_mhz(PRESETS["tiny"], fit) == pytest.approx(125.0)
    # nano: 2x2 PEs (log2 1), a 16-bit bus (2 bytes): 6 + 0.5 + 0.5 = 7 ns = 142.86 MHz.
    assert predicted_fmax_mhz(PRESETS["nano"], fit) == pytest.approx(1000 / 7)
    assert fit.error_text() == "3 routed point(s) of RTL abc1234, leave-one-out error max 5.0%, mean 2.0%"


def test_extrapolation_is_flagged(tmp_path: Path) -> None:
    fit = _fit(tmp_path, ["1"], [8.0])  # points of 2x2 to 4x4 PEs (log2 1..2), 16- to 32-bit buses
    assert extrapolated(PRESETS["tiny"], fit) == [] and extrapolated(PRESETS["nano"], fit) == []
    small = PRESETS["small"]  # 8x8 PEs (log2 3), a 64-bit bus (8 bytes)
    assert (small.lanes, small.dram_bus_bits) == (8, 64)
    assert extrapolated(small, fit) == ["bus_bytes 2..4", "log2_lanes 1..2"]


def test_floor_and_ceiling(tmp_path: Path) -> None:
    fast = _fit(tmp_path, ["1"], [2.0])  # 500 MHz by the line: clamped to the ceiling
    assert predicted_fmax_mhz(PRESETS["tiny"], fast) == pytest.approx(150.0)
    slow = _fit(tmp_path, ["1"], [40.0])  # 25 MHz: clamped to the floor
    assert predicted_fmax_mhz(PRESETS["tiny"], slow) == pytest.approx(50.0)


def test_unmodelled_families_and_the_cap(tmp_path: Path) -> None:
    fit = _fit(tmp_path, ["1"], [8.0])  # 125 MHz
    for target in (Target.ICE40_UP5K, Target.GENERIC):
        assert predicted_fmax_mhz(dataclasses.replace(PRESETS["nano"], target=target), fit) is None
    tiny = PRESETS["tiny"]  # asks for 100 MHz
    assert priced_clock_mhz(tiny, 125.0) == 100.0  # the ask caps it
    assert priced_clock_mhz(dataclasses.replace(tiny, clock_mhz=150.0), 112.37) == 112.3  # rounded down
    assert priced_clock_mhz(tiny, None) == 100.0


def test_utilization_is_of_the_part() -> None:
    """Same RTL on the two ECP5 parts: only the LUT utilization differs, by the parts' LUT4 counts
    (24,288 and 83,640, the family data sheet)."""
    tiny = PRESETS["tiny"]
    small_part, big_part = feature_values(tiny, Target.ECP5_25K), feature_values(tiny, Target.ECP5_85K)
    assert small_part["lut_util"] * 24_288 == pytest.approx(big_part["lut_util"] * 83_640)
    assert {k: v for k, v in small_part.items() if k != "lut_util"} == {
        k: v for k, v in big_part.items() if k != "lut_util"
    }
    assert small_part["log2_lanes"] == 2.0 and small_part["bus_bytes"] == 4.0


def _design(trial: int, cycles: int, fmax: float | None, clock: float = 150.0) -> Design:
    cfg = dataclasses.replace(PRESETS["tiny"], clock_mhz=clock)
    return Design(trial, cfg, True, "", cycles, 1.0, None, fmax)


def test_ranking_follows_the_predicted_fmax() -> None:
    # Equal cycles: the design that routes faster has the lower latency (1000 / 120 < 1000 / 100 us).
    slow, fast = _design(0, 1000, 100.0), _design(1, 1000, 120.0)
    assert fast.latency_us == pytest.approx(1000 / 120) and slow.latency_us == pytest.approx(10.0)
    assert choose([slow, fast], "latency") is fast
    assert pareto([slow, fast]) == [fast]
    # More cycles at a higher clock can win: 1,100 at 125 MHz (8.8 us) against 1,000 at 100 (10 us).
    assert choose([_design(0, 1000, 100.0), _design(1, 1100, 125.0)], "latency").trial == 1
    # Both capped at an asked 100 MHz: back to cycles alone.
    assert choose([_design(0, 1000, 140.0, 100.0), _design(1, 990, 100.0, 100.0)], "latency").trial == 1


def test_the_asked_clock_is_the_users(tmp_path: Path) -> None:
    from dian.errors import AccelConfigError
    from dian.explore import explore_model

    params = smallest_design_params(4)
    assert config_of(params, Target.ECP5_85K, 0).clock_mhz == 150.0  # the target's (PLATFORM)
    assert config_of(params, Target.ECP5_85K, 0, 0, 90.0).clock_mhz == 90.0
    with pytest.raises(AccelConfigError, match=r"--max-clock must be 1 to 1000 MHz; got 0\.5"):
        explore_model("zoo:lenet", None, tmp_path / "o", "ecp5-85k", max_clock_mhz=0.5)
    assert not (tmp_path / "o").exists()


sys.path.insert(0, str(ROOT / "benchmarks"))


def test_calibration_leave_one_out_by_hand() -> None:
    import calibrate_fmax as cal

    # A constant model on 100, 125 and 200 MHz (10, 8, 5 ns). Leaving out 100 MHz: the others'
    # mean period 6.5 ns = 153.85 MHz, inside their floor (62.5) and ceiling (200).
    x, fmax = np.ones((3, 1)), np.array([100.0, 125.0, 200.0])
    loo = cal.leave_one_out(x, fmax)
    assert loo is not None
    assert loo[0] == pytest.approx(1000 / 6.5)
    assert loo[1] == pytest.approx(1000 / 7.5)
    # Leaving out 200 MHz: 9 ns = 111.1 MHz, under the others' ceiling of 125 MHz.
    assert loo[2] == pytest.approx(1000 / 9)
    assert cal.leave_one_out(x[:1], fmax[:1]) is None
    # A line through two points of period 10 and 8 ns at utilization 0.5 and 0.25 predicts the
    # third exactly when it is on the line (0.0 -> 6 ns), but the ceiling of the two is 125 MHz.
    xs = np.array([[1, 0.5], [1, 0.25], [1, 0.0]])
    loo = cal.leave_one_out(xs, np.array([100.0, 125.0, 1000 / 6]))
    assert loo is not None and loo[2] == pytest.approx(125.0)
    # Non-negative coefficients: 8 ns at utilization 0.5 and 10 ns at 0.25 would be a falling line
    # (12 - 8 u); the fit keeps the slope at 0 and takes the mean period, 9 ns.
    coef, floor, ceiling = cal.solve(xs[:2], np.array([125.0, 100.0]))
    assert coef == pytest.approx([9.0, 0.0]) and (floor, ceiling) == (50.0, 125.0)


def test_calibration_takes_at_most_n_minus_one_features() -> None:
    import calibrate_fmax as cal

    names = ("1", "a", "b", "c")
    x = np.array([[1, 0.1, 2, 5], [1, 0.2, 2, 7], [1, 0.4, 2, 4], [1, 0.3, 2, 9]])
    assert cal.choose_features(x, names) == [0, 1, 3]  # "b" is constant: no rank; 4 points: 3 columns
    assert cal.choose_features(x[:2], names) == [0]  # two points: the constant alone
    assert cal.choose_features(x[:1], names) == [0]


def test_the_shipped_fit_is_of_recorded_runs() -> None:
    """Each point of search/fmax_fit.json is a routed row of the results files, with its Fmax."""
    doc = json.loads((ROOT / "search" / "fmax_fit.json").read_text())
    synth = json.loads((ROOT / "benchmarks/results/synth_ecp5.json").read_text())
    extra_path = ROOT / "benchmarks/results/fmax_points.json"
    extra = json.loads(extra_path.read_text())["rows"] if extra_path.is_file() else []
    rows = [*synth["results"], *synth["fmax_steps"], *extra]
    assert doc["error"]["points"] == len(doc["points"]) >= 1
    for p in doc["points"]:
        assert any(
            r.get("started") == p["started"] and r["target"] == p["target"] and round(r["fmax_mhz"], 2) == p["fmax_mhz"]
            for r in rows
            if r.get("fmax_mhz") is not None
        ), p
