"""Exact cycle count of one layer's program, for many mappings at once.

The machine simulator (sim/machine) times a program instruction by
instruction; the RTL is tested to match it to the cycle. This module runs the
same timing rules step by step over a batch of M candidate mappings of one
layer: a mapping's program is a sequence of :class:`hwgen.program.Step` s
(loads, compute, an optional store), packed into IMEM chunks by the same
rules as hwgen/program.py's Assembler, and timed by the same token
recurrence as sim/machine/engines.py. Every quantity is a numpy array over
the batch, so one Python loop iteration advances every mapping by one step;
the per-kind modules (search/steps_*.py) describe step ``i`` of every
mapping in closed form. Nothing is approximated: the result equals the
machine simulator's counters for the layer compiled alone (tests/search).

The rules, restated from the code they mirror:

* Residency (Assembler): a load whose buffer already holds its key is
  dropped; if a step would load nothing, its first load is kept. A new chunk
  forgets residency.
* Chunking: a step joins the current chunk when the chunk's instructions,
  the step's and the two ENDs fit ``imem_instructions``; chunks never span
  layers (so a network's cycles are the sum of its layers').
* Tokens (hwgen/program.py ``_tokens``), in a chunk of steps ``s`` and outputs
  ``o``: loads(s) wait for compute(s-2)'s end (s >= 2); compute(s) waits for
  loads(s); an output's writer (its fused GEMMs/DWs, or its ADD/COPY/POOL) waits for the store
  of output o-2 (o >= 2); a store waits for its writer. MEM order: loads(s),
  then the store of the output step s-1 finished; the last store closes the
  chunk.
* Engines (sim/machine): an instruction starts at ``max(previous end on its
  engine + ISSUE_GAP, token arrivals)``; a chunk starts when its code is
  fetched, ends with both ENDs; the run is boot + chunks + DONE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig

GAP = timing.ISSUE_GAP
_ENDS = 2  # instructions: one END per stream


@dataclass
class LoadSlot:
    """One of a step's loads (IBUF, WBUF or PBUF) for every mapping."""

    present: np.ndarray  # bool: the step has this load
    key: np.ndarray  # int64: what it puts in the buffer (equal keys: already resident)
    cycles: np.ndarray  # its instructions back to back, gaps included
    bytes_read: np.ndarray
    instrs: np.ndarray | int = 1
    buffer: str = "ibuf"
    bytes_written: np.ndarray | int = 0  # into the buffer (padding words included)


@dataclass
class StepBatch:
    """Step ``i`` of every mapping (entries of mappings with fewer steps are ignored)."""

    loads: list[LoadSlot]  # in program order; the first one is always present
    pre_cycles: np.ndarray  # compute instructions before the writer (or all of them), back to back
    pre_instrs: np.ndarray | int
    writer_cycles: np.ndarray  # 0: no writer in this step
    store_cycles: np.ndarray  # 0: no store (a step with a store has a writer)
    store_bytes: np.ndarray
    busy_pe: np.ndarray | int = 0
    writer_instrs: np.ndarray | int = 1  # the writer's instructions (GEMMs with a fused requantization: several)
    #: on-chip buffer bytes the step's compute and store read or write, by buffer (for the energy model)
    sram: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class LayerCost:
    """What the performance counters show for the layer compiled alone."""

    cycles: np.ndarray
    dram_read: np.ndarray
    dram_write: np.ndarray
    busy_pe: np.ndarray
    instructions: np.ndarray
    chunks: np.ndarray
    compute_cycles: np.ndarray  # chunk execution only (no boot, fetch, done)
    fetch_cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sram_bytes: dict[str, np.ndarray] = field(default_factory=dict)  # by buffer, reads + writes


class _State:
    """Per-mapping engine state inside the current chunk (times relative to its start)."""

    def __init__(self, m: int, n_slots: int) -> None:
        z = lambda: np.zeros(m, np.int64)  # noqa: E731
        self.mem_free, self.cmp_free, self.ce1, self.ce2 = z(), z(), z(), z()
        self.writer_end, self.se1, self.se2, self.pending = z(), z(), z(), z()
        self.steps, self.outputs, self.count = z(), z(), z()
        self.resident = np.full((n_slots, m), -1, np.int64)

    def reset(self, where: np.ndarray) -> None:
        for name in ("mem_free", "cmp_free", "ce1", "ce2", "writer_end", "se1", "se2", "pending", "steps",
                     "outputs", "count"):
            getattr(self, name)[where] = 0
        self.resident[:, where] = -1


_TIMES = ("mem_free", "cmp_free", "ce1", "ce2", "writer_end", "se1", "se2")
_COUNTS = ("count", "steps", "outputs")
_TOTALS = ("dram_read", "dram_write", "busy_pe")
BUFFERS = ("ibuf", "wbuf", "abuf", "pbuf", "obuf")
# Rows of a state snapshot (one column per mapping): what a jump shifts, scales or compares.
_T, _C, _P = slice(0, 7), slice(7, 10), 10
_TOT, _SRAM, _CHUNK = slice(11, 14), slice(14, 19), 19
_STEPS, _OUTPUTS = 8, 9


class Steps(Protocol):
    """What a layer kind gives the replay (steps_gemm.py, steps_blocked.py).

    ``levels``: the loop nest's unit sizes in steps, innermost first (an
    output, a row of outputs, ...); ``ahead(level, u)``: how many units after
    unit ``u`` of that level are identical to it (same durations and
    residency pattern), so that the replay may skip them once the engines'
    state repeats (see :func:`replay`)."""

    n_steps: Any

    def step_at(self, pos: np.ndarray) -> StepBatch: ...

    def levels(self) -> list[np.ndarray]: ...

    def ahead(self, level: int, unit: np.ndarray) -> np.ndarray: ...


def replay(cfg: AccelConfig, steps: Steps, m: int, first_chunk: int | np.ndarray = 0) -> LayerCost:
    """Time every step of the ``m`` mappings of ``steps``, exactly as sim/machine would.

    ``first_chunk`` is the index of the layer's first chunk in the program
    (its chunk-table entry's alignment changes the fetch by a bus beat), one
    for all or one per mapping.

    Skipping repeats: after a unit of the loop nest (an output tile, a row of
    them, ...), if every engine time in the state moved by the same ``D``
    since the unit began, the counters agree on the thresholds the token
    rules test, and the next ``r`` units are identical to it (``ahead``) and
    fit in the chunk, then each of them moves the state by ``D`` again: the
    timing rules are max-plus linear, so an identical unit applied to a
    uniformly shifted state gives a uniformly shifted state. The replay adds
    ``r * D`` to the times and ``r`` times the unit's counts and jumps
    ``r`` units ahead. The result is identical to stepping through them."""
    n_steps = np.broadcast_to(np.asarray(steps.n_steps, np.int64), (m,))
    imem = cfg.imem_instructions
    out = LayerCost(*(np.zeros(m, np.int64) for _ in range(7)))
    out.fetch_cycles = np.zeros(m, np.int64)
    out.sram_bytes = {b: np.zeros(m, np.int64) for b in BUFFERS}
    st: _State | None = None
    chunk_index = np.broadcast_to(np.asarray(first_chunk, np.int64), (m,)).copy()
    pos = np.zeros(m, np.int64)
    levels = steps.levels()
    snaps: list[tuple[np.ndarray, np.ndarray]] = [(np.full(m, -1, np.int64), np.zeros((20, m), np.int64))
                                                  for _ in levels]

    def close(where: np.ndarray) -> None:
        """End the current chunk of the mappings in ``where``: the last store, the ENDs, the fetch."""
        assert st is not None
        has = where & (st.pending > 0)
        st_start = np.maximum(st.mem_free, st.writer_end)
        mem_free = np.where(has, st_start + st.pending + GAP, st.mem_free)
        end = np.maximum(mem_free, st.cmp_free) + timing.END_CYCLES
        n = st.count + _ENDS
        entry = timing.CHUNK_ENTRY_BYTES * chunk_index  # the table's address is a multiple of the bus width
        fetch = timing.chunk_fetch_cycles(cfg, entry, n)
        out.compute_cycles[where] += end[where]
        out.fetch_cycles[where] += fetch[where]
        out.instructions[where] += n[where]
        out.dram_read[where] += timing.chunk_fetch_bytes(cfg, entry, n)[where]
        out.chunks[where] += 1
        chunk_index[where] += 1

    def snapshot() -> np.ndarray:
        assert st is not None
        return np.stack([*(getattr(st, k) for k in (*_TIMES, *_COUNTS, "pending")),
                         *(getattr(out, k) for k in _TOTALS), *(out.sram_bytes[b] for b in BUFFERS), chunk_index])

    while True:
        active = pos < n_steps
        if not active.any():
            break
        sb = steps.step_at(np.minimum(pos, np.maximum(n_steps - 1, 0)))
        if st is None:
            st = _State(m, len(sb.loads))
        _step(st, sb, active, out, imem, close)
        pos += active
        if levels and (active & (pos % levels[0] == 0)).any():  # some mapping finished a unit
            _skip_repeats(steps, levels, snaps, snapshot, st, out, pos, n_steps, active, imem)
    if st is not None:
        close(n_steps > 0)
    out.cycles = timing.boot_cycles(cfg) + out.fetch_cycles + out.compute_cycles + timing.DONE_CYCLES
    out.dram_read += timing.boot_bytes(cfg)
    return out


def _step(st: _State, sb: StepBatch, active: np.ndarray, out: LayerCost, imem: int, close: Any) -> None:
    """Advance every active mapping by one step (the chunk first, if the step does not fit in it)."""
    fresh = [ld.present & (ld.key != st.resident[j]) for j, ld in enumerate(sb.loads)]
    fresh = _keep_first(fresh, sb.loads)
    n = _instrs(sb, fresh)
    flush = active & (st.count > 0) & (st.count + n + _ENDS > imem)
    if flush.any():
        close(flush)
        st.reset(flush)
        fresh = [np.where(flush, ld.present, f) for ld, f in zip(sb.loads, fresh)]
        fresh = _keep_first(fresh, sb.loads)
        n = _instrs(sb, fresh)
    # MEM: this step's loads (the first waits for compute(s-2)), then the pending store.
    ld_start = np.maximum(st.mem_free, np.where(st.steps >= 2, st.ce2, 0))
    ld_cycles = sum(np.where(f, ld.cycles + GAP, 0) for f, ld in zip(fresh, sb.loads)) - GAP
    ld_end = ld_start + ld_cycles
    has_pending = st.pending > 0
    store_start = np.maximum(ld_end + GAP, st.writer_end)
    store_end = store_start + st.pending
    new_mem_free = np.where(has_pending, store_end + GAP, ld_end + GAP)
    se1 = np.where(has_pending, store_end, st.se1)
    se2 = np.where(has_pending, st.se1, st.se2)
    # CMP: compute waits for the loads; the writer of output o for the store of output o-2.
    c_start = np.maximum(st.cmp_free, ld_end)
    pre_end = c_start + sb.pre_cycles
    has_writer = sb.writer_cycles > 0
    w_ready = np.where(np.asarray(sb.pre_instrs) > 0, pre_end + GAP, c_start)
    w_start = np.maximum(w_ready, np.where(st.outputs >= 2, se2, 0))
    ce = np.where(has_writer, w_start + sb.writer_cycles, pre_end)
    has_store = sb.store_cycles > 0
    # Commit for the active mappings.
    a = active
    st.mem_free = np.where(a, new_mem_free, st.mem_free)
    st.se1, st.se2 = np.where(a, se1, st.se1), np.where(a, se2, st.se2)
    st.cmp_free = np.where(a, ce + GAP, st.cmp_free)
    st.ce2, st.ce1 = np.where(a, st.ce1, st.ce2), np.where(a, ce, st.ce1)
    st.writer_end = np.where(a & has_writer, ce, st.writer_end)
    st.pending = np.where(a, np.where(has_store, sb.store_cycles, 0), st.pending)
    st.outputs += a & has_store
    st.steps += a
    st.count += np.where(a, n, 0)
    for j, (f, ld) in enumerate(zip(fresh, sb.loads)):
        st.resident[j] = np.where(a & ld.present, ld.key, st.resident[j])
        out.dram_read += np.where(a & f, ld.bytes_read, 0)
        out.sram_bytes[ld.buffer] += np.where(a & f, ld.bytes_written, 0)
    for buf, nbytes in sb.sram.items():
        out.sram_bytes[buf] += np.where(a, nbytes, 0)
    out.dram_write += np.where(a & has_store, sb.store_bytes, 0)
    out.busy_pe += np.where(a, sb.busy_pe, 0)


def _skip_repeats(steps: Steps, levels: list[np.ndarray], snaps: list[tuple[np.ndarray, np.ndarray]],
                  snapshot: Any, st: _State, out: LayerCost, pos: np.ndarray, n_steps: np.ndarray,
                  moved: np.ndarray, imem: int) -> None:
    """At unit boundaries, jump over units identical to the one just finished (see :func:`replay`)."""
    now = snapshot()
    done = np.zeros(len(pos), bool)  # jumped at an outer level this time
    for lv in reversed(range(len(levels))):
        unit = levels[lv]
        at = moved & (pos % unit == 0) & (pos < n_steps)
        if not at.any():
            continue
        prev_pos, prev = snaps[lv]
        ok = at & ~done & (prev_pos == pos - unit)
        if ok.any():
            d = now - prev
            shift = d[0]
            ok &= (d[_CHUNK] == 0) & (prev[_STEPS] >= 2) & (prev[_OUTPUTS] >= 2) & (d[_P] == 0)
            ok &= (d[_T] == shift).all(axis=0)
            per_unit = d[_C][0]  # instructions
            room = np.where(per_unit > 0, (imem - _ENDS - now[_C][0]) // np.maximum(per_unit, 1), 0)
            r = np.minimum(steps.ahead(lv, pos // unit - 1), room)
            r = np.where(ok, np.minimum(r, (n_steps - pos) // unit), 0)
            jump = r > 0
            if jump.any():
                for row, k in enumerate(_TIMES):
                    setattr(st, k, getattr(st, k) + r * shift)
                for row, k in enumerate(_COUNTS):
                    setattr(st, k, getattr(st, k) + r * d[_C][row])
                for row, k in enumerate(_TOTALS):
                    setattr(out, k, getattr(out, k) + r * d[_TOT][row])
                for row, b in enumerate(BUFFERS):
                    out.sram_bytes[b] = out.sram_bytes[b] + r * d[_SRAM][row]
                pos += r * unit
                last = steps.step_at(np.maximum(pos - 1, 0))
                for j, ld in enumerate(last.loads):
                    st.resident[j] = np.where(jump & ld.present, ld.key, st.resident[j])
                now = snapshot()
                done |= jump
        _record(snaps, lv, now, at | done, pos)  # after a jump: the landing point (the next unit differs)
        for inner in range(lv):  # inner levels restart their comparison where an outer jump landed
            _record(snaps, inner, now, done, pos)


def _record(snaps: list[tuple[np.ndarray, np.ndarray]], lv: int, now: np.ndarray, where: np.ndarray,
            pos: np.ndarray) -> None:
    if where.any():
        old_pos, old = snaps[lv]
        snaps[lv] = (np.where(where, pos, old_pos), np.where(where, now, old))


def _keep_first(fresh: list[np.ndarray], loads: list[LoadSlot]) -> list[np.ndarray]:
    """A step whose loads are all resident reloads its first one."""
    none = ~np.any(np.stack(fresh), axis=0)
    return [fresh[0] | none] + fresh[1:]


def _instrs(sb: StepBatch, fresh: list[np.ndarray]) -> np.ndarray:
    n = sum(np.where(f, ld.instrs, 0) for f, ld in zip(fresh, sb.loads)) + sb.pre_instrs
    return n + np.where(sb.writer_cycles > 0, sb.writer_instrs, 0) + (sb.store_cycles > 0)
