"""Instruction durations: the timing contract of docs/accelerator.md.

PROVISIONAL. These are first-order formulas written before the RTL
controller exists; they have the right shape (DRAM latency plus beats, one
pixel per cycle on the array, one word per cycle in the PPU) but the
constants and overheads are guesses until the RTL is measured and this
module becomes the contract it must match to the cycle. Everything that
needs a duration — the machine simulator and the scheduler's analytic
prediction — calls the functions here, so there is one place to fix.

The formula helpers take plain numbers or numpy arrays (the scheduler
evaluates them over a grid of candidate tiles).
"""

from __future__ import annotations

from typing import Any

from .accel_config import AccelConfig
from .isa import AddI, Copy, Dw, End, Gemm, Instr, LoadAct, LoadPrm, LoadWgt, Pool, Requant, StoreAct

ISSUE_GAP = 1  # cycles between the end of one instruction and the start of the next on an engine
DMA_OVERHEAD = 4  # descriptor set-up of a DMA instruction
PPU_LATENCY = 4  # pipeline depth of the PPU
END_CYCLES = 1


def array_latency(cfg: AccelConfig) -> int:
    """Adder-tree depth plus the ABUF read-modify-write of the array."""
    return (cfg.lanes - 1).bit_length() + 3


def beats(cfg: AccelConfig) -> int:
    """DRAM bus beats per word."""
    return cfg.word_bytes // cfg.bus_bytes


def dma_read_cycles(cfg: AccelConfig, words: Any, pad_words: Any = 0, rows: Any = 0) -> Any:
    """A DMA read of ``words`` DRAM words (plus ``pad_words`` padding written without
    reading, one per cycle, and one cycle per row of a box)."""
    return DMA_OVERHEAD + cfg.dram_latency + words * beats(cfg) + pad_words + rows


def dma_write_cycles(cfg: AccelConfig, words: Any, rows: Any = 0) -> Any:
    """A DMA write (posted) of ``words`` words."""
    return DMA_OVERHEAD + words * beats(cfg) + rows


def gemm_cycles(cfg: AccelConfig, n_blocks: Any, n_pix: Any) -> Any:
    """Stream ``n_pix`` pixels through each of ``n_blocks`` weight blocks; the next block
    loads (L cycles) while this one streams, so a block costs max(n_pix, L)."""
    import numpy as np

    return cfg.lanes + n_blocks * np.maximum(n_pix, cfg.lanes) + array_latency(cfg)


def dw_cycles(cfg: AccelConfig, n_taps: Any, n_pix: Any, fy: Any = 1) -> Any:
    """Depthwise: the window register reads ``ceil(rows / banks)`` cycles per pixel
    for the ``fy`` kernel rows it shifts in; weights load in L cycles."""
    banks = cfg.ibuf.banks
    per_pix = -(-fy // banks)
    return cfg.lanes + n_pix * per_pix + array_latency(cfg)


def ppu_cycles(words: Any, per_word: Any = 1) -> Any:
    return PPU_LATENCY + words * per_word


def duration(ins: Instr, cfg: AccelConfig) -> int:
    """Cycles ``ins`` occupies its engine."""
    if isinstance(ins, LoadAct):
        real_y = ins.n_y - ins.pad_top - ins.pad_bottom
        real_x = ins.n_x - ins.pad_left - ins.pad_right
        real = ins.n_c * max(real_y, 0) * max(real_x, 0)
        total = ins.n_c * ins.n_y * ins.n_x
        return int(dma_read_cycles(cfg, real, total - real, ins.n_c * ins.n_y))
    if isinstance(ins, LoadWgt):
        return int(dma_read_cycles(cfg, ins.n_words))
    if isinstance(ins, LoadPrm):
        return int(dma_read_cycles(cfg, ins.n_entries * cfg.pbuf_entry_bytes // cfg.word_bytes))
    if isinstance(ins, StoreAct):
        return int(dma_write_cycles(cfg, ins.n_c * ins.n_y * ins.n_x, ins.n_c * ins.n_y))
    if isinstance(ins, Gemm):
        return int(gemm_cycles(cfg, ins.n_c * ins.n_fy * ins.n_fx, ins.n_oy * ins.n_ox))
    if isinstance(ins, Dw):
        rows = -(-(ins.tap0 % ins.n_fx + ins.n_taps) // ins.n_fx)
        return int(dw_cycles(cfg, ins.n_taps, ins.n_oy * ins.n_ox, rows))
    if isinstance(ins, Requant):
        return int(ppu_cycles(ins.n_c * ins.n_pix))
    if isinstance(ins, AddI):
        return int(ppu_cycles(ins.n, 2))
    if isinstance(ins, Copy):
        return int(ppu_cycles(ins.n))
    if isinstance(ins, Pool):
        return int(ppu_cycles(ins.n_c * ins.n_oy * ins.n_ox, ins.n_fy * ins.n_fx))
    if isinstance(ins, End):
        return END_CYCLES
    raise TypeError(f"no duration for {type(ins).__name__}")


def busy_pe(ins: Instr, cfg: AccelConfig) -> int:
    """PE-cycles doing MACs (rows x columns in use, summed over the cycles they are)."""
    if isinstance(ins, Gemm):
        return ins.n_c * ins.n_fy * ins.n_fx * ins.n_oy * ins.n_ox * cfg.lanes * cfg.lanes
    if isinstance(ins, Dw):
        return ins.n_taps * ins.n_oy * ins.n_ox * cfg.lanes
    return 0


def chunk_fetch_cycles(cfg: AccelConfig, n_instructions: int) -> int:
    """The controller DMAs a program chunk into IMEM before running it."""
    words = n_instructions * 32 // cfg.word_bytes
    return int(dma_read_cycles(cfg, words))

