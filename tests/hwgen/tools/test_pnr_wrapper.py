"""The place-and-route wrapper (dian.hwgen.tools.pnr_wrapper) on the stand-in top level."""

from __future__ import annotations

from pathlib import Path

import pytest
from tool_helpers import needs, standin_verilog

from dian.hwgen.tools.pnr_wrapper import Port, WrapperCost, ports_of, wrap
from dian.hwgen.tools.toolchain import require_tool, run_tool

PINS = ["clk", "rst", "start", "done", "busy", "mem_req_valid", "mem_req_ready", "mem_req_write", "mem_resp_valid"]


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    return standin_verilog(tmp_path_factory.mktemp("wrap"), bus_bits=64, n_words=4, src=0, dst=256)


def test_ports_of_amaranth_verilog(standin: Path) -> None:
    ports = {p.name: p for p in ports_of(standin.read_text(), "dram_copy_top")}
    assert sorted(ports) == sorted(
        [
            *PINS,
            "mem_req_addr",
            "mem_req_wdata",
            "mem_resp_rdata",
            "perf_cycles",
            "perf_busy_pe_cycles",
            "perf_dram_bytes_read",
            "perf_dram_bytes_written",
            "error",
        ]
    )
    assert ports["mem_req_addr"] == Port("mem_req_addr", "output", 32)
    assert ports["mem_resp_rdata"] == Port("mem_resp_rdata", "input", 64)
    assert ports["error"] == Port("error", "output", 2)
    assert all(ports[p].width == 1 for p in PINS)


def test_ports_of_unknown_module() -> None:
    with pytest.raises(ValueError, match="no module 'b' in the Verilog \\(found: a\\)"):
        ports_of("module a(x);\n input x;\nendmodule\n", "b")


def test_wrapper_cost_by_hand(standin: Path) -> None:
    name, text, cost = wrap([standin], "dram_copy_top")
    assert name == "dram_copy_top_pnr" and "module dram_copy_top_pnr(" in text
    # wide outputs: addr 32 + wdata 64 + four 64-bit counters + the 2-bit error = 354 bits;
    # XOR tree 354 -> 89 -> 23 -> 6 -> 2 -> 1: 121 nodes (one LUT4 + one FF each);
    # flip-flops: 64 (input shift register) + 354 (output capture) + 121.
    assert cost == WrapperCost(luts=121, ffs=64 + 354 + 121, pins=len(PINS) + 2)


def test_wrapper_needs_a_clock_and_wide_outputs(tmp_path: Path) -> None:
    v = tmp_path / "x.v"
    v.write_text("module x(a, b);\n  input [3:0] a;\n  output [3:0] b;\nendmodule\n")
    with pytest.raises(ValueError, match="no 1-bit input port 'clk'"):
        wrap([v], "x")
    v.write_text("module x(clk, a, b);\n  input clk;\n  input [3:0] a;\n  output b;\nendmodule\n")
    with pytest.raises(ValueError, match="no wide output"):
        wrap([v], "x")


@needs("verilator")
def test_wrapper_is_clean_verilog(standin: Path, tmp_path: Path) -> None:
    name, text, _ = wrap([standin], "dram_copy_top")
    wrapper = tmp_path / "wrapper.v"
    wrapper.write_text(text)
    log = tmp_path / "lint.log"
    run_tool(
        require_tool("verilator"),
        ["--lint-only", "-Wall", "-Wno-fatal", "--top-module", name, str(standin), str(wrapper)],
        cwd=tmp_path,
        log=log,
    )
    assert "%Error" not in log.read_text()
