"""board/reports.py on hand-written inputs: nextpnr's --report JSON (the shape nextpnr-ecp5 0.11
writes, figures made up) and LiteX-style Verilog clock assignments."""

from __future__ import annotations

import json
from pathlib import Path

from dian.board.reports import clock_nets, nextpnr_figures, timing

REPORT = {
    "critical_paths": [],
    "fmax": {
        "$glbnet$accel_clk": {"achieved": 78.62871551513672, "constraint": 75.00187683105469},
        "$glbnet$main_soc_clkout0": {"achieved": 49.5, "constraint": 50},
    },
    "utilization": {
        "DP16KD": {"available": 208, "used": 20},
        "MULT18X18D": {"available": 156, "used": 28},
        "ALU54B": {"available": 78, "used": 0},
        "TRELLIS_COMB": {"available": 83640, "used": 18441},
        "TRELLIS_FF": {"available": 83640, "used": 10906},
        "TRELLIS_IO": {"available": 365, "used": 52},
    },
}

VERILOG = """\
module dian_soc (input wire clk25);
wire main_soc_clkout0;
wire sys_clk;
wire accel_clk;
assign sys_clk = main_soc_clkout0;
assign main_soc_clkout0 = main_pll_out;
assign other = something_else;
always @(posedge sys_clk) x <= y;
endmodule
"""


def test_figures_per_clock_and_resource(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(REPORT))
    fig = nextpnr_figures(path)
    assert fig["fmax_mhz"] == {"accel_clk": 78.63, "main_soc_clkout0": 49.5}
    assert fig["constraint_mhz"] == {"accel_clk": 75.0, "main_soc_clkout0": 50.0}
    u = fig["utilization"]
    assert u["lut4"] == {"used": 18441, "available": 83640} and u["ff"] == {"used": 10906, "available": 83640}
    assert u["dsp"] == {"used": 28, "available": 156} and u["ebr"] == {"used": 20, "available": 208}
    assert "ALU54B" not in u["cells"] and u["cells"]["TRELLIS_IO"] == {"used": 52, "available": 365}


def test_clock_nets_follow_assignments(tmp_path: Path) -> None:
    path = tmp_path / "soc.v"
    path.write_text(VERILOG)
    nets = clock_nets(path, ("sys", "accel"))
    assert nets["sys"] == {"sys_clk", "main_soc_clkout0", "main_pll_out"}
    assert nets["accel"] == {"accel_clk"}


def test_timing_met_and_missed(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(json.dumps(REPORT))
    (tmp_path / "soc.v").write_text(VERILOG)
    fig = nextpnr_figures(tmp_path / "r.json")
    t = timing(fig, clock_nets(tmp_path / "soc.v", ("sys", "accel")), {"sys": 50e6, "accel": 75e6})
    assert t["sys"] == {"asked_mhz": 50.0, "clock_net": "main_soc_clkout0", "fmax_mhz": 49.5, "met": False}
    assert t["accel"] == {"asked_mhz": 75.0, "clock_net": "accel_clk", "fmax_mhz": 78.63, "met": True}
    none = timing(fig, {"sys": {"nothing"}}, {"sys": 50e6})
    assert none["sys"]["fmax_mhz"] is None and none["sys"]["met"] is False
