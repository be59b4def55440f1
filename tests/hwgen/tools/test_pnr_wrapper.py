"""The place-and-route wrapper (dian.hwgen.tools.pnr_wrapper) on the stand-in top level."""

from __future__ import annotations

from pathlib import Path

import pytest
from tool_helpers import needs, standin_verilog

from dian.hwgen.tools.pnr_wrapper import Port, WrapperCost, ports_of, wrap
from dian.hwgen.tools.toolchain import require_tool, run_tool

AXI_PINS = ["arvalid", "arready", "arid", "rvalid", "rready", "rid", "rlast", "awvalid", "awready", "awid", "wvalid"]
AXI_PINS += ["wready", "wlast", "bvalid", "bready", "bid"]  # the one-bit IDs are 1-bit ports like the handshakes
LITE_PINS = ["awvalid", "awready", "wvalid", "wready", "bvalid", "bready", "arvalid", "arready", "rvalid", "rready"]
PINS = [
    "clk",
    "rst",
    *(f"m_axi_{p}" for p in AXI_PINS),
    *(f"s_axil_{p}" for p in LITE_PINS),
    "irq",
]
ADDR = {"addr": 32, "len": 8, "size": 3, "burst": 2, "cache": 4, "prot": 3}  # one AXI address channel's payload


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    return standin_verilog(tmp_path_factory.mktemp("wrap"), bus_bits=64, n_words=4, src=0, dst=256)


def test_ports_of_amaranth_verilog(standin: Path) -> None:
    ports = {p.name: p for p in ports_of(standin.read_text(), "dram_copy_top")}
    wide = {f"m_axi_{ch}{k}": w for ch in ("ar", "aw") for k, w in ADDR.items()}
    wide |= {"m_axi_rdata": 64, "m_axi_rresp": 2, "m_axi_wdata": 64, "m_axi_wstrb": 8, "m_axi_bresp": 2}
    wide |= {"s_axil_awaddr": 12, "s_axil_wdata": 32, "s_axil_wstrb": 4, "s_axil_bresp": 2}
    wide |= {"s_axil_araddr": 12, "s_axil_rdata": 32, "s_axil_rresp": 2}
    assert sorted(ports) == sorted([*PINS, *wide])
    assert {n: p.width for n, p in ports.items() if n in wide} == wide
    assert ports["m_axi_araddr"] == Port("m_axi_araddr", "output", 32)
    assert ports["m_axi_rdata"] == Port("m_axi_rdata", "input", 64)
    assert ports["s_axil_rdata"] == Port("s_axil_rdata", "output", 32)
    assert all(ports[p].width == 1 for p in PINS)


def test_ports_of_unknown_module() -> None:
    with pytest.raises(ValueError, match="no module 'b' in the Verilog \\(found: a\\)"):
        ports_of("module a(x);\n input x;\nendmodule\n", "b")


def test_wrapper_cost_by_hand(standin: Path) -> None:
    name, text, cost = wrap([standin], "dram_copy_top")
    assert name == "dram_copy_top_pnr" and "module dram_copy_top_pnr(" in text
    # wide outputs: AR and AW payloads 52 each + wdata 64 + wstrb 8 + bresp 2, rdata 32, rresp 2 = 212 bits;
    # XOR tree 212 -> 53 -> 14 -> 4 -> 1: 72 nodes (one LUT4 + one FF each); wide inputs: rdata 64,
    # rresp 2, bresp 2, awaddr 12, wdata 32, wstrb 4, araddr 12 = 128 bits; flip-flops: 128 (input
    # shift register) + 212 (output capture) + 72.
    assert cost == WrapperCost(luts=72, ffs=128 + 212 + 72, pins=len(PINS) + 2)


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
