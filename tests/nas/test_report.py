"""nas/report.py's text: the predicted and the routed Fmax side by side, and the clock FPS is at."""

from __future__ import annotations

from typing import Any

from dian.nas.report import render_report


def _summary(synth: dict[str, Any] | None, fps_clock: float, is_fmax: bool) -> dict[str, Any]:
    return {
        "options": {"dataset": "digits", "target": "ecp5-85k", "budget_minutes": 0, "front_epochs": 1},
        "settings": {"objective": "latency", "lam": 0.1, "seed": 0, "epochs": 2, "warmup_epochs": 1},
        "epochs_run": 2,
        "search_seconds": 10.0,
        "table_seconds": 5.0,
        "description": ["a net"],
        "hardware": {
            "label": "8x8 PEs",
            "name": "cosearch-8x8-16K-bus64",
            "clock_mhz": 104.2,
            "clock_mhz_asked": 150.0,
            "fmax_mhz_predicted": 104.27,
            "fmax_model": "3 routed point(s) of RTL abc1234, leave-one-out error max 6.0%, mean 3.0%",
        },
        "accuracy": {"float": 0.9, "int8": 0.89},
        "cycles": {"rtl": 20_000, "schedules": 20_000, "tables": 20_010.0},
        "fps": fps_clock * 1e6 / 20_000,
        "fps_clock_mhz": fps_clock,
        "fps_clock_is_fmax": is_fmax,
        "synth": synth,
        "cosim": [],
        "explored": [],
    }


def test_report_states_predicted_and_routed_fmax() -> None:
    synth = {"summary": "s", "place_and_route": True, "fmax_mhz": 98.74, "meets_timing": False}
    text = render_report(_summary(synth, 98.74, True), [])
    row = next(ln for ln in text.splitlines() if ln.startswith("| Fmax |"))
    assert "predicted 104.3 MHz" in row and "routed 98.7 MHz (nextpnr; misses the config's 104.2 MHz)" in row
    assert "leave-one-out error max 6.0%" in row and "the asked 150 MHz capping it" in row
    assert "| FPS | 4,937 at the Fmax nextpnr reported, 98.7 MHz |" in text  # 98.74e6 / 20,000


def test_report_without_place_and_route_prices_at_the_predicted_clock() -> None:
    text = render_report(_summary({"summary": "s", "place_and_route": False}, 104.2, False), [])
    assert "| FPS | 5,210 at the clock the search priced the design at, 104.2 MHz" in text  # 104.2e6 / 20,000
    row = next(ln for ln in text.splitlines() if ln.startswith("| Fmax |"))
    assert "predicted 104.3 MHz" in row and "routed: not measured (no place and route)" in row
