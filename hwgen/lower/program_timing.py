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

from dian.errors import ProgramError

from .. import timing
from ..accel_config import AccelConfig
from ..isa import Instr, StoreAct, Token
from .program import Chunk, Program

_TOKENS = (Token.LD_CMP, Token.CMP_LD, Token.CMP_ST, Token.ST_CMP)


def program_cycles(program: Program, cfg: AccelConfig, start: int = 0) -> tuple[int, int]:
    """``(end, settled)``: the cycle the last chunk of ``program`` ends when its first chunk's fetch
    begins at ``start``, and the cycle its last store is answered."""
    now, settled = start, 0
    for chunk in program.chunks:
        now = max(now + timing.chunk_fetch_cycles(cfg, len(chunk)), settled + 2)
        now, settled = _chunk_end(chunk, cfg, now, settled)
    return now, settled


def _chunk_end(chunk: Chunk, cfg: AccelConfig, start: int, settled: int) -> tuple[int, int]:
    queues: dict[Token, deque[int]] = {t: deque() for t in _TOKENS}
    streams: list[tuple[Instr, ...]] = [chunk.mem, chunk.cmp]
    pc, free = [0, 0], [start, start]
    end_time = start
    while True:
        best: tuple[int, int] | None = None
        for e in (0, 1):  # MEM first on a tie, as the machine
            if pc[e] == len(streams[e]):
                continue
            ins = streams[e][pc[e]]
            waits = [t for t in _TOKENS if ins.wait & t]
            if any(not queues[t] for t in waits):
                continue
            at = max([free[e]] + [queues[t][0] for t in waits])
            if best is None or at < best[0]:
                best = (at, e)
        if best is None:
            if pc == [len(streams[0]), len(streams[1])]:
                return end_time, settled
            raise ProgramError("a program chunk deadlocks: its tokens do not balance.")
        at, e = best
        ins = streams[e][pc[e]]
        for t in _TOKENS:
            if ins.wait & t:
                queues[t].popleft()
        end = at + timing.duration(ins, cfg)
        if isinstance(ins, StoreAct):
            settled = max(settled, timing.writes_settled(cfg, end))
        for t in _TOKENS:
            if ins.signal & t:
                queues[t].append(end)
        free[e] = end + timing.ISSUE_GAP
        pc[e] += 1
        end_time = max(end_time, end)
