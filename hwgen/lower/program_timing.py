"""The cycles of a :class:`Program` on the ideal memory, without data: the timing contract of
docs/accelerator.md ("Timing contract") applied to its token-annotated streams, chunk by chunk.

An instruction starts at ``max(end of its engine's previous one + ISSUE_GAP, arrival of every
token it waits for)`` and lasts ``timing.duration``; a chunk starts ``chunk_fetch_cycles`` after
the previous one's end (and two cycles after its stores are answered). The lowering uses it to
time a fused block's candidate tilings exactly (fused_choice.py), before the cost model has a
closed form for them; sim/machine, written independently, is what it is tested against.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from dian.errors import ProgramError

from .. import timing
from ..accel_config import AccelConfig
from ..isa import Instr, LoadAct, LoadLut, LoadPrm, LoadWgt, StoreAct, Token
from .program import Chunk, Program

_TOKENS = (Token.LD_CMP, Token.CMP_LD, Token.CMP_ST, Token.ST_CMP)
_BITS = tuple(int(t) for t in _TOKENS)


def program_cycles(program: Program, cfg: AccelConfig, start: int = 0) -> tuple[int, int]:
    """``(end, settled)``: the cycle the last chunk of ``program`` ends when its first chunk's fetch
    begins at ``start``, and the cycle its last store is answered."""
    now, settled = start, 0
    for chunk in program.chunks:
        now = max(now + timing.chunk_fetch_cycles(cfg, len(chunk)), settled + 2)
        now, settled = _chunk_end(chunk, cfg, now, settled)
    return now, settled


@dataclass(frozen=True)
class WorkShare:
    """A work's share of a network's counters, as the schedules' predictions count them: the cycles
    and DRAM bytes of a program holding only the work, less the boot, the done and the boot bytes
    (search/mapper.py's convention: a network's counters are the sum of its works' shares plus those)."""

    cycles: int
    dram_read: int
    dram_write: int


def work_share(program: Program, cfg: AccelConfig) -> WorkShare:
    """The share of the one work ``program`` holds (its chunks, as the lowering emits them)."""
    boot = timing.boot_cycles(cfg)
    end, settled = program_cycles(program, cfg, boot)
    cycles = max(end + timing.DONE_CYCLES, settled + 1) - boot - timing.done_cycles(cfg)
    read = write = 0
    L = cfg.lanes
    for chunk in program.chunks:
        read += timing.chunk_fetch_bytes(cfg, len(chunk))
        for ins in chunk.mem:
            if isinstance(ins, LoadAct):
                rows, cols = ins.n_y - ins.pad_top - ins.pad_bottom, ins.n_x - ins.pad_left - ins.pad_right
                read += ins.n_c * max(rows, 0) * max(cols, 0) * L if rows > 0 and cols > 0 else 0
            elif isinstance(ins, LoadWgt):
                read += ins.n_words * L
            elif isinstance(ins, LoadPrm):
                read += ins.n_entries * cfg.pbuf_entry_bytes
            elif isinstance(ins, LoadLut):
                read += ins.n_tables * timing.LUT_WORDS * L
            elif isinstance(ins, StoreAct):
                write += ins.n_c * ins.n_y * ins.n_x * L
    return WorkShare(cycles, read, write)


def _chunk_end(chunk: Chunk, cfg: AccelConfig, start: int, settled: int) -> tuple[int, int]:
    # Token sets as plain ints, bit j = _BITS[j] (an IntFlag's ``&`` is an enum call: the hot spot).
    queues: list[deque[int]] = [deque() for _ in _BITS]
    streams: list[tuple[Instr, ...]] = [chunk.mem, chunk.cmp]
    waits = [[[j for j, b in enumerate(_BITS) if int(i.wait) & b] for i in s] for s in streams]
    signals = [[[j for j, b in enumerate(_BITS) if int(i.signal) & b] for i in s] for s in streams]
    pc, free = [0, 0], [start, start]
    end_time = start
    while True:
        best: tuple[int, int] | None = None
        for e in (0, 1):  # MEM first on a tie, as the machine
            if pc[e] == len(streams[e]):
                continue
            need = waits[e][pc[e]]
            if any(not queues[j] for j in need):
                continue
            at = max([free[e]] + [queues[j][0] for j in need])
            if best is None or at < best[0]:
                best = (at, e)
        if best is None:
            if pc == [len(streams[0]), len(streams[1])]:
                return end_time, settled
            raise ProgramError("a program chunk deadlocks: its tokens do not balance.")
        at, e = best
        ins = streams[e][pc[e]]
        for j in waits[e][pc[e]]:
            queues[j].popleft()
        end = at + timing.duration(ins, cfg)
        if isinstance(ins, StoreAct):
            settled = max(settled, timing.writes_settled(cfg, end))
        for j in signals[e][pc[e]]:
            queues[j].append(end)
        free[e] = end + timing.ISSUE_GAP
        pc[e] += 1
        end_time = max(end_time, end)
