"""benchmarks/bench_qor.py: which place-and-route row speaks for a config, on hand-made rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_qor.py"


def _bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_qor", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_newest_kept_row_on_ecp5_85k_speaks() -> None:
    synth = {
        "fmax_steps": [
            {"config": "small", "target": "ecp5-85k", "started": "2026-12-05 10:00:00", "fmax_mhz": 90.0},
            {"config": "small", "target": "ecp5-25k", "started": "2026-12-05 12:00:00", "fmax_mhz": 99.0},
            {
                "config": "small",
                "target": "ecp5-85k",
                "started": "2026-12-05 11:00:00",
                "fmax_mhz": 96.0,
                "reverted": True,
            },
            {"config": "tiny", "target": "ecp5-85k", "started": "2026-12-05 13:00:00", "fmax_mhz": 120.0},
            {
                "config": "small",
                "target": "ecp5-85k",
                "started": "2026-12-05 14:00:00",
                "fmax_mhz": None,
                "pnr_args": "--router router2",
            },
        ]
    }
    row = _bench().pnr_row("small", synth)
    # not the newer reverted step, not the other part, not the trial of another router
    assert row is not None and row["fmax_mhz"] == 90.0
    assert _bench().pnr_row("nano", synth) is None
