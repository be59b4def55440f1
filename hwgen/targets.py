"""The implementation targets an accelerator can be built for, and what each
FPGA part offers (block RAM, LUT4s, hard multipliers), from the vendors'
family data sheets. Plain data: the config, the DSP plan and the tool drivers
all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["TARGET_FABRIC", "TARGET_RAM_BYTES", "Fabric", "Target"]


class Target(str, Enum):
    GENERIC = "generic"
    ECP5_25K = "ecp5-25k"
    ECP5_85K = "ecp5-85k"
    ICE40_UP5K = "ice40-up5k"


#: On-chip RAM of each FPGA target in bytes that the generated memories can use (block RAM),
#: from the vendors' family data sheets. The UP5K's 128 KiB of SPRAM is not counted: Yosys does
#: not infer SB_SPRAM256KA, and its single port cannot serve a buffer that one engine writes while
#: the other reads it, in the same cycle.
TARGET_RAM_BYTES: dict[Target, int | None] = {
    Target.GENERIC: None,
    Target.ECP5_25K: 56 * 18 * 1024 // 8,  # 56 EBR x 18 Kbit
    Target.ECP5_85K: 208 * 18 * 1024 // 8,  # 208 EBR x 18 Kbit
    Target.ICE40_UP5K: 30 * 4 * 1024 // 8,  # 30 EBR x 4 Kbit
}


@dataclass(frozen=True)
class Fabric:
    """The logic of an FPGA target: LUT4s, hard multipliers and their signed
    operand width (ECP5 MULT18X18D: 18; iCE40 SB_MAC16: 16), and its block RAMs
    (ECP5 DP16KD, iCE40 SB_RAM40_4K; None: not stated)."""

    luts: int
    dsps: int
    dsp_bits: int
    brams: int | None = None


#: The share of a part's LUTs a design may fill and still be expected to route with dian's flow
#: (Yosys, nextpnr). Measured here (benchmarks/results/synth_ecp5.md): the fullest design that routed
#: used 62 % of its part's LUTs (tiny on the ECP5-25k), and none filling 77 % or more did (the 16x16
#: array on the ECP5-85k, at 77 % and 80 %: nextpnr's router stopped far from converging, twice). The
#: searches refuse designs over it (search/explore.py), and `dian synth` says when a design is.
ROUTABLE_LUT_SHARE = 0.70

#: Logic of each FPGA target, from the vendors' family data sheets; ``None``
#: for ``generic`` (no limit: every product keeps its DSP, see hwgen/dsp_plan.py).
TARGET_FABRIC: dict[Target, Fabric | None] = {
    Target.GENERIC: None,
    Target.ECP5_25K: Fabric(luts=24_288, dsps=28, dsp_bits=18, brams=56),
    Target.ECP5_85K: Fabric(luts=83_640, dsps=156, dsp_bits=18, brams=208),
    Target.ICE40_UP5K: Fabric(luts=5_280, dsps=8, dsp_bits=16, brams=30),
}
