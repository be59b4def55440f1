"""Programs: steps -> chunks of two token-synchronized instruction streams.

The lowering describes a layer as :class:`Step` s in execution order. A step
loads data into IBUF/WBUF/PBUF (each :class:`Load` names the buffer and a key
saying *what* it holds, so data already resident is not loaded again), then
computes (CMP instructions) and, when it finishes an output tile, stores it.
Instruction addresses inside buffers are relative to a buffer half; the
assembler picks the halves and adds their bases.

Double buffering and tokens (docs/accelerator.md, "Instructions"): every
buffer flips halves at each load into it, and in a chunk of S steps and O
output tiles

* the last load of step s signals LD->CMP; step s's first CMP instruction waits on it;
* step s's last CMP instruction signals CMP->LD when s + 2 < S; the first load
  of step s waits on it when s >= 2 (so a half is only overwritten after the
  step before last, the last one that could read it, is done);
* the first OBUF write of output o waits ST->CMP when o >= 2; its last OBUF
  write signals CMP->ST; the store of o waits on that and signals ST->CMP when
  o + 2 < O; OBUF halves alternate by output;
* MEM order: loads of step s, then the store of the output step s-1
  finished; the last store ends the chunk.

A chunk never spans two layers, so each layer's timing is independent of
its neighbours' (search/replay.py relies on it).

Every step loads at least one thing (a step whose data is all resident
reloads its first load), so each chunk balances every token: chunks end with
no token outstanding, and buffers' residency is forgotten at a chunk boundary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from dataclasses import dataclass

from dian.errors import ProgramError

from ..accel_config import AccelConfig
from ..isa import (
    CMP_OPS,
    MEM_OPS,
    End,
    Instr,
    LoadAct,
    LoadLut,
    LoadPrm,
    LoadWgt,
    StoreAct,
    Token,
)
from ..isa_queries import fbuf_fields, writes_obuf, zero_unused_strides
from ..timing import LUT_WORDS

_BUF_OF_KIND = {"ib": "ibuf", "wb": "wbuf", "ab": "abuf", "ob": "obuf", "of": "obuf", "pb": "pbuf", "lt": "lbuf"}
_ADDRESS_FIELDS = ("dst", "src", "wgt", "prm", "src_a", "src_b", "odst", "ltab")
_FUSED_FIELDS = ("odst", "prm")  # a GEMM's or DW's: unused (left 0) unless ``rq``
_LUT_FIELDS = ("ltab",)  # an OBUF writer's: unused (left 0) unless ``lut``


@dataclass(frozen=True)
class Load:
    buffer: str  # "ibuf" | "wbuf" | "pbuf" | "lbuf"
    key: Hashable
    instrs: tuple[Instr, ...]


@dataclass(frozen=True)
class Step:
    layer: str
    loads: tuple[Load, ...]
    compute: tuple[Instr, ...]
    store: tuple[Instr, ...] = ()  # non-empty when the step finishes an output tile
    new_output: bool = False  # first step of an output tile (flips the ABUF half)


@dataclass(frozen=True)
class Chunk:
    mem: tuple[Instr, ...]
    cmp: tuple[Instr, ...]

    def __len__(self) -> int:
        return len(self.mem) + len(self.cmp)


@dataclass(frozen=True)
class Program:
    chunks: tuple[Chunk, ...]

    @property
    def n_instructions(self) -> int:
        return sum(len(c) for c in self.chunks)


def rebase(ins: Instr, bases: dict[str, int]) -> Instr:
    """Add the base of the buffer half to every buffer-address field of ``ins``."""
    ins = zero_unused_strides(ins)
    kinds = dict(ins.FIELDS)
    unused = (
        (_FUSED_FIELDS if getattr(ins, "rq", 1) == 0 else ())
        + (_LUT_FIELDS if getattr(ins, "lut", 1) == 0 else ())
        + fbuf_fields(ins)  # FBUF addresses are absolute: one buffer, no halves
    )
    upd = {
        f: getattr(ins, f) + bases[_BUF_OF_KIND[kinds[f]]] for f in _ADDRESS_FIELDS if f in kinds and f not in unused
    }
    return dataclasses.replace(ins, **upd) if upd else ins


def _tok(ins: Instr, wait: Token = Token.NONE, signal: Token = Token.NONE) -> Instr:
    return ins.with_tokens(ins.wait | wait, ins.signal | signal)


@dataclass
class _Placed:
    layer: str
    loads: list[Instr]
    compute: list[Instr]
    store: list[Instr]


class Assembler:
    """Packs steps into chunks that fit IMEM (``imem_instructions``, both streams and their ENDs)."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.half_words = {
            b: (cfg.pbuf_entries if b == "pbuf" else cfg.words(b)) // 2
            for b in ("ibuf", "wbuf", "pbuf", "abuf", "obuf")
        }
        self.half_words["lbuf"] = cfg.lut_tables  # LBUF addresses count tables
        self.half = dict.fromkeys(self.half_words, 1)
        self.resident: dict[str, Hashable] = {}
        self.chunks: list[Chunk] = []
        self._cur: list[_Placed] = []
        self._count = 0

    def _emitted_loads(self, step: Step) -> list[Load]:
        fresh = [ld for ld in step.loads if self.resident.get(ld.buffer) != ld.key]
        return fresh or list(step.loads[:1])

    def add(self, step: Step) -> None:
        if not step.loads or not step.compute:
            raise ProgramError(f"layer '{step.layer}': a step needs at least one load and one compute instruction.")
        if self._cur and self._cur[-1].layer != step.layer:
            self.flush()  # chunks never span layers: a network's cycles are the sum of its layers'
        loads = self._emitted_loads(step)
        n = sum(len(ld.instrs) for ld in loads) + len(step.compute) + len(step.store)
        if self._count + n + 2 > self.cfg.imem_instructions and self._cur:
            self.flush()
            loads = self._emitted_loads(step)
            n = sum(len(ld.instrs) for ld in loads) + len(step.compute) + len(step.store)
        if n + 2 > self.cfg.imem_instructions:
            raise ProgramError(
                f"layer '{step.layer}': one step needs {n} instructions, more than the "
                f"{self.cfg.imem_instructions - 2} an IMEM chunk holds."
            )
        placed_loads: list[Instr] = []
        for ld in loads:
            self.half[ld.buffer] ^= 1
            self.resident[ld.buffer] = ld.key
            base = {ld.buffer: self.half[ld.buffer] * self.half_words[ld.buffer]}
            placed_loads += [rebase(i, base) for i in ld.instrs]
        if step.new_output:
            self.half["abuf"] ^= 1
        outputs = sum(1 for p in self._cur if p.store)
        self.half["obuf"] = outputs % 2
        bases = {b: self.half[b] * w for b, w in self.half_words.items()}
        compute = [rebase(i, bases) for i in step.compute]
        store = [rebase(i, bases) for i in step.store]
        self._cur.append(_Placed(step.layer, placed_loads, compute, store))
        self._count += n

    def flush(self) -> None:
        if not self._cur:
            return
        chunk = _tokens(self._cur)
        _check_no_reload(chunk, self.cfg)
        self.chunks.append(chunk)
        self._cur, self._count = [], 0
        self.resident = {}

    def program(self) -> Program:
        self.flush()
        return Program(tuple(self.chunks))


def _tokens(steps: list[_Placed]) -> Chunk:
    n_steps = len(steps)
    n_out = sum(1 for p in steps if p.store)
    mem: list[Instr] = []
    cmp: list[Instr] = []
    pending: tuple[str, list[Instr]] | None = None
    o = 0
    for s, p in enumerate(steps):
        loads = list(p.loads)
        if s >= 2:
            loads[0] = _tok(loads[0], wait=Token.CMP_LD)
        loads[-1] = _tok(loads[-1], signal=Token.LD_CMP)
        if pending is not None and pending[0] != p.layer:
            mem += pending[1]
            pending = None
        mem += loads
        if pending is not None:
            mem += pending[1]
            pending = None
        comp = list(p.compute)
        comp[0] = _tok(comp[0], wait=Token.LD_CMP)
        if s + 2 < n_steps:
            comp[-1] = _tok(comp[-1], signal=Token.CMP_LD)
        if p.store:
            writers = [i for i, ins in enumerate(comp) if writes_obuf(ins)]
            if not writers:
                raise ProgramError(f"layer '{p.layer}': a step stores an output tile that no instruction wrote.")
            if o >= 2:
                comp[writers[0]] = _tok(comp[writers[0]], wait=Token.ST_CMP)
            comp[writers[-1]] = _tok(comp[writers[-1]], signal=Token.CMP_ST)
            store = list(p.store)
            store[0] = _tok(store[0], wait=Token.CMP_ST)
            if o + 2 < n_out:
                store[-1] = _tok(store[-1], signal=Token.ST_CMP)
            pending = (p.layer, store)
            o += 1
        cmp += comp
    if pending is not None:
        mem += pending[1]
    for ins in mem:
        assert ins.OPCODE in MEM_OPS, ins
    for ins in cmp:
        assert ins.OPCODE in CMP_OPS, ins
    return Chunk((*mem, End()), (*cmp, End()))


def dram_span(ins: Instr, cfg: AccelConfig) -> tuple[int, int]:
    """The DRAM bytes ``[lo, hi)`` a load reads or a store writes (a bounding interval; empty for a
    box of padding only)."""
    L = cfg.lanes
    if isinstance(ins, LoadWgt):
        return ins.dram, ins.dram + ins.n_words * L
    if isinstance(ins, LoadPrm):
        return ins.dram, ins.dram + ins.n_entries * cfg.pbuf_entry_bytes
    if isinstance(ins, LoadLut):
        return ins.dram, ins.dram + ins.n_tables * LUT_WORDS * L
    if isinstance(ins, LoadAct):
        rows, cols = ins.n_y - ins.pad_top - ins.pad_bottom, ins.n_x - ins.pad_left - ins.pad_right
    elif isinstance(ins, StoreAct):
        rows, cols = ins.n_y, ins.n_x
    else:
        raise TypeError(f"{type(ins).__name__} does not access DRAM")
    if rows <= 0 or cols <= 0:
        return ins.dram, ins.dram
    return ins.dram, ins.dram + (ins.n_c - 1) * ins.s_c + (rows - 1) * ins.s_y + cols * L


def _check_no_reload(chunk: Chunk, cfg: AccelConfig) -> None:
    """Stores are posted: the hardware orders them before the next chunk's loads, not before later
    loads of their own chunk (hwgen/rtl/controller.py). So no load may read what an earlier store
    of its chunk wrote."""
    stored: list[tuple[int, int]] = []
    for pc, ins in enumerate(chunk.mem):
        if isinstance(ins, StoreAct):
            stored.append(dram_span(ins, cfg))
        elif isinstance(ins, (LoadAct, LoadWgt, LoadPrm, LoadLut)):
            lo, hi = dram_span(ins, cfg)
            if any(lo < s_hi and s_lo < hi for s_lo, s_hi in stored):
                raise ProgramError(
                    f"MEM instruction {pc} ({ins.describe()}) reads DRAM bytes {lo}..{hi - 1} that a store earlier "
                    f"in its chunk wrote; stores are posted, so such a load needs a chunk boundary before it."
                )
