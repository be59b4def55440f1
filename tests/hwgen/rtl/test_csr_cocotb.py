"""Csr on Verilator through cocotbext-axi's AXI4-Lite master with random pauses (cocotb_csr.py):
the slave against a bus model that dian did not write. The Verilator build takes about 12 s on an
idle machine, the six cocotb tests about 1 s."""

from __future__ import annotations

from pathlib import Path

from cocotb_run import run_cocotb
from tool_helpers import needs

from dian.hwgen.rtl.csr import Csr

HASH = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")


@needs("verilator")
def test_csr_against_cocotbext_axi(tmp_path: Path) -> None:
    run = run_cocotb(
        Csr(HASH), "dian_csr", Path(__file__).with_name("cocotb_csr.py"), tmp_path, env={"CONFIG_HASH": HASH.hex()}
    )
    assert run.tests == 6
