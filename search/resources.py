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

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig

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


#: Memories this shallow become LUT RAM (TRELLIS_DPR16X4), as Yosys maps PBUF's 32 entries.
LUTRAM_DEPTH = 64
#: DP16KD aspect ratios (depth, width): Yosys picks, per memory, the one that needs the fewest blocks.
_DP16KD_MODES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def bram_blocks(cfg: AccelConfig) -> int:
    """ECP5 block RAMs (DP16KD) for the memories the RTL builds (hwgen/rtl/core.py: one per
    buffer, a word wide, but one per IBUF bank; LBUF's byte-wide memory per lane, IMEM and the
    bus master's read FIFO): per memory, the fewest blocks over the block's aspect ratios; shallow
    memories (PBUF, the read FIFO) are LUT RAM."""
    mems: list[tuple[int, int]] = []  # (depth, width bits) per memory
    for name in ("ibuf", "wbuf", "abuf", "obuf"):
        width = (cfg.acc_word_bytes if name == "abuf" else cfg.word_bytes) * 8
        banks = cfg.ibuf_banks if name == "ibuf" else 1  # hwgen/rtl/ibuf_banks.py: a memory a bank
        mems += [(cfg.words(name) // banks, width)] * banks
    mems.append((cfg.imem_instructions, 256))
    mems.append((cfg.pbuf_entries, cfg.pbuf_entry_bytes * 8))
    mems += [(cfg.lbuf_entries, 8)] * (cfg.lanes if cfg.lut_tables else 0)  # LBUF: a byte memory per lane
    # The AXI master's read FIFO (hwgen/rtl/axi_master.py): a SyncFIFOBuffered, one entry in its
    # output register; LUT RAM unless the latency makes it deep.
    mems.append((timing.read_fifo_depth(cfg) - 1, cfg.dram_bus_bits))
    return sum(min(-(-w // mw) * -(-d // md) for md, mw in _DP16KD_MODES) for d, w in mems if d > LUTRAM_DEPTH)


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
