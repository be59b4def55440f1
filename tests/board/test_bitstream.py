"""Slow tier: the whole board build of the tiny LeNet — Yosys, nextpnr and ecppack through the YoWASP
shims — under /tmp (pytest's temporary folder), where the YoWASP tools see a private /tmp.
ULX3S 85F: about 1.5 min of Yosys and 5-7 min of nextpnr here."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dian import api
from dian.hwgen.tools.toolchain import has_tool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(has_tool(t) for t in ("yosys", "nextpnr-ecp5", "ecppack")), reason="YoWASP tools not installed"
    ),
]

#: The ECP5 bitstream's preamble (Lattice TN1260), after the comment block.
PREAMBLE = bytes.fromhex("ffffbdb3")


@pytest.mark.parametrize(("board", "luts", "dsps"), [("ulx3s-85f", 83_640, 156), ("orangecrab-25f", 24_288, 28)])
def test_the_bitstream_is_built_and_measured(
    lenet_tiny: Path, tmp_path: Path, board: str, luts: int, dsps: int
) -> None:
    folder = tmp_path / "lenet"
    shutil.copytree(lenet_tiny, folder, ignore=shutil.ignore_patterns("board"))
    out = api.build_board(folder, board).out_dir
    doc = json.loads((out / "board.json").read_text())
    bit = out / doc["bitstream"]["file"]
    data = bit.read_bytes()
    assert 100_000 < len(data) < 3_000_000 and len(data) == doc["bitstream"]["bytes"]
    assert hashlib.sha256(data).hexdigest() == doc["bitstream"]["sha256"]
    assert PREAMBLE in data[:4096]
    assert (out / "gateware" / "dian_soc.svf").stat().st_size > len(data)
    # Yosys's and nextpnr's own logs say what they did.
    assert "End of script." in (out / "gateware" / "dian_soc.rpt").read_text()[-4096:]
    log = (out / "gateware" / "nextpnr-ecp5.log").read_text()
    for domain, t in doc["timing"].items():
        assert "Max frequency for clock" in log and t["clock_net"] in log, domain
        assert 10 < t["fmax_mhz"] < 400 and t["met"] == (t["fmax_mhz"] >= t["asked_mhz"])
    assert set(doc["timing"]) == {"sys", "accel"}
    u = doc["utilization"]
    assert u["lut4"]["available"] == luts and u["dsp"]["available"] == dsps  # the part's, from the data sheet
    # tiny's 4x4 PEs need DSPs; the SoC adds LiteDRAM, UARTBone and the CDCs around its LUTs.
    assert 16 <= u["dsp"]["used"] <= dsps and 5_000 < u["lut4"]["used"] < luts
    assert u["ebr"]["used"] >= 4  # at least tiny's four buffers
    assert set(doc["seconds"]) == {"litex", "yosys", "nextpnr-ecp5", "ecppack"}
