"""benchmarks/fmax_steps.py: nextpnr's phase times, read off hand-written log lines in nextpnr's format."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _steps():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))  # fmax_steps imports bench_synth lazily, as a sibling
    spec = importlib.util.spec_from_file_location("fmax_steps", BENCH / "fmax_steps.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


LOG = """Info: Running main analytical placer, max placement attempts per cell = 10000.
Info: HeAP Placer Time: 90.00s
Info:   of which solving equations: 40.00s
Info: Running simulated annealing placer for refinement.
Info: SA placement time 30.00s
Info: Max frequency for clock '$glbnet$clk': 79.10 MHz (PASS at 12.00 MHz)
Info: Routing complete.
Info: Router1 time 600.00s
"""


def test_placement_is_heap_plus_refinement_and_routing_the_router(tmp_path: Path) -> None:
    log = tmp_path / "nextpnr.log"
    log.write_text(LOG)
    mod = _steps()
    assert mod.phase_minutes(log) == {"place_min": 2.0, "route_min": 10.0}  # (90 + 30) s, 600 s
    assert mod._minutes({"nextpnr_min": 12.3, "place_min": 2.0, "route_min": 10.0}) == "12.3 (place 2.0, route 10.0)"


def test_a_run_stopped_while_routing_has_no_routing_time(tmp_path: Path) -> None:
    log = tmp_path / "nextpnr.log"
    log.write_text(LOG.split("Info: Routing complete.")[0] + "Info:  1000 |  293877 arcs\n")
    assert _steps().phase_minutes(log) == {"place_min": 2.0}
    assert _steps().phase_minutes(tmp_path / "missing.log") == {}
    assert _steps()._minutes({"nextpnr_min": 75.0}) == "75.0"


def test_a_json_config_is_stepped_by_its_own_name(tmp_path: Path) -> None:
    import dataclasses

    from dian.hwgen.presets import PRESETS

    cfg = dataclasses.replace(PRESETS["tiny"], name="chosen-by-explore")
    (tmp_path / "accel.json").write_text(cfg.to_json())
    got = _steps().config(str(tmp_path / "accel.json"))
    assert got == cfg and got.name == "chosen-by-explore"
