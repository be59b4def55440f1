"""Yosys synthesis and nextpnr place and route (dian.hwgen.tools.synth) of the stand-in.

The first Yosys run on a fresh machine compiles its WebAssembly (~35-50 s,
cached in ~/.cache/YoWASP afterwards); the tests after it take seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tool_helpers import needs, standin_verilog

from dian.hwgen.tools.synth import TARGETS, synthesize

# Bus 64, 4 words, one 4-beat burst each way (tests/hwgen/dram_copy_top.py). Flip-flops by hand.
# The copy engine: 4 x 64 kept words; CYCLES and BUSY_PE 64 each, the two byte counters 64 - 3 each
# (they count in steps of 8 bytes: their 3 low bits are constant); AR, AW and B burst counts 1 bit
# each, R and W beat counts 3 each, the beat-in-burst count 2; the error code 2 (it is 0, 3 or 4:
# bits 0 and 1 are one flip-flop, bits 3-7 constant); `ended` 1; the 4-state FSM 2.
ENGINE_FFS = 4 * 64 + 2 * 64 + 2 * (64 - 3) + 3 * 1 + 2 * 3 + 2 + 2 + 1 + 2
# Its register block, hwgen/rtl/csr.py's Csr: the readies and valids of the five channels (awready, wready,
# bvalid, arready, rvalid), IRQ_ENABLE, IRQ_STATUS and irq 1 each; the held AW address 10 (its two low
# bits are ignored); the held wstrb 4; of the held W data the bits something reads: bit 0 and the
# BASE_ADDR bits 31..12 (SOFT_RESET's pulse drives nothing here, so it and bit 1 go); the START pulse 1;
# BASE_ADDR 20 (bits 11..0 are 0); rdata 32; the four high counter words' shadows 4 x 32.
CSR_FFS = 5 + 3 + 10 + 4 + 21 + 1 + 20 + 32 + 4 * 32
STANDIN_FFS = ENGINE_FFS + CSR_FFS
# synth_ecp5 does not prove the byte counters' three low bits 0: it keeps one flip-flop for them, each.
ECP5_EXTRA_FFS = 2


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    return standin_verilog(tmp_path_factory.mktemp("synth"), bus_bits=64, n_words=4, src=0, dst=256)


@needs("yosys")
def test_generic(standin: Path, tmp_path: Path) -> None:
    report = synthesize([standin], "dram_copy_top", "generic", 100, tmp_path)
    ffs = sum(n for cell, n in report.cell_types.items() if "DFF" in cell)
    assert ffs == STANDIN_FFS
    assert report.cells == sum(report.cell_types.values()) > ffs
    assert report.luts is None and report.fmax_mhz is None and report.wrapper is None
    assert report.logs == (tmp_path / "yosys.log",) and "End of script" in report.logs[0].read_text()


@needs("yosys")
def test_ecp5_without_place_and_route(standin: Path, tmp_path: Path) -> None:
    report = synthesize([standin], "dram_copy_top", "ecp5-85k", 100, tmp_path, place_and_route=False)
    assert report.ffs == STANDIN_FFS + ECP5_EXTRA_FFS
    assert report.luts > 0 and report.dsps == 0 and report.brams == 0
    assert report.fmax_mhz is None and report.meets_timing is None


@needs("yosys", "nextpnr-ecp5")
def test_ecp5_25k_place_and_route_through_the_wrapper(standin: Path, tmp_path: Path) -> None:
    report = synthesize([standin], "dram_copy_top", "ecp5-25k", 100, tmp_path)
    assert report.wrapper is not None
    assert STANDIN_FFS < report.ffs <= STANDIN_FFS + report.wrapper.ffs
    assert report.utilization["TRELLIS_IO"]["used"] == report.wrapper.pins
    assert report.utilization["TRELLIS_FF"]["used"] == report.ffs
    assert report.fmax_mhz > 100 and report.meets_timing
    assert "Fmax" in report.summary()
    assert [p.name for p in report.logs] == ["yosys.log", "nextpnr.log"]


@pytest.mark.slow
@needs("yosys", "nextpnr-ice40")
def test_ice40_place_and_route_reports_a_missed_clock(standin: Path, tmp_path: Path) -> None:
    report = synthesize([standin], "dram_copy_top", "ice40-up5k", 200, tmp_path)
    assert report.ffs > STANDIN_FFS and report.utilization["SB_IO"]["used"] == report.wrapper.pins
    assert report.fmax_mhz < 200 and report.meets_timing is False


def test_unknown_target(standin: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown synthesis target 'xc7'; dian knows generic, ecp5-25k"):
        synthesize([standin], "dram_copy_top", "xc7", 100, tmp_path)
    assert sorted(TARGETS) == ["ecp5-25k", "ecp5-85k", "generic", "ice40-up5k"]


def test_fit_against_the_target_table() -> None:
    """The vendor's counts: ECP5-25k has 28 MULT18X18D and 24,288 LUT4; generic has no limit."""
    from dian.hwgen.tools.synth import SynthReport

    def rep(target: str, dsps: int, luts: int) -> SynthReport:
        return SynthReport(target=target, top="t", clock_mhz=100, cells=1, cell_types={}, luts=luts, dsps=dsps)

    assert rep("ecp5-25k", 28, 24_288).fit() == (
        "fits ecp5-25k: DSP 28 of 28, LUT 24,288 of 24,288 (100% of the LUTs: no design over 70% has routed here)"
    )
    assert rep("ecp5-25k", 28, 17_001).fit() == "fits ecp5-25k: DSP 28 of 28, LUT 17,001 of 24,288"  # just under 70 %
    assert rep("ecp5-25k", 29, 100).fit() == "does not fit ecp5-25k: DSP 29 of 28, LUT 100 of 24,288"
    assert rep("ecp5-85k", 0, 83_641).fit() == "does not fit ecp5-85k: DSP 0 of 156, LUT 83,641 of 83,640"
    assert rep("generic", 0, 1).fit() is None
    assert rep("ecp5-25k", 0, 5).summary().endswith("; fits ecp5-25k: DSP 0 of 28, LUT 5 of 24,288")
    # with a block-RAM figure: the UP5K's 30 SB_RAM40_4K (nano needs 40, benchmarks/results/ice40.md)
    ice = SynthReport(target="ice40-up5k", top="t", clock_mhz=24, cells=1, cell_types={}, luts=5_000, dsps=8, brams=31)
    assert ice.fit() == "does not fit ice40-up5k: DSP 8 of 8, LUT 5,000 of 5,280, block RAM 31 of 30"


# The end of Yosys 0.69's output when ABC9 failed on the co-search's 8x8 config in the P&R wrapper
# (build/fmax_steps, 2026-12-05), and two failures that are not ABC's.
ABC9_CRASH = """Removed 86240 unused cells and 166528 unused wires.

3.46.22.7. Executing ABC_OPS_REINTEGRATE pass (reintegrate ABC mapped design into module).
<suppressed ~85055 debug messages>
ERROR: Assert `GetSize(conn.first) == GetSize(conn.second)' failed in kernel/rtlil.cc:3097.
"""
OTHER_ASSERT = """2.3. Executing OPT_MERGE pass (detect identical cells).
ERROR: Assert `cell != nullptr' failed in passes/opt/opt_merge.cc:120.
"""
SYNTAX_ERROR = "ERROR: Parser error in line top.v:3: syntax error, unexpected TOK_ID\n"


@pytest.mark.parametrize(("text", "crashed"), [(ABC9_CRASH, True), (OTHER_ASSERT, False), (SYNTAX_ERROR, False)])
def test_abc9_crash_is_told_from_other_failures(tmp_path: Path, text: str, crashed: bool) -> None:
    from dian.hwgen.tools.synth import abc9_crashed

    (tmp_path / "yosys.log").write_text("x" * 100_000 + text)  # only the end is read
    assert abc9_crashed(tmp_path / "yosys.log") is crashed
    assert abc9_crashed(tmp_path / "missing.log") is False


@needs("yosys")
def test_ecp5_maps_again_without_abc9_when_abc9_crashes(standin: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The first Yosys run stops as 0.69 did on the 8x8 config (its log stood in); the second is
    Yosys's own with ABC's LUT mapping on the stand-in: the same flip-flops, and the report says so."""
    import dian.hwgen.tools.synth as synth
    from dian.errors import ToolFailedError

    real_run_tool = synth.run_tool
    calls: list[str] = []

    def first_crashes(tool, args, *, cwd: Path, log: Path, timeout=None):  # type: ignore[no-untyped-def]
        calls.append((cwd / "synth.ys").read_text())
        if len(calls) == 1:
            (cwd / "yosys.log").write_text(ABC9_CRASH)  # with -q, Yosys writes its error only there
            raise ToolFailedError("yosys failed with exit code 1")
        return real_run_tool(tool, args, cwd=cwd, log=log, timeout=timeout)

    monkeypatch.setattr(synth, "run_tool", first_crashes)
    report = synthesize([standin], "dram_copy_top", "ecp5-85k", 100, tmp_path, place_and_route=False)
    assert "abc -lut" not in calls[0] and "synth_ecp5 -top dram_copy_top -json" in calls[0]
    assert "synth_ecp5 -top dram_copy_top -run :map_luts" in calls[1] and "\nabc -lut 4:7 -dress\n" in calls[1]
    assert report.abc9_fallback and report.ffs == STANDIN_FFS + ECP5_EXTRA_FFS
    assert [p.name for p in report.logs] == ["yosys_abc9.log", "yosys.log"]
    assert "ABC_OPS_REINTEGRATE" in report.logs[0].read_text() and "End of script" in report.logs[1].read_text()
    assert "LUTs mapped by ABC (Yosys's ABC9 crashed" in report.summary()


@needs("yosys")
def test_other_yosys_failures_are_not_retried(tmp_path: Path) -> None:
    from dian.errors import ToolFailedError

    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a); wire; endmodule\n")
    with pytest.raises(ToolFailedError):
        synthesize([bad], "bad", "ecp5-85k", 100, tmp_path / "build", place_and_route=False)
    assert "abc -lut" not in (tmp_path / "build" / "synth.ys").read_text()
    assert not (tmp_path / "build" / "yosys_abc9.log").exists()
