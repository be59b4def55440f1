"""search/explore.py and `dian explore`: the Pareto front, config validity,
and an end-to-end exploration of LeNet whose chosen design simulates with
exactly the cycles the exploration predicted."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from dian.errors import AccelConfigError, MappingError
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import Target
from dian.search.explore import Design, choose, config_of, misfit_reason, pareto


def _d(trial: int, cycles: int, energy: float, fits: bool = True) -> Design:
    return Design(trial, dataclasses.replace(PRESETS["tiny"], clock_mhz=100.0), fits, "", cycles, energy)


def test_pareto_front_keeps_the_undominated_fitting_designs() -> None:
    ds = [
        _d(0, 100, 5.0),
        _d(1, 200, 4.0),
        _d(2, 150, 6.0),
        _d(3, 300, 1.0),
        _d(4, 50, 0.5, fits=False),
        _d(5, 200, 4.0),
    ]
    assert [d.trial for d in pareto(ds)] == [0, 1, 3]  # 2 is beaten by 0; 4 does not fit; 5 ties 1 (kept once)


def test_ties_go_to_the_design_on_the_front() -> None:
    ds = [_d(0, 100, 5.0), _d(1, 100, 4.0), _d(2, 100, 4.0), _d(3, 90, 9.0, fits=False)]
    assert choose(ds, "latency").trial == 1  # equal cycles: the lower energy (0 is dominated by 1)
    assert choose(ds, "energy").trial == 1
    assert choose(ds, "edp").trial == 1
    assert choose(ds, "latency") in pareto(ds)


def test_invalid_parameters_are_rejected() -> None:
    params = {
        "lanes": 16,
        "bus_bits": 128,
        "ibuf_log2": 17,
        "wbuf_log2": 16,
        "abuf_log2": 17,
        "obuf_log2": 15,
        "imem": 1024,
        "depthwise": "yes",
    }
    with pytest.raises(AccelConfigError, match="on-chip RAM") as e:
        config_of(params, Target.ECP5_25K, 0)  # 352 KiB of buffers on a 126 KiB part
    # 56 EBR x 18 Kbit = 129,024 bytes; 2**17 + 2**16 + 2**17 + 2**15 = 360,448 bytes of buffers
    assert misfit_reason(e.value) == (
        "target = 'ecp5-25k' is not allowed; its on-chip RAM holds 129024 bytes but the buffers need 360448"
    )
    assert "ecp5-25k" not in str(e.value).split("; ")[-1]  # the advice names only targets that hold them
    cfg = config_of({**params, "ibuf_log2": 14, "abuf_log2": 14, "wbuf_log2": 12}, Target.ECP5_85K, 3)
    assert cfg.name == "dse-3" and cfg.dram_latency == 24 and cfg.clock_mhz == 150.0


@pytest.fixture(scope="module")
def explored(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from dian.explore import explore_model

    out = tmp_path_factory.mktemp("ex") / "lenet-dse"
    explore_model("zoo:lenet", (1, 1, 8, 8), out, "ecp5-25k", "edp", trials=6, seed=1, calib_samples=8, rtl=False)
    return out


def test_explore_writes_the_chosen_design_and_the_front(explored: Path) -> None:
    files = {p.name for p in (explored / "explore").iterdir()}
    assert files == {"designs.json", "pareto.md", "pareto.png"}
    assert (explored / "explore/pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    designs = json.loads((explored / "explore/designs.json").read_text())
    assert len(designs) == 6 and any(d["fits"] for d in designs)
    chosen = min((d for d in designs if d["fits"]), key=lambda d: (d["latency_us"] * d["energy_uj"], d["trial"]))
    accel = json.loads((explored / "accel.json").read_text())
    # Compiled at the clock it was priced at: the predicted Fmax capped by the target's 100 MHz.
    f = chosen["fmax_mhz_predicted"]
    assert chosen["clock_mhz_priced"] == (100.0 if f >= 100.0 else pytest.approx(f, abs=0.1))
    assert accel == {**chosen["config"], "clock_mhz": chosen["clock_mhz_priced"]}
    assert chosen["latency_us"] == pytest.approx(chosen["cycles"] / chosen["clock_mhz_priced"])
    table = (explored / "explore/pareto.md").read_text()
    row = next(ln for ln in table.splitlines() if "**chosen**" in ln).split(" | ")
    header = next(ln for ln in table.splitlines() if ln.startswith("| trial |")).split(" | ")
    assert row[header.index("Fmax MHz (pred.)")].rstrip("*") == f"{f:.1f}"
    assert row[header.index("clock MHz")] == f"{chosen['clock_mhz_priced']:g}"
    manifest = json.loads((explored / "manifest.json").read_text())
    assert "explore/pareto.png" in manifest["files"] and manifest["accel"]["mapping"]["objective"] == "edp"


def test_the_chosen_design_runs_in_the_predicted_cycles(explored: Path) -> None:
    from dian import api

    designs = json.loads((explored / "explore/designs.json").read_text())
    accel = json.loads((explored / "accel.json").read_text())
    predicted = next(d["cycles"] for d in designs if {**d["config"], "clock_mhz": d["clock_mhz_priced"]} == accel)
    x = np.random.default_rng(0).uniform(0, 1, (1, 1, 8, 8)).astype(np.float32)
    res = api.simulate_model(explored, x)
    assert res.machine.counters.cycles == predicted


def test_bad_arguments_write_nothing(tmp_path: Path) -> None:
    from dian.explore import explore_model

    with pytest.raises(AccelConfigError, match="unknown target 'virtex'"):
        explore_model("zoo:lenet", None, tmp_path / "o", "virtex")
    with pytest.raises(MappingError, match="got 'fast'"):
        explore_model("zoo:lenet", None, tmp_path / "o", "ecp5-25k", objective="fast")
    assert not (tmp_path / "o").exists()


def test_no_design_fits_the_ice40(tmp_path: Path) -> None:
    """The UP5K's 5,280 LUT4 and 30 SB_RAM40_4K hold not even nano: 40 block RAMs by hand
    (tests/e2e/test_nano.py; Yosys counts the same), and LUTs that Yosys measures at about twice
    the part's (benchmarks/results/ice40.md)."""
    from dian.explore import explore_model

    with pytest.raises(AccelConfigError, match="fits ice40-up5k's logic") as e:
        explore_model("zoo:lenet", None, tmp_path / "o", "ice40-up5k", trials=2)
    msg = str(e.value)
    assert "the nano preset (2x2 PEs, the least hardware that runs LeNet) needs ~" in msg
    # 70 % of the UP5K's 5,280 LUTs (search/explore.py ROUTABLE_LUT_SHARE)
    assert (
        " LUT4 of the 3,696 a design may use (70% of its 5,280) and 40 block RAMs of its 30; pick a larger target."
        in msg
    )
    assert not (tmp_path / "o").exists()


def test_fusion_draws_fusion_buffers_priced_as_the_machine_runs_them() -> None:
    """`--fusion`: trials with the depthwise unit draw an FBUF (at most the IBUF) and stage P2; a drawn
    FBUF design's cycles are what sim/machine counts for the program the compile would lower."""
    from machine_cases import random_inputs
    from test_machine_fusion import three_blocks

    from dian.hwgen.accel_config import Dataflow
    from dian.hwgen.lower.graph import lower_graph
    from dian.search.explore import explore
    from dian.search.mapper import map_graph
    from dian.sim.machine import run_lowered

    g = three_blocks()
    designs = explore(g, Target.ECP5_85K, "latency", trials=10, seed=0, fusion=True)
    fb = [d for d in designs if d.cfg.fbuf.bytes]
    assert fb and any(d.cfg.fuse_expand for d in fb), [d.cfg for d in designs]
    assert all(Dataflow.DEPTHWISE in d.cfg.dataflows and d.cfg.fbuf.bytes <= d.cfg.ibuf.bytes for d in fb)
    d = next(d for d in fb if d.fits and d.cfg.fuse_expand)
    low = lower_graph(g, d.cfg, map_graph(g, d.cfg, "latency", top_k=16))
    assert low.fused  # the priced design really fuses blocks
    assert run_lowered(low, random_inputs(g, 0)).counters.cycles == d.cycles
    plain = explore(g, Target.ECP5_85K, "latency", trials=3, seed=0)
    assert not any(d.cfg.fbuf.bytes for d in plain)


def test_searches_leave_out_designs_too_full_to_route() -> None:
    """The 16x16 array filled 77 % and 80 % of the ECP5-85k's LUTs and never routed (synth_ecp5.md):
    its smallest design (~83 % by the estimate) is over the 70 % a design may use, the 8x8 is not."""
    from dian.search.explore import feasible_lanes, misfit
    from dian.search.resources import estimate

    assert feasible_lanes(Target.ECP5_85K) == [2, 4, 8]
    why = misfit(estimate(PRESETS["default"]), Target.ECP5_85K)
    assert why.endswith("> 58,548 (70% of the part's 83,640: fuller designs have not routed)"), why
    assert misfit(estimate(PRESETS["small"]), Target.ECP5_85K) == ""
