"""Every datapath block converts to Verilog through amaranth.back.verilog
(Amaranth's bundled Yosys), with its ports named after the signature."""

from __future__ import annotations

import pytest
from amaranth.back import verilog

from dian.hwgen.rtl.accumulator import AccUpdate
from dian.hwgen.rtl.pe_array import PEArray
from dian.hwgen.rtl.ppu_add import PPUAdd
from dian.hwgen.rtl.ppu_pool import PPUPool
from dian.hwgen.rtl.ppu_requant import PPURequant
from dian.hwgen.rtl.ppu_round import RoundClamp

BLOCKS = {
    "pe_array": lambda: PEArray(4),
    "pe_array_gemm_only": lambda: PEArray(4, depthwise=False),
    "accumulator": lambda: AccUpdate(4, 32, 18),
    "ppu_requant": lambda: PPURequant(4, 32),
    "ppu_requant_acc16": lambda: PPURequant(4, 16),
    "ppu_add": lambda: PPUAdd(4),
    "ppu_pool": lambda: PPUPool(4),
    "ppu_round": lambda: RoundClamp(4, 63),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_converts_to_verilog(name: str) -> None:
    dut = BLOCKS[name]()
    text = verilog.convert(dut, name=name)
    assert f"module {name}(" in text
    for port in dut.signature.members:
        assert port in text, f"port {port} missing from the Verilog of {name}"
    assert "__" not in "".join(dut.signature.members)  # Verilator mangles double underscores
