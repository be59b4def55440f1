"""The Jinja2 templates in dian.rtl_templates and their renderer."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jinja2
import pytest

from dian.hwgen.tools.templates import render, render_to

TEMPLATES = [
    "verilator_harness.cpp.j2",
    "yosys_generic.ys.j2",
    "yosys_ecp5.ys.j2",
    "yosys_ice40.ys.j2",
    "yosys_ice40_blocks.ys.j2",
    "nextpnr_ecp5.args.j2",
    "nextpnr_ice40.args.j2",
    "pnr_wrapper.v.j2",
]


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_ships_as_package_data(name: str) -> None:
    assert resources.files("dian.rtl_templates").joinpath(name).is_file()


def test_missing_variable_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError, match="netlist_json"):
        render("yosys_ecp5.ys.j2", top="t", verilog_files=[], stat_json="s", stat_txt="t", noabc9=False)


def test_unknown_template_is_an_error() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        render("no_such.j2")


def test_yosys_script_loops_over_files(tmp_path: Path) -> None:
    path = render_to(
        "yosys_generic.ys.j2",
        tmp_path / "s.ys",
        top="acc",
        verilog_files=['"a.v"', '"b c.v"'],
        stat_json="stat.json",
        stat_txt="stat.txt",
    )
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [
        'read_verilog -sv "a.v"',
        'read_verilog -sv "b c.v"',
        "synth -top acc",
        "tee -q -o stat.json stat -json",
        "tee -q -o stat.txt stat",
    ]
    assert not list(tmp_path.glob(".*.tmp"))


def test_nextpnr_arguments() -> None:
    args = render(
        "nextpnr_ecp5.args.j2",
        device="85k",
        package="CABGA381",
        speed=8,
        netlist_json="n.json",
        report_json="r.json",
        clock_mhz="150",
        seed=1,
    ).split()
    assert args[:6] == ["--85k", "--package", "CABGA381", "--speed", "8", "--json"]
    assert "--timing-allow-fail" in args and args[args.index("--freq") + 1] == "150"
