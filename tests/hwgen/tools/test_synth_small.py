"""Yosys synthesis of the ``small`` preset for ECP5-85k (``synth_ecp5`` without place and route;
about 1.5 CPU minutes, slow tier): the second derivation of its DSP plan is the netlist.

By hand: 8 lanes, 32-bit accumulators. The requantizer's product (32-bit signed x 31-bit
unsigned) is 2 x 2 = 4 partial products of at most 18 x 18 bits a lane, PPUAdd's (int8 x 31-bit
unsigned) 2 a lane, the 8 x 8 PE array one each: 32 + 16 + 64 = 112 MULT18X18D, within the
target's 156, so every product keeps its DSP and nothing else multiplies.

Also at DRAM latency 24 (a deeper read FIFO): the config the README's `dian search` derives, on which
Yosys 0.70's ABC9 crashed (``Assert GetSize(conn.first) == GetSize(conn.second)`` at rtlil.cc:3091,
in ABC_OPS_REINTEGRATE) while 0.69 synthesizes it; the project pins 0.69 for that.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from tool_helpers import needs

from dian.hwgen.dsp_plan import plan_dsps
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import TARGET_FABRIC, Target
from dian.hwgen.tools.synth import synthesize

SMALL = PRESETS["small"]


@pytest.mark.slow
@needs("yosys")
@pytest.mark.parametrize(("name", "latency"), [("small", SMALL.dram_latency), ("cosearch-8x8-16K-bus64", 24)])
def test_small_netlist_has_the_planned_dsps(tmp_path, name: str, latency: int) -> None:  # type: ignore[no-untyped-def]
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog

    cfg = dataclasses.replace(SMALL, name=name, dram_latency=latency)
    files = emit_verilog(cfg, tmp_path / "rtl")
    report = synthesize(files, TOP_NAME, "ecp5-85k", cfg.clock_mhz, tmp_path / "build", place_and_route=False)
    cells = json.loads((tmp_path / "build" / "netlist.json").read_text())["modules"][TOP_NAME]["cells"]
    dsps = [name for name, cell in cells.items() if cell["type"] == "MULT18X18D"]
    per_unit = {
        unit: sum(c.startswith(prefix) for c in dsps)
        for unit, prefix in (
            ("requant", "core.cmp.requant."),
            ("add", "core.cmp.add."),
            ("pe_array", "core.cmp.gemm.array."),
        )
    }
    assert per_unit == {"requant": 8 * 4, "add": 8 * 2, "pe_array": 8 * 8}  # by hand, above
    plan = plan_dsps(cfg)
    assert (plan.requant, plan.add, plan.pe_array) == (per_unit["requant"], per_unit["add"], per_unit["pe_array"])
    assert len(dsps) == report.dsps == 112 <= TARGET_FABRIC[Target.ECP5_85K].dsps  # nothing else multiplies
    assert (report.fit() or "").startswith("fits ecp5-85k: DSP 112 of 156")


@pytest.mark.slow
@needs("yosys")
def test_cosearch_8x8_in_the_pnr_wrapper_synthesizes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Inside the P&R wrapper (what `dian synth` places and routes), Yosys 0.69's ABC9 failed an
    assertion on the 8x8 config `dian search` derives (2026-12-05): synthesis must still end, with the
    112 planned DSPs, and say how its LUTs were mapped."""
    import sys
    from pathlib import Path

    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
    from dian.hwgen.tools.pnr_wrapper import wrap
    from dian.search.resources import block_rams

    sys.path.insert(0, str(Path(__file__).parents[3] / "benchmarks"))
    from fmax_steps import config

    cfg = config("cosearch-8x8-16K-bus64")
    files = emit_verilog(cfg, tmp_path / "rtl")
    top, text, _ = wrap(files, TOP_NAME)
    (tmp_path / "rtl" / "pnr_wrapper.v").write_text(text)
    report = synthesize(
        [*files, tmp_path / "rtl" / "pnr_wrapper.v"], top, "ecp5-85k", 150.0, tmp_path / "b", place_and_route=False
    )
    assert report.dsps == 112 and report.brams == sum(block_rams(cfg).values())  # the exact model
    assert ("ABC9 crashed" in report.summary()) is report.abc9_fallback
    assert (tmp_path / "b" / "yosys_abc9.log").is_file() is report.abc9_fallback
