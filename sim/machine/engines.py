"""The two engines and the controller: in-order MEM and CMP interpreters
synchronized by token counters, running a DRAM image chunk by chunk.

An instruction starts at ``max(end of the previous one on its engine +
ISSUE_GAP, arrival of every token it waits for)`` (docs/accelerator.md,
"Timing contract") and lasts ``hwgen.timing.duration`` cycles; a token
arrives when the instruction signalling it ends. The simulator executes
instructions one at a time in order of start time (MEM first on ties), so
what one engine writes is visible to the other exactly as the tokens allow.
The controller boots from the header and the first chunk's table entry
(``boot_cycles``), fetches each chunk (``chunk_fetch_cycles``: its code and
its link to the next one) after the previous one's end, and raises done ``DONE_CYCLES`` after the last chunk's end; both
streams must reach END with every token consumed. An instruction its engine
cannot run (a CMP opcode in the MEM stream or the reverse, DW without the
depthwise dataflow: what raises the RTL's ``error``) is a ProgramError. The controller's header,
table and code reads count as DRAM bytes read, as the RTL counts them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from dian.errors import ProgramError
from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig, Dataflow
from dian.hwgen.encoding import Encoding
from dian.hwgen.image_format import CHUNK_ENTRY, LINK_BYTES
from dian.hwgen.isa import CMP_OPS, INSTRUCTION_BYTES, MEM_OPS, Dw, End, Instr, Opcode, StoreAct, Token
from dian.hwgen.lower.dram_image import ChunkEntry, read_header

from .datapath import Datapath

_TOKENS = (Token.LD_CMP, Token.CMP_LD, Token.CMP_ST, Token.ST_CMP)


@dataclass
class Counters:
    """Performance counters, as the RTL exposes them."""

    cycles: int = 0
    busy_pe_cycles: int = 0  # array-occupied PE-cycles (hwgen/timing.py's busy_pe), not MACs
    dram_bytes_read: int = 0  # activations, weights, parameters, header, chunk table and program chunks
    dram_bytes_written: int = 0
    program_bytes_read: int = 0  # header fields, chunk table entries, program chunks
    instructions: int = 0
    chunks: int = 0

    def utilization(self, cfg: AccelConfig) -> float:
        return self.busy_pe_cycles / max(1, self.cycles * cfg.pe_rows * cfg.pe_cols)


@dataclass
class TraceEntry:
    chunk: int
    engine: str
    pc: int
    instr: Instr
    start: int
    end: int


@dataclass
class _Engine:
    name: str
    instrs: list[Instr]
    pc: int = 0
    free_at: int = 0
    done: bool = False


@dataclass
class Machine:
    """Runs the program in ``dram`` (a mutable uint8 image) on a model of ``cfg``."""

    cfg: AccelConfig
    dram: np.ndarray
    keep_trace: bool = False
    counters: Counters = field(default_factory=Counters)
    trace: list[TraceEntry] = field(default_factory=list)
    writes_settled: int = 0  # the first cycle in which every store so far is answered (posted writes)

    def run(self) -> Counters:
        header = read_header(self.dram, self.cfg)
        enc = Encoding(self.cfg)
        dp = Datapath(self.cfg, self.dram)
        now = timing.boot_cycles(self.cfg)
        self.counters.program_bytes_read += timing.boot_bytes(self.cfg)
        # The controller reads the table for the first chunk only; each chunk's link names the next.
        ch = header.chunks[0] if header.chunks else None
        for ci in range(len(header.chunks)):
            assert ch is not None
            n = ch.n_mem + ch.n_cmp
            if ch.addr + n * INSTRUCTION_BYTES + LINK_BYTES > len(self.dram):
                raise ProgramError(
                    f"chunk {ci}: its {n:,} instructions and link at byte {ch.addr:,} run past the "
                    f"{len(self.dram):,}-byte DRAM (a damaged chunk table or link)."
                )
            code = self.dram[ch.addr : ch.addr + n * INSTRUCTION_BYTES + LINK_BYTES].tobytes()
            instrs = enc.decode_stream(code[: n * INSTRUCTION_BYTES])
            mem, cmp = instrs[: ch.n_mem], instrs[ch.n_mem :]
            for name, s, ops in (("MEM", mem, MEM_OPS), ("CMP", cmp, CMP_OPS)):
                if not s or not isinstance(s[-1], End) or any(isinstance(i, End) for i in s[:-1]):
                    raise ProgramError(f"chunk {ci}: the {name} stream must end with exactly one END.")
                self._check_stream(ci, name, s, ops)
            self.counters.program_bytes_read += timing.chunk_fetch_bytes(self.cfg, n)
            # The launch (two cycles before the first start) also waits for the stores before it.
            now = max(now + timing.chunk_fetch_cycles(self.cfg, n), self.writes_settled + 2)
            now = self._run_chunk(ci, dp, _Engine("MEM", mem, free_at=now), _Engine("CMP", cmp, free_at=now))
            self.counters.chunks += 1
            ch = ChunkEntry(*CHUNK_ENTRY.unpack_from(code, n * INSTRUCTION_BYTES))
        c = self.counters
        c.cycles = max(now + timing.DONE_CYCLES, self.writes_settled + 1)
        c.dram_bytes_read = dp.bytes_read + c.program_bytes_read
        c.dram_bytes_written = dp.bytes_written
        return c

    def _check_stream(self, ci: int, name: str, stream: list[Instr], ops: frozenset[Opcode]) -> None:
        for pc, ins in enumerate(stream):
            if ins.OPCODE not in ops:
                raise ProgramError(
                    f"chunk {ci}, {name} instruction {pc}: {ins.OPCODE.name} is not a {name} instruction; the "
                    f"{name} engine runs {', '.join(sorted(o.name for o in ops))}."
                )
            if isinstance(ins, Dw) and Dataflow.DEPTHWISE not in self.cfg.dataflows:
                raise ProgramError(
                    f"chunk {ci}, CMP instruction {pc}: DW on accelerator config '{self.cfg.name}', "
                    f"which has no depthwise dataflow."
                )

    def _run_chunk(self, ci: int, dp: Datapath, *engines: _Engine) -> int:
        queues: dict[Token, deque[int]] = {t: deque() for t in _TOKENS}
        end_time = 0
        while True:
            best: tuple[int, _Engine] | None = None
            for e in engines:
                if e.done:
                    continue
                ins = e.instrs[e.pc]
                waits = [t for t in _TOKENS if ins.wait & t]
                if any(not queues[t] for t in waits):
                    continue
                start = max([e.free_at] + [queues[t][0] for t in waits])
                if best is None or start < best[0]:
                    best = (start, e)
            if best is None:
                if all(e.done for e in engines):
                    break
                raise self._deadlock(ci, engines, queues)
            start, e = best
            ins = e.instrs[e.pc]
            for t in _TOKENS:
                if ins.wait & t:
                    queues[t].popleft()
            if not isinstance(ins, End):
                dp.execute(ins)
            end = start + timing.duration(ins, self.cfg)
            if isinstance(ins, StoreAct):
                self.writes_settled = max(self.writes_settled, timing.writes_settled(self.cfg, end))
            for t in _TOKENS:
                if ins.signal & t:
                    queues[t].append(end)
            self.counters.busy_pe_cycles += timing.busy_pe(ins, self.cfg)
            self.counters.instructions += 1
            if self.keep_trace:
                self.trace.append(TraceEntry(ci, e.name, e.pc, ins, start, end))
            e.free_at = end + timing.ISSUE_GAP
            e.pc += 1
            e.done = isinstance(ins, End)
            end_time = max(end_time, end)
        left = {t.name: len(q) for t, q in queues.items() if q}
        if left:
            raise ProgramError(
                f"chunk {ci} ended with tokens outstanding: {left}; a chunk must consume every token it signals."
            )
        return end_time

    def _deadlock(self, ci: int, engines: tuple[_Engine, ...], queues: dict[Token, deque[int]]) -> ProgramError:
        parts = []
        for e in engines:
            if e.done:
                parts.append(f"{e.name} finished")
            else:
                ins = e.instrs[e.pc]
                missing = [str(t.name) for t in _TOKENS if ins.wait & t and not queues[t]]
                parts.append(f"{e.name} instruction {e.pc} ({ins.describe()}) waits for {', '.join(missing)}")
        return ProgramError(f"deadlock in program chunk {ci}: " + "; ".join(parts) + ".")
