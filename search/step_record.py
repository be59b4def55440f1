"""One step of a layer's program as the compiled replay reads it.

The replay (search/replay.py) is compiled with numba and runs one mapping
at a time, so a step is not a batch of arrays but a fixed-layout int64
record that the per-kind step functions (steps_gemm.py, steps_blocked.py)
fill in for step ``i`` of one mapping:

* up to :data:`SLOTS` loads in program order (IBUF, WBUF, PBUF, LBUF), each
  ``present`` (0/1), ``key`` (equal keys: already resident), ``cycles``
  (its instructions back to back, gaps included), DRAM ``read`` bytes,
  ``instrs``, the ``buffer`` it fills (index into :data:`BUFFERS`) and the
  bytes ``written`` into it (padding words included); slot 0 is always
  present;
* the compute instructions before the writer (``PRE``: cycles back to back,
  ``PRE_INSTRS``), the writer's cycles (0: no writer) and instructions (a
  PPU instruction, or the GEMMs/DWs with the requantization fused that write
  the output tile: several, timed back to back), the store's cycles
  (0: no store; a step with a store has a writer) and bytes, busy-PE
  cycles (array-occupied PE-cycles: ``L·L`` per pixel per GEMM weight block,
  ``T·L`` per pixel of a DW of ``T`` taps, as the RTL counts), and the
  on-chip bytes the compute and store read or write per buffer (``SRAM +
  b``, for the energy model).

Durations come from hwgen/timing.py's formula helpers, compiled here as
they are: they see a :class:`CfgView` with the same field names as
:class:`AccelConfig`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import register_jitable

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.isa import dw_keep

BUFFERS = ("ibuf", "wbuf", "abuf", "pbuf", "obuf", "lbuf")
IBUF, WBUF, ABUF, PBUF, OBUF, LBUF = range(6)
SLOTS = 4
# A load slot's fields, at ``slot * SLOT_FIELDS + field``.
PRESENT, KEY, CYCLES, READ, INSTRS, BUFFER, WRITTEN = range(7)
SLOT_FIELDS = 7
PRE = SLOTS * SLOT_FIELDS
PRE_INSTRS, WRITER, WRITER_INSTRS, STORE, STORE_BYTES, BUSY_PE, SRAM = range(PRE + 1, PRE + 8)
RECORD = SRAM + len(BUFFERS)
# A mapping's row in a kind's table of mappings starts with what the replay itself reads: its
# step count and its loop-nest units in steps, innermost first (see replay.py).
N_STEPS, N_LEVELS, LEVEL = 0, 1, 2
MAX_LEVELS = 4
HEADER = LEVEL + MAX_LEVELS

for _helper in (
    timing.beats,
    timing.read_latency,
    timing.dma_read_cycles,
    timing.dma_write_cycles,
    timing.range_beats,
    timing.chunk_fetch_cycles,
    timing.chunk_fetch_bytes,
    timing.gemm_cycles,
    timing.dw_cycles,
    timing.dw_columns,
    dw_keep,
    timing.ppu_cycles,
    timing.add_cycles,
    timing.mul_cycles,
    timing.pool_cycles,
    timing.rq_drain,
    timing.gemm_rq_cycles,
):
    register_jitable(_helper)  # callable from compiled code; still the plain function for Python callers


class CfgView(NamedTuple):
    """The AccelConfig fields the timing formulas and the steps read, as plain numbers."""

    lanes: int
    dram_latency: int
    word_bytes: int
    bus_bytes: int
    acc_word_bytes: int
    pbuf_entry_bytes: int
    imem_instructions: int
    ppu_rate: int

    @staticmethod
    def of(cfg: AccelConfig) -> np.ndarray:
        """The view's fields as an int64 array (what the compiled replay takes)."""
        return np.array([getattr(cfg, f) for f in CfgView._fields], np.int64)


@njit(inline="always")
def cfg_view(a: np.ndarray) -> CfgView:
    return CfgView(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])


@njit(inline="always")
def load(
    rec: np.ndarray, slot: int, present: int, key: int, cycles: int, read: int, instrs: int, buffer: int, written: int
) -> None:
    """Fill load slot ``slot`` of ``rec``."""
    at = slot * SLOT_FIELDS
    rec[at + PRESENT], rec[at + KEY], rec[at + CYCLES], rec[at + READ] = present, key, cycles, read
    rec[at + INSTRS], rec[at + BUFFER], rec[at + WRITTEN] = instrs, buffer, written


@njit(inline="always")
def run_after(index: int, lo: int, hi: int) -> int:
    """How many indices after ``index`` stay in ``lo..hi``, when ``index - 1`` is in it too (else 0)."""
    return hi - index if index - 1 >= lo and index <= hi else 0


@njit(inline="always")
def split(i: int, n: int) -> tuple[int, int]:
    """``divmod(i, n)`` of a loop index ``i`` (a division is the step functions' costliest
    instruction, and many loops of a tiling run once)."""
    return (i, 0) if n == 1 else divmod(i, n)


#: A mapping row's lookup-table mode (its layer's ``Work.lut``): none, one table, one per channel block.
LUT_NONE, LUT_TENSOR, LUT_CHANNEL = 0, 1, 2


@njit(inline="always")
def lut_load(rec: np.ndarray, cfg: CfgView, mode: int, present: bool, tile: int, blocks: int) -> int:
    """Fill load slot 3 (LBUF) with the tables of a tile of ``blocks`` channel blocks (channel tile
    ``tile``; hwgen/lower/op_steps.py ``LutTables.load``); returns the extra cycles each OBUF writer
    of the step takes for its LUT stage."""
    n = (blocks if mode == LUT_CHANNEL else 1) * timing.LUT_WORDS
    key = tile if mode == LUT_CHANNEL else 0
    on = present and mode != LUT_NONE
    load(rec, 3, 1 if on else 0, key, timing.dma_read_cycles(cfg, n), n * cfg.lanes, 1, LBUF, n * cfg.lanes)
    return timing.LUT_LATENCY if mode != LUT_NONE else 0
