"""FPGA resources of a generated accelerator, estimated from its config.

The estimate is a least-squares fit of Yosys ``synth_ecp5`` results over a
set of configs (``benchmarks/calibrate_resources.py`` runs them and writes
``search/resource_fit.json``: the coefficients, the configs, the measured and
fitted figures and the fit error). LUTs and flip-flops grow with the PE
array (``L^2`` terms: operand and product registers, adder trees, the
products the DSP plan leaves in LUTs) and with the lanes (``L``: PPU,
buffers' word muxes, DMA); DSPs come from the DSP plan (hwgen/dsp_plan.py),
block RAMs from the buffer shapes. The fit's features are documented with
:func:`features`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dian.errors import ProgramError
from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig, Dataflow
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import CMP_OPS, HEADER_BITS, INSTRUCTION_BITS, INSTRUCTIONS, MEM_OPS, Opcode
from dian.hwgen.targets import Target

FIT_FILE = Path(__file__).with_name("resource_fit.json")
FEATURES = ("1", "L", "L^2", "imem_kib", "bus_bytes")


@dataclass(frozen=True)
class Resources:
    luts: int
    ffs: int
    dsps: int
    brams: int


def features(cfg: AccelConfig) -> np.ndarray:
    """The fit's regressors: a constant, the lanes, the PEs, the IMEM size and the bus width."""
    L = cfg.lanes
    return np.array([1.0, L, L * L, cfg.imem_instructions * 32 / 1024, cfg.bus_bytes], dtype=float)


#: ECP5 memories at most this deep become LUT RAM (TRELLIS_DPR16X4), as Yosys maps PBUF's 32
#: entries and the read FIFO's 35 to 43 (DRAM latency 16 to 24); a 64-deep IMEM is block RAM.
LUTRAM_DEPTH = 48
#: Block-RAM aspect ratios (depth, width): Yosys picks, per memory, the one that needs the fewest
#: blocks. ECP5 DP16KD (18 Kbit); iCE40 SB_RAM40_4K (4 Kbit, at most 16 bits a read).
_DP16KD_MODES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
_RAM40_MODES = ((256, 16), (512, 8), (1024, 4), (2048, 2))


def imem_port_bits(cfg: AccelConfig, ops: frozenset[Opcode]) -> int:
    """Bits of the instruction word an engine that runs ``ops`` reads: the end of the widest of
    those instructions' layouts (hwgen/encoding.py packs fields from bit 0), leaving out the ones
    ``cfg`` cannot run (DW without the depthwise dataflow, LOAD_LUT without an LBUF). Yosys keeps
    only those bits of that engine's IMEM read port. A config whose instructions outgrow the word
    (no program encodes for it: ``explore.encoding_misfit``) counts the whole word."""
    try:
        enc = Encoding(cfg)
    except ProgramError:
        return INSTRUCTION_BITS
    skip = {Opcode.DW} if Dataflow.DEPTHWISE not in cfg.dataflows else set()
    skip |= {Opcode.LOAD_LUT} if not cfg.lut_tables else set()
    return max(
        HEADER_BITS + sum(enc.widths[k] for _, k in INSTRUCTIONS[op].FIELDS + INSTRUCTIONS[op].DERIVED)
        for op in ops - skip
    )


def block_rams(cfg: AccelConfig) -> dict[str, int]:
    """Block RAMs per memory the RTL builds (hwgen/rtl/core.py, controller.py, axi_master.py) on
    ``cfg``'s target: iCE40 SB_RAM40_4K, else ECP5 DP16KD. Per memory, the fewest blocks over the
    block's aspect ratios. The IBUF is a memory per bank. Every memory has one write and one read
    port, so IMEM, which both engines read, is two copies, each only as wide as
    :func:`imem_port_bits` (Yosys drops the bits an engine never reads); LBUF is a byte-wide memory
    per lane. ECP5 keeps shallow memories (PBUF, the read FIFO) in LUT RAM; the iCE40 has none, so
    there PBUF takes a block per 16 bits of its ``9 L``-byte entries. Equal to Yosys's count on
    every config of benchmarks/results/resource_fit.md and ice40.md."""
    mems = {
        name: (cfg.words(name), (cfg.acc_word_bytes if name == "abuf" else cfg.word_bytes) * 8)
        for name in ("ibuf", "wbuf", "abuf", "obuf")
    }
    # hwgen/rtl/ibuf_banks.py: the IBUF is ibuf_banks memories, each a bank's share of the words.
    mems["ibuf"] = (cfg.words("ibuf") // cfg.ibuf_banks, mems["ibuf"][1])
    if cfg.fbuf.bytes:  # the fusion buffer, banked like the IBUF (docs/accelerator.md, "Fusion buffer")
        mems["fbuf"] = (cfg.words("fbuf") // cfg.ibuf_banks, cfg.word_bytes * 8)
    mems["pbuf"] = (cfg.pbuf_entries, cfg.pbuf_entry_bytes * 8)
    mems["imem (MEM engine)"] = (cfg.imem_instructions, imem_port_bits(cfg, MEM_OPS))
    mems["imem (CMP engine)"] = (cfg.imem_instructions, imem_port_bits(cfg, CMP_OPS))
    mems["lbuf"] = (cfg.lbuf_entries, 8)
    # The AXI master's read FIFO: a SyncFIFOBuffered, one entry in its output register.
    mems["read fifo"] = (timing.read_fifo_depth(cfg) - 1, cfg.dram_bus_bits)
    ice40 = cfg.target is Target.ICE40_UP5K
    modes, lutram = (_RAM40_MODES, 0) if ice40 else (_DP16KD_MODES, LUTRAM_DEPTH)
    out = {}
    for name, (depth, width) in mems.items():
        n = min(-(-width // mw) * -(-depth // md) for md, mw in modes) if depth > lutram else 0
        copies = {"lbuf": cfg.lanes if cfg.lut_tables else 0, "ibuf": cfg.ibuf_banks, "fbuf": cfg.ibuf_banks}.get(
            name, 1
        )
        out[name] = n * copies
    return out


def bram_blocks(cfg: AccelConfig) -> int:
    """Block RAMs of ``cfg``'s target in all (:func:`block_rams`)."""
    return sum(block_rams(cfg).values())


@lru_cache(maxsize=1)
def _fit() -> dict[str, Any]:
    if not FIT_FILE.is_file():
        return {}
    fit: dict[str, Any] = json.loads(FIT_FILE.read_text())
    return fit


def estimate(cfg: AccelConfig) -> Resources:
    """LUTs, FFs, DSPs and block RAMs of ``cfg``'s RTL on an ECP5-like fabric."""
    from dian.hwgen.dsp_plan import plan_dsps

    fit = _fit()
    x = features(cfg)
    luts = float(x @ np.array(fit["luts"]["coef"])) if fit else float("nan")
    ffs = float(x @ np.array(fit["ffs"]["coef"])) if fit else float("nan")
    plan = plan_dsps(cfg)
    return Resources(
        round(luts + plan.lut_product_luts) if fit else -1,
        round(ffs) if fit else -1,
        plan.dsps,
        bram_blocks(cfg),
    )
