"""Instruction durations: the timing contract of docs/accelerator.md.

Everything that needs a duration — the machine simulator and the scheduler's
analytic prediction — calls the functions here; the RTL (hwgen/rtl/core.py) is
tested to match them to the cycle on the *ideal memory* of docs/accelerator.md
("Bus interface"; tests/hwgen/rtl/test_core_bus.py, test_accel_rtl.py).

Conventions (hwgen/rtl/mem_engine.py, hwgen/rtl/controller.py): an instruction
*starts* in the cycle its engine decodes it with every awaited token present
(cycle ``S``), executes in ``S .. S + D - 1`` and signals its tokens at the
edge ending ``S + D - 1``, so a waiter may start at ``end = S + D``. The
engine fetches its next instruction in cycle ``end`` and starts it at
``end + ISSUE_GAP`` at the earliest (FETCH one cycle, the IMEM read port is
synchronous). ``λ`` = ``dram_latency``, ``B`` = bus bytes, a word is
``beats = L / B`` bus beats.

The fusion buffer (``AccelConfig.fbuf``) adds no formula, by design: an FBUF read (GEMM ``sfb``,
ADD ``bfb``, DW ``sfb`` of stage P2) has the IBUF read's latency (a synchronous block RAM with registered data), and a
requantized word sent to FBUF (``ofb``) lands exactly when it would have landed in OBUF; so every
duration below holds whichever buffer an instruction reads or writes. The RTL keeps this rule
(hwgen/rtl/cmp_engine.py: FBUF's data replaces IBUF's after the read, and the OBUF write goes to
FBUF by ``ofb``), measured exact in tests/hwgen/rtl/test_accel_fbuf.py.

MEASURED AGAINST THE RTL (exact): the controller (boot, chunk fetch, done),
END, LOAD_ACT, LOAD_WGT, LOAD_PRM, STORE_ACT:

* The bus (hwgen/rtl/axi_master.py): a run of beats asked for in cycle ``t``
  goes out as its first burst in ``t`` (AR valid from ``t + 1``); on the
  ideal memory its beat ``k`` arrives in ``t + 1 + λ + k``, lands in a
  register, and reaches the requester in ``t + λ' + k`` with ``λ' = λ +
  READ_PIPE`` (:func:`read_latency`).
* DMA reads (LOAD_*): cycle ``S`` latches the fields; from ``S + 1`` one slot
  a cycle — a DRAM word is ``beats`` slots, a padding word one slot — each
  queued as a descriptor; a box row's DRAM words are one run, asked for at
  its first slot. The response side takes one descriptor a cycle (a DRAM one
  with its beat), so the last slot is handled in ``S + slots + λ'``:
  ``D = 1 + slots + λ'``; a box of padding only: ``D = 2 + slots`` (the
  descriptor queue's one cycle). Box rows cost nothing.
* DMA writes (STORE_ACT): ``S`` latches, ``S + 1`` reads the first OBUF word
  (synchronous port), then one beat a cycle into the master's write FIFO:
  ``D = 2 + n·beats`` (posted). Its B responses are all in, and the master's
  writes idle, from ``end + λ + WRITE_SETTLE`` (:func:`writes_settled`).
* END: ``D = 1`` (the decode cycle halts the engine).
* COPY (hwgen/rtl/cmp_engine.py): ``S`` latches; ``S+1 .. S+n`` present
  the synchronous IBUF reads of the ``n`` words; CmpEngine registers the read data (block RAM outputs end at a
  flip-flop), so they enter PPURequant in ``S+3 .. S+n+2`` and are written to
  OBUF ``PPURequant.LATENCY`` (8) edges later: ``D = n + 3 + 8``.
* Boot: cycle 0 samples ``start``; the header's first 36 bytes (magic,
  version, config hash, chunk count, table address: ``header_beats``) are
  asked for in cycle 1, their tests registered in one cycle (``FIELDS_CHECK``)
  and decided in the next, then the first chunk's table entry is read
  (``λ' + entry_beats``), registered and decoded likewise: the first chunk's
  code read is asked for at ``boot_cycles = 2 + 2λ' + header_beats +
  entry_beats + 2·FIELDS_CHECK``.
* Chunk fetch: one read of the chunk's code and its 32-byte link to the next
  chunk (``λ' + (n·32 + 32)/B``), launch (1: the IMEM read of the first words
  must follow the last write; it also waits for every earlier store to be
  answered), the engines' FETCH (1) and DECODE: the first instruction may
  start ``chunk_fetch_cycles = 3 + λ' + (n·32 + 32)/B`` cycles after the
  previous chunk's end (or ``writes_settled + 2``, whichever is later).
* Done: the controller sees both engines halted in the chunk's end cycle
  ``E``, waits in FINISH until every write is answered, and raises ``done``
  the cycle after: total cycles = ``max(E + DONE_CYCLES, writes_settled +
  1)``; :func:`done_cycles` for programs whose last chunk ends with a store.

* GEMM (hwgen/rtl/gemm_unit.py, ``P = n_oy·n_ox`` pixels, ``nb = n_c·n_fy·n_fx``
  weight blocks): ``S`` latches; ``S+1 .. S+L`` read block 0's L WBUF rows
  into the array's shadow weights (synchronous WBUF read, the row is written
  one edge later); then one *period* per block: pixel p's IBUF read is
  issued at offset p and, while block b streams, block b+1's rows are read at
  offsets 0..L-1 (the first lands at the swap edge of block b, the last one
  edge before block b+1's swap). A period lasts ``Q = max(P, L, RAW)``, the
  last one P. A pixel issued in cycle ``i`` enters the array in ``i + 1``
  (IBUF read), its column sums reach AccUpdate ``PEArray.LATENCY`` (4) edges
  later in ``i + 5`` with its ABUF word (read presented in ``i + 3``, the
  port is not transparent and its data is registered), and is written to ABUF ``AccUpdate.LATENCY`` (1)
  later in ``i + 6`` = ``i + WRITE``; the same ABUF word is next read by the
  pixel issued ``Q`` cycles later, whose read sees the write only if
  ``Q >= RAW = WRITE - READ + 1 = 4`` (with L >= 4 the weight load already
  guarantees it; L = 2 with P < 4 stalls). The instruction's last cycle is the
  last ABUF write: ``D = 1 + L + (nb-1)·Q + P + WRITE`` (= ``… + P + 6``).
  Busy-PE: ``L·L`` per pixel per block (every cycle the array takes an input;
  padding lanes included), identically in sim/machine and the RTL.

* POOL (hwgen/rtl/pool_unit.py, ``n = n_c·n_oy·n_ox`` windows of ``w = n_fy·n_fx``
  words): ``S`` latches; the window words' IBUF reads are issued in ``S+1 ..
  S+n·w`` (order c, oy, ox, fy, fx); each reaches PPUPool two edges later (the
  port, CmpEngine's register) and a window's result enters PPURequant
  ``PPUPool.LATENCY`` (1) after its last word, then OBUF 8 later:
  ``D = n·w + 4 + 8``.

* ADD (hwgen/rtl/cmp_engine.py): ``S`` latches; the ``a`` and ``b`` words of the
  ``n`` outputs alternate on the IBUF port in ``S+1 .. S+2n``; each enters
  PPUAdd two edges later (the port, CmpEngine's register) and the result is
  written ``PPUAdd.LATENCY`` (6) after its ``b``: ``D = 2n + 3 + 6``.

* DW v2 (hwgen/rtl/dw_unit.py; a group of ``n_gy`` kernel rows x ``n_gx``
  columns, ``R = n_gy·n_gx`` array rows, ``n_oy x n_ox`` pixels): ``S``
  latches; ``S+1 .. S+R`` read the R weight rows (WBUF, into the shadow
  weights one edge later); from ``C0 = S+1+R`` one window *column* a cycle —
  the group's ``n_gy`` words of one kernel column, one from each IBUF bank —
  with no bubble: an output row's first pixel loads ``n_gx`` columns, each
  further pixel the ``n_gx − keep`` new ones (``keep``: the columns the
  window shifts over, a derived field), ``N = n_oy·(n_gx + (n_ox−1)·(n_gx −
  keep))`` in all; the cycle after a pixel's last column read plays GEMM's
  issue (the word lands in the window register), so the last ABUF write is
  at ``C0 + N + WRITE``: ``D = R + N + 2 + WRITE`` (``R + N + 8``).
  Busy-PE: ``R·L`` per pixel (rows = the group's taps, every column, padding
  lanes included), identically in sim/machine and the RTL.

* GEMM or DW with ``rq`` (the requantization fused into the drain,
  hwgen/rtl/cmp_engine.py): every final sum (the last block's, or every DW
  pixel's) enters PPURequant in the cycle it is written to ABUF and reaches
  OBUF ``PPURequant.LATENCY`` (8) edges later; the engine waits for the last
  one: ``D`` as above plus ``RQ_DRAIN`` (8). Nothing else changes (ABUF is
  still written; the PBUF entry is read from the latch on).

* MUL (hwgen/rtl/cmp_engine.py): ADD's read pattern (``a`` and ``b`` words
  alternate from ``S+1``, ``b`` from one address with ``bcast``); each lane's
  ``a·b`` is registered a cycle after the ``b`` word reaches CmpEngine's
  register and enters PPURequant (bias 0, the instruction's M and s):
  ``D = 2n + 3 + 1 + 8``.

* ``ppu_rate`` R > 1 (AccelConfig): PPURequant takes a word every R cycles and its
  latency is ``R - 1`` edges longer (:func:`requant_latency`); every feed of it is
  paced so that two words enter it R cycles apart at least. COPY: a word read
  every R cycles, ``D = 11 + n·R``. POOL: a window's last read R cycles after the
  previous window's at least, ``w + (n-1)·max(w, R)`` reads. MUL: a word every
  ``max(2, R)`` cycles. GEMM with ``rq``: the last block's pixels issued R cycles
  apart (its period ``(P-1)·R + 1``). DW with ``rq``: a pixel's last column read
  R cycles after the previous pixel's at least (:func:`dw_columns` with ``rate``).
  The drain is ``RQ_DRAIN + R - 1`` (:func:`rq_drain`). ADD (PPUAdd) is unchanged.

* Any OBUF writer with ``lut`` (GEMM/DW with ``rq``, ADD, COPY, POOL): each
  result addresses its LBUF bytes in the cycle it leaves its unit, the bytes
  are registered an edge later and written to OBUF in the next cycle: ``D``
  as above plus ``LUT_LATENCY`` (2). LOAD_LUT is a DMA read of ``256·n_tables``
  words like LOAD_WGT's.

The formula helpers take plain numbers or numpy arrays (the scheduler
evaluates them over a grid of candidate tiles), and the cost model's
compiled replay runs them as they are (search/step_record.py, numba): keep
them to arithmetic, ``np.maximum``-style calls and module constants.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from . import image_format
from .accel_config import AccelConfig
from .isa import AddI, Copy, Dw, End, Gemm, Instr, LoadAct, LoadLut, LoadPrm, LoadWgt, MulI, Pool, StoreAct, dw_keep

# Pipeline depths of the RTL units, in clock edges from an input to its result. They are part of
# the contract: the blocks in hwgen/rtl take their ``LATENCY`` from here, and each block's test
# measures it in simulation (tests/hwgen/rtl), so the model and the RTL cannot drift apart.
ROUND_CLAMP_LATENCY = 4  # RoundClamp: round half up, shift, clamp (ppu_round.py)
PE_ARRAY_LATENCY = 4  # PEArray: operand registers, product, adder tree (pe_array.py)
ACC_UPDATE_LATENCY = 1  # AccUpdate: the registered ABUF sum (accumulator.py)
PPU_POOL_LATENCY = 1  # PPUPool: a window's result after its last word (ppu_pool.py)
PPU_ADD_LATENCY = 2 + ROUND_CLAMP_LATENCY  # PPUAdd: products, sum, then RoundClamp (ppu_add.py)
PPU_REQUANT_LATENCY = 4 + ROUND_CLAMP_LATENCY  # PPURequant: bias, partial products, sum (ppu_requant.py)
#: PPURequant's rates (cycles a word; AccelConfig.ppu_rate): its multipliers serve L / rate lanes at once.
PPU_RATES = (1, 2, 4)
LUT_LATENCY = 2  # the pointwise stage: LBUF read, its registered data (cmp_engine.py); only with ``lut``
# GemmUnit's pipeline offsets from a pixel's issue (gemm_unit.py, "GEMM" above).
GEMM_FEED = 1  # IBUF read is synchronous
GEMM_SUM = GEMM_FEED + PE_ARRAY_LATENCY  # column sums (and the ABUF word) at AccUpdate
GEMM_READ = GEMM_SUM - 2  # ABUF read address presented (port, then CmpEngine's register)
GEMM_WRITE = GEMM_SUM + ACC_UPDATE_LATENCY  # ABUF write enable
GEMM_RAW = GEMM_WRITE - GEMM_READ + 1  # issue distance between two updates of one ABUF word

# The bus wrapper (hwgen/rtl/axi_master.py) on the ideal memory: a run asked for in cycle t
# (a load's slot, a controller read) has its first beat taken by the requester in cycle
# t + λ + READ_PIPE: the command register, the AR register, then the read FIFO's two stages.
READ_PIPE = 2
# The controller registers a fields read's tests before deciding on them (hwgen/rtl/controller.py
# CHECK): once for the header, once for the first chunk's table entry.
FIELDS_CHECK = 1
ISSUE_GAP = 1  # FETCH: cycles between the end of one instruction and the start of the next on an engine
DMA_READ_OVERHEAD = 1  # cycle S latches the fields; requests start at S + 1
DMA_WRITE_OVERHEAD = 2  # S latches, S + 1 reads the first OBUF word
# COPY (and POOL): S latches, S+1 presents the first synchronous buffer read, the
# word is on the port at S+2, in CmpEngine's register (it enters PPURequant) at
# S+3 and is written LATENCY edges later.
PPU_LATENCY = 3 + PPU_REQUANT_LATENCY
END_CYCLES = 1
# From the last chunk's end E: FINISH (one cycle, once every write is answered), then done.
DONE_CYCLES = 2
# A store is posted; its last B response is in, and the master's writes idle, WRITE_SETTLE + λ
# cycles after the store's end (the W FIFO and the AW -> W burst queue, then the memory's λ).
WRITE_SETTLE = 3
# DW: S latches, the weight rows, then a column a cycle; the cycle after a pixel's last column read
# (its word lands in the window) is its GEMM-style issue: D = rows + columns + DW_OVERHEAD.
DW_OVERHEAD = 2 + GEMM_WRITE
ADD_LATENCY, POOL_LATENCY = PPU_ADD_LATENCY, PPU_POOL_LATENCY
# MUL: the registered int8 x int8 product of each lane, then PPURequant (cmp_engine.py).
MUL_LATENCY = 1 + PPU_REQUANT_LATENCY
# GEMM/DW with the requantization fused: the last final sum's trip through PPURequant to OBUF.
RQ_DRAIN = PPU_REQUANT_LATENCY
# A lookup table in DRAM and in a LOAD_LUT: 256 words (entry e of every lane's table in word e).
LUT_WORDS = 256
# The header's layout (a module the compiled replay's cache stamp follows, search/replay.py).
HEADER_CHECK_BYTES = image_format.HEADER_CHECK_BYTES
CHUNK_ENTRY_BYTES, LINK_BYTES = image_format.CHUNK_ENTRY_BYTES, image_format.LINK_BYTES


class TimingConfig(Protocol):
    """The AccelConfig fields the formulas below read: an AccelConfig, or the compiled replay's
    plain-number view of one (search/step_record.py ``CfgView``)."""

    @property
    def lanes(self) -> int: ...
    @property
    def dram_latency(self) -> int: ...
    @property
    def word_bytes(self) -> int: ...
    @property
    def bus_bytes(self) -> int: ...
    @property
    def ppu_rate(self) -> int: ...


def requant_latency(rate: Any) -> Any:
    """PPURequant's edges from a word's ``in_valid`` to its ``out_valid`` at ``rate`` cycles a word:
    the last lanes enter ``rate - 1`` cycles after the first."""
    return PPU_REQUANT_LATENCY + rate - 1


def rq_drain(rate: Any) -> Any:
    """A fused requantization's drain after the GEMM's or DW's last ABUF write, at ``rate``."""
    return RQ_DRAIN + rate - 1


def gemm_rq_cycles(n_pix: Any, rate: Any) -> Any:
    """What ``rq`` adds to a GEMM at ``rate``: the last block's ``P`` pixels issued ``rate`` cycles
    apart (``(P-1)·(rate-1)`` more cycles) and the drain."""
    return rq_drain(rate) + (n_pix - 1) * (rate - 1)


def header_beats(cfg: TimingConfig) -> int:
    """Bus beats of the header's checked fields (bytes 0 .. 35), read at every start."""
    return range_beats(cfg, 0, HEADER_CHECK_BYTES)


def read_fifo_depth(cfg: AccelConfig) -> int:
    """Beats the AXI master's read FIFO holds: enough for every beat in flight on the ideal memory
    (its latency plus the wrapper's stages) and a whole burst more, so credits never hold back a
    burst that the ideal memory could answer in time."""
    return cfg.dram_latency + READ_PIPE + cfg.max_burst_beats + 2


def write_bursts_cap(cfg: AccelConfig) -> int:
    """Write bursts the AXI master lets wait for their B response; more than the ideal memory
    ever has in flight (one burst a beat for its latency)."""
    return cfg.dram_latency + 16


def array_latency(cfg: AccelConfig) -> int:
    """Adder-tree depth plus the ABUF read-modify-write of the array."""
    return (cfg.lanes - 1).bit_length() + 3


def beats(cfg: TimingConfig) -> int:
    """DRAM bus beats per word."""
    return cfg.word_bytes // cfg.bus_bytes


def read_latency(cfg: TimingConfig) -> int:
    """Cycles from a run's command to its first beat at the requester, on the ideal memory."""
    return cfg.dram_latency + READ_PIPE


def dma_read_cycles(cfg: TimingConfig, words: Any, pad_words: Any = 0) -> Any:
    """A DMA read of ``words`` DRAM words plus ``pad_words`` padding words written
    without reading (one slot each): ``1 + slots + λ + READ_PIPE``; a box of padding
    only waits for no beat: ``2 + slots``."""
    wait = 1 + (read_latency(cfg) - 1) * np.minimum(words, 1)
    return DMA_READ_OVERHEAD + wait + words * beats(cfg) + pad_words


def dma_write_cycles(cfg: TimingConfig, words: Any) -> Any:
    """A DMA write (posted) of ``words`` words: ``2 + words * beats``."""
    return DMA_WRITE_OVERHEAD + words * beats(cfg)


def done_cycles(cfg: TimingConfig) -> int:
    """From the last chunk's end ``E`` to the first cycle with ``done`` high, when the chunk's MEM
    stream ends with a store then END (every lowered chunk does: hwgen/lower/program.py): the
    store ended in ``E - 2``, and done waits for its answers. sim/machine computes the general
    case, ``max(E + DONE_CYCLES, writes_settled + 1)``."""
    return max(DONE_CYCLES, cfg.dram_latency + WRITE_SETTLE - 1)


def writes_settled(cfg: TimingConfig, store_end: int) -> int:
    """The first cycle in which every write of a store ending at ``store_end`` is answered."""
    return store_end + cfg.dram_latency + WRITE_SETTLE


def range_beats(cfg: TimingConfig, addr: int, nbytes: int) -> int:
    """Bus beats the controller reads for bytes ``addr .. addr + nbytes - 1``."""
    b = cfg.bus_bytes
    return (addr % b + nbytes + b - 1) // b


def entry_beats(cfg: TimingConfig) -> int:
    """Bus beats of the first chunk's table entry (the table is bus aligned)."""
    return range_beats(cfg, 0, CHUNK_ENTRY_BYTES)


def boot_cycles(cfg: AccelConfig) -> int:
    """Cycles from ``start`` to the first chunk's code read (the header read and checked, the first
    chunk's table entry read and decoded)."""
    return 2 + 2 * read_latency(cfg) + header_beats(cfg) + entry_beats(cfg) + 2 * FIELDS_CHECK


def boot_bytes(cfg: AccelConfig) -> int:
    return (header_beats(cfg) + entry_beats(cfg)) * cfg.bus_bytes


def chunk_fetch_cycles(cfg: TimingConfig, n_instructions: Any) -> Any:
    """From the previous chunk's end (or the boot) to the first instruction's earliest start: the
    code and the link to the next chunk in one read, the launch, the engines' FETCH."""
    return 3 + read_latency(cfg) + (n_instructions * 32 + LINK_BYTES) // cfg.bus_bytes


def chunk_fetch_bytes(cfg: TimingConfig, n_instructions: Any) -> Any:
    """DRAM bytes the controller reads to fetch a chunk (its code and its link)."""
    return n_instructions * 32 + LINK_BYTES


def gemm_cycles(cfg: TimingConfig, n_blocks: Any, n_pix: Any) -> Any:
    """EXACT (hwgen/rtl/gemm_unit.py): ``1 + L + (nb-1)·max(P, L, RAW) + P + WRITE`` —
    latch, block 0's weight load, one period per block but the last (the next
    block's weights load while this one streams), the last block's pixels, and
    the pipeline from the last IBUF read to its ABUF write."""
    L = cfg.lanes
    period = np.maximum(n_pix, max(L, GEMM_RAW))
    return 1 + L + (n_blocks - 1) * period + n_pix + GEMM_WRITE


def dw_columns(n_oy: Any, n_ox: Any, n_gx: Any, keep: Any, rate: Any = 1) -> Any:
    """Window columns a DW instruction reads: ``n_gx`` for an output row's first pixel, ``n_gx -
    keep`` for each further one; with ``rq`` at ``ppu_rate`` > 1 (``rate``) each pixel but the
    first takes ``rate`` cycles at least (its last read stalls)."""
    new = np.maximum(n_gx - keep, rate)
    return n_gx + (n_oy - 1) * np.maximum(n_gx, rate) + n_oy * (n_ox - 1) * new


def dw_cycles(cfg: TimingConfig, n_rows: Any, n_columns: Any) -> Any:
    """EXACT (hwgen/rtl/dw_unit.py): ``R + N + 2 + WRITE`` — latch, the R weight rows, one window
    column a cycle (each the group's kernel rows, one IBUF bank each), the issue of the last pixel
    and the array path to its ABUF write."""
    return n_rows + n_columns + DW_OVERHEAD


def ppu_cycles(words: Any, rate: Any = 1) -> Any:
    """EXACT (COPY): a word read every ``rate`` cycles (``ppu_rate``), then PPURequant."""
    return PPU_LATENCY + words * rate


def add_cycles(words: Any) -> Any:
    """EXACT: two IBUF reads a word, the read data register, then PPUAdd."""
    return 3 + ADD_LATENCY + 2 * words


def mul_cycles(words: Any, rate: Any = 1) -> Any:
    """EXACT: ADD's two IBUF reads a word (a word every ``max(2, rate)`` cycles at ``ppu_rate``),
    the read data register, the product register, then PPURequant."""
    return 3 + MUL_LATENCY + rate + 1 + np.maximum(2, rate) * (words - 1)


def pool_cycles(windows: Any, window_words: Any, rate: Any = 1) -> Any:
    """EXACT: ``windows·window_words`` IBUF reads (a window's last R cycles after the previous
    window's at least, at ``ppu_rate`` R), then PPUPool and PPURequant."""
    reads = window_words + (windows - 1) * np.maximum(window_words, rate)
    return PPU_LATENCY + POOL_LATENCY + rate - 1 + reads


def duration(ins: Instr, cfg: AccelConfig) -> int:
    """Cycles ``ins`` occupies its engine."""
    if isinstance(ins, LoadAct):
        real_y = ins.n_y - ins.pad_top - ins.pad_bottom
        real_x = ins.n_x - ins.pad_left - ins.pad_right
        real = ins.n_c * max(real_y, 0) * max(real_x, 0)
        total = ins.n_c * ins.n_y * ins.n_x
        return int(dma_read_cycles(cfg, real, total - real))
    if isinstance(ins, LoadWgt):
        return int(dma_read_cycles(cfg, ins.n_words))
    if isinstance(ins, LoadPrm):
        return int(dma_read_cycles(cfg, ins.n_entries * cfg.pbuf_entry_bytes // cfg.word_bytes))
    if isinstance(ins, LoadLut):
        return int(dma_read_cycles(cfg, ins.n_tables * LUT_WORDS))
    if isinstance(ins, StoreAct):
        return int(dma_write_cycles(cfg, ins.n_c * ins.n_y * ins.n_x))
    lut, R = getattr(ins, "lut", 0) * LUT_LATENCY, cfg.ppu_rate
    if isinstance(ins, Gemm):
        pix = ins.n_oy * ins.n_ox
        return int(gemm_cycles(cfg, ins.n_c * ins.n_fy * ins.n_fx, pix)) + ins.rq * int(gemm_rq_cycles(pix, R)) + lut
    if isinstance(ins, Dw):
        keep = dw_keep(ins.n_gx, ins.s_fx, ins.s_ox)
        cols = dw_columns(ins.n_oy, ins.n_ox, ins.n_gx, keep, R if ins.rq else 1)
        return int(dw_cycles(cfg, ins.n_gy * ins.n_gx, cols)) + ins.rq * int(rq_drain(R)) + lut
    if isinstance(ins, AddI):
        return int(add_cycles(ins.n)) + lut
    if isinstance(ins, Copy):
        return int(ppu_cycles(ins.n, R)) + lut
    if isinstance(ins, MulI):
        return int(mul_cycles(ins.n, R)) + lut
    if isinstance(ins, Pool):
        return int(pool_cycles(ins.n_c * ins.n_oy * ins.n_ox, ins.n_fy * ins.n_fx, R)) + lut
    if isinstance(ins, End):
        return END_CYCLES
    raise TypeError(f"no duration for {type(ins).__name__}")


def busy_pe(ins: Instr, cfg: AccelConfig) -> int:
    """Array-occupied PE-cycles: ``L·L`` per pixel per GEMM weight block, ``T·L`` per pixel of a
    DW group of ``T = n_gy·n_gx`` taps (padding rows and lanes included; not the useful MACs), as the RTL counts."""
    if isinstance(ins, Gemm):
        return ins.n_c * ins.n_fy * ins.n_fx * ins.n_oy * ins.n_ox * cfg.lanes * cfg.lanes
    if isinstance(ins, Dw):
        return ins.n_gy * ins.n_gx * ins.n_oy * ins.n_ox * cfg.lanes
    return 0
