"""Every datapath block converts to Verilog through amaranth.back.verilog
(Amaranth's bundled Yosys), with its ports named after the signature; the whole
accelerator's Verilog has multiplications only in the datapath blocks."""

from __future__ import annotations

import dataclasses

import pytest
from amaranth.back import verilog

from dian.hwgen.accel_config import validate
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.accumulator import AccUpdate
from dian.hwgen.rtl.emit import emit_verilog
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


#: The blocks whose products are the datapath's (planned onto DSPs or built from LUTs by hwgen/dsp_plan.py).
DATAPATH_PRODUCT_MODULES = ("cmp.gemm.array", "cmp.requant", "cmp.add")


@pytest.mark.parametrize("bus_bits, lanes", [(16, 2), (32, 4)])
def test_no_multiplier_outside_the_datapath(tmp_path, bus_bits: int, lanes: int) -> None:
    """Constant products in the control path (``x * 8``, ``word_select``) are written as wiring or
    shifts: Yosys's ABC pass failed an internal assertion (rtlil.cc:3091) on them in synth_ecp5,
    for a 2x2 array with a 16-bit bus after the AXI rewrite (a legal config ``dian synth``
    could not build)."""
    cfg = validate(dataclasses.replace(PRESETS["tiny"], pe_rows=lanes, pe_cols=lanes, dram_bus_bits=bus_bits))
    module, where = "", []
    for line in "".join(f.read_text() for f in emit_verilog(cfg, tmp_path)).splitlines():
        if line.startswith("module "):
            module = line.split()[1]
        elif " * " in line and not module.endswith(DATAPATH_PRODUCT_MODULES):
            where.append(f"{module}: {line.strip()}")
    assert not where, "multiplier cells outside the datapath:\n" + "\n".join(where)
