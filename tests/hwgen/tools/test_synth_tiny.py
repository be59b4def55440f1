"""Yosys synthesis of the ``tiny`` preset's generated accelerator for ECP5
(``synth_ecp5``, without place and route: ~25 s warm, the fastest meaningful
path; generic ``synth`` maps no memories and takes minutes).

The expected resources are derived from the config, the target table and
the datapath's documented structure, not from a previous run:

- the whole design fits ecp5-25k, tiny's own target: DSPs and LUT4s within
  ``TARGET_FABRIC`` (the vendor's figures);
- the DSP plan (hwgen/dsp_plan.py) is what the netlist holds: each unit has
  exactly its planned number of MULT18X18D (a unit's LUT products have none);
  the plan itself follows from the table: all 28 DSPs to the datapath, the
  requantizer's 4 x 4 partial products (the largest) first, then PPUAdd's 8
  (int8 x 17 and x 14 bits), then 4 of the PE array's 16;
- outside the datapath no DSP (nothing else multiplies);
- the buffers are block RAM: at least ceil(width/36) * ceil(depth/512)
  DP16KD (512 x 36 is the widest shape) per buffer (one memory each), and far
  fewer flip-flops than buffer bits.
"""

from __future__ import annotations

import json
import math

import pytest
from tool_helpers import needs

from dian.hwgen.dsp_plan import plan_dsps
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import TARGET_FABRIC, Target
from dian.hwgen.tools.synth import SynthReport, synthesize

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthReport, dict]:
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog

    folder = tmp_path_factory.mktemp("synth_tiny")
    files = emit_verilog(TINY, folder / "rtl")
    report = synthesize(files, TOP_NAME, "ecp5-25k", TINY.clock_mhz, folder / "build", place_and_route=False)
    netlist = json.loads((folder / "build" / "netlist.json").read_text())
    return report, netlist["modules"][TOP_NAME]


def _dsp_cells(top: dict) -> list[str]:
    return sorted(name for name, cell in top["cells"].items() if cell["type"] == "MULT18X18D")


def _min_brams(width_bits: int, depth: int) -> int:
    return math.ceil(width_bits / 36) * math.ceil(depth / 512)


@needs("yosys")
def test_tiny_synthesizes_for_ecp5_with_the_derived_resources(synthesized) -> None:
    report, top = synthesized
    fabric = TARGET_FABRIC[Target.ECP5_25K]
    assert TINY.target is Target.ECP5_25K
    assert report.dsps <= fabric.dsps and report.luts <= fabric.luts
    L = TINY.lanes
    plan = plan_dsps(TINY)
    assert (plan.requant, plan.add, plan.pe_array) == (4 * L, 2 * L, 4)
    dsps = _dsp_cells(top)
    array = [c for c in dsps if c.startswith("core.cmp.gemm.array.")]
    requant = [c for c in dsps if c.startswith("core.cmp.requant.")]
    add = [c for c in dsps if c.startswith("core.cmp.add.")]
    assert (len(requant), len(add), len(array)) == (plan.requant, plan.add, plan.pe_array)
    assert report.dsps == len(dsps) and "ALU54B" not in report.cell_types
    # Nothing outside the datapath multiplies (the encoder fills in every derived field).
    others = [c for c in dsps if c not in array + requant + add]
    assert others == []

    min_brams = _min_brams(8 * TINY.word_bytes, TINY.words("ibuf"))
    min_brams += _min_brams(8 * TINY.word_bytes, TINY.words("wbuf"))
    min_brams += _min_brams(8 * TINY.acc_word_bytes, TINY.words("abuf"))
    min_brams += _min_brams(8 * TINY.word_bytes, TINY.words("obuf"))
    assert report.brams >= min_brams > 0
    assert 0 < report.ffs < 8 * TINY.on_chip_bytes  # the buffers are not flip-flops
    assert report.luts > 0 and report.fmax_mhz is None and report.wrapper is None
    assert f"{report.dsps:,} DSPs" in report.summary() and f"{report.brams:,} BRAMs" in report.summary()
    assert report.fit() == (
        f"fits ecp5-25k: DSP {report.dsps} of 28, LUT {report.luts:,} of 24,288, block RAM {report.brams} of 56"
    )
    assert report.summary().endswith(report.fit())
