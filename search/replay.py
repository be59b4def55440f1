"""Exact cycle count of one layer's program, for many mappings at once.

The machine simulator (sim/machine) times a program instruction by
instruction; the RTL is tested to match it to the cycle. This module runs the
same timing rules step by step over a batch of M candidate mappings of one
layer: a mapping's program is a sequence of :class:`hwgen.program.Step` s
(loads, compute, an optional store), packed into IMEM chunks by the same
rules as hwgen/lower/program.py's Assembler, and timed by the same token
recurrence as sim/machine/engines.py. The replay is compiled (numba) and
runs the mappings one after another on scalar state; the per-kind modules
(search/steps_*.py) give each mapping a row of numbers and describe its step
``i`` in closed form (in search/step_record.py's layout). Nothing is
approximated: the result equals the machine simulator's counters for the
layer compiled alone (tests/search).

The rules, restated from the code they mirror:

* Residency (Assembler): a load whose buffer already holds its key is
  dropped; if a step would load nothing, its first load is kept. A new chunk
  forgets residency.
* Chunking: a step joins the current chunk when the chunk's instructions,
  the step's and the two ENDs fit ``imem_instructions``; chunks never span
  layers (so a network's cycles are the sum of its layers').
* Tokens (hwgen/lower/program.py ``_tokens``), in a chunk of steps ``s`` and outputs
  ``o``: loads(s) wait for compute(s-2)'s end (s >= 2); compute(s) waits for
  loads(s); an output's writer (its first GEMM/DW with the requantization
  fused, or its ADD/COPY/POOL) waits for the store of output o-2 (o >= 2); a
  store waits for its writer. MEM order: loads(s), then the store of the
  output step s-1 finished; the last store closes the chunk.
* Engines (sim/machine): an instruction starts at ``max(previous end on its
  engine + ISSUE_GAP, token arrivals)``; a chunk starts when its code is
  fetched, ends with both ENDs; the run is boot + chunks + DONE.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numba import njit
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    InTreeCacheLocator,
    UserProvidedCacheLocator,
    UserWideCacheLocator,
)

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig

from .step_record import (
    BUFFER,
    BUFFERS,
    BUSY_PE,
    CYCLES,
    INSTRS,
    KEY,
    LEVEL,
    MAX_LEVELS,
    N_LEVELS,
    N_STEPS,
    PRE,
    PRE_INSTRS,
    PRESENT,
    READ,
    RECORD,
    SLOT_FIELDS,
    SLOTS,
    SRAM,
    STORE,
    STORE_BYTES,
    WRITER,
    WRITER_INSTRS,
    WRITTEN,
    CfgView,
    cfg_view,
)
from .steps_blocked import blocked_ahead, blocked_step
from .steps_gemm import gemm_ahead, gemm_step

GAP = timing.ISSUE_GAP
_ENDS = 2  # instructions: one END per stream


@dataclass
class LayerCost:
    """What the performance counters show for the layer compiled alone."""

    cycles: np.ndarray
    dram_read: np.ndarray
    dram_write: np.ndarray
    busy_pe: np.ndarray  # array-occupied PE-cycles (hwgen/timing.py's busy_pe), not MACs
    instructions: np.ndarray
    chunks: np.ndarray
    compute_cycles: np.ndarray  # chunk execution only (no boot, fetch, done)
    fetch_cycles: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sram_bytes: dict[str, np.ndarray] = field(default_factory=dict)  # by buffer, reads + writes
    replayed_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # stepped through, not skipped


class Steps(Protocol):
    """What a layer kind gives the replay (steps_gemm.py, steps_blocked.py): its ``kind`` code
    (0: GEMM, else steps_blocked's) and a ``table`` of M rows, step_record's header
    (``n_steps``; the loop nest's unit sizes in steps, innermost first: an output, a row of
    outputs, ...) then the kind's own columns, read by its step function (step ``i`` of a row)
    and its ``ahead`` (how many units after unit ``u`` of a level are identical to it: same
    durations and residency pattern, so that the replay may skip them once the engines' state
    repeats, see :func:`replay`)."""

    kind: int
    table: np.ndarray


# A mapping's state inside the current chunk (times relative to its start) and its running
# totals, in one int64 vector; a copy of it is the snapshot a jump compares and scales.
MEM_FREE, CMP_FREE, CE1, CE2, WRITER_END, SE1, SE2 = range(7)  # times (all shift alike in a repeat)
COUNT, STEPS, OUTPUTS, PENDING = 7, 8, 9, 10  # instructions in the chunk, steps, outputs, the store to issue
T_READ, T_WRITE, T_BUSY, T_SRAM = 11, 12, 13, 14  # DRAM bytes, busy-PE cycles, on-chip bytes per buffer
CHUNK = T_SRAM + len(BUFFERS)  # chunks closed so far (a repeat never jumps across a chunk's end)
STATE = CHUNK + 1
# The replay's output columns besides the totals: chunk execution, chunk fetches, instructions, chunks,
# and the steps the replay went through one by one (the others it skipped as repeats).
O_COMPUTE, O_FETCH, O_INSTRS, O_CHUNKS, O_REPLAYED = range(5)


def replay(cfg: AccelConfig, steps: Steps, m: int) -> LayerCost:
    """Time every step of the ``m`` mappings of ``steps``, exactly as sim/machine would.

    Skipping repeats: after a unit of the loop nest (an output tile, a row of
    them, ...), if every engine time in the state moved by the same ``D``
    since the unit began, the counters agree on the thresholds the token
    rules test, and the next ``r`` units are identical to it (``ahead``) and
    fit in the chunk, then each of them moves the state by ``D`` again: the
    timing rules are max-plus linear, so an identical unit applied to a
    uniformly shifted state gives a uniformly shifted state. The replay adds
    ``r * D`` to the times and ``r`` times the unit's counts and jumps
    ``r`` units ahead. The result is identical to stepping through them."""
    state = np.zeros((m, STATE), np.int64)
    out = np.zeros((m, O_REPLAYED + 1), np.int64)
    _replay_all(steps.kind, steps.table, CfgView.of(cfg), state, out)
    return LayerCost(
        cycles=timing.boot_cycles(cfg) + out[:, O_FETCH] + out[:, O_COMPUTE] + timing.done_cycles(cfg),
        dram_read=state[:, T_READ] + timing.boot_bytes(cfg),
        dram_write=state[:, T_WRITE].copy(),
        busy_pe=state[:, T_BUSY].copy(),
        instructions=out[:, O_INSTRS].copy(),
        chunks=out[:, O_CHUNKS].copy(),
        compute_cycles=out[:, O_COMPUTE].copy(),
        fetch_cycles=out[:, O_FETCH].copy(),
        sram_bytes={b: state[:, T_SRAM + j].copy() for j, b in enumerate(BUFFERS)},
        replayed_steps=out[:, O_REPLAYED].copy(),
    )


@njit
def _replay_all(kind: int, table: np.ndarray, cfgv: np.ndarray, state: np.ndarray, out: np.ndarray) -> None:
    """Every row of ``table``: its final state (totals) into ``state``, its chunk counters into ``out``."""
    cfg = cfg_view(cfgv)
    rec = np.zeros(RECORD, np.int64)
    resident = np.empty(SLOTS, np.int64)
    fresh = np.zeros(SLOTS, np.bool_)
    snaps = np.zeros((MAX_LEVELS, STATE), np.int64)
    snap_pos = np.empty(MAX_LEVELS, np.int64)
    for m in range(table.shape[0]):
        r, s, o = table[m], state[m], out[m]
        resident[:] = -1
        snap_pos[:] = -1
        n = r[N_STEPS]
        pos = 0
        while pos < n:
            _step_of(kind, r, pos, cfg, rec)
            _advance(s, rec, resident, fresh, cfg, o)
            pos += 1
            o[O_REPLAYED] += 1
            if r[N_LEVELS] > 0 and pos % r[LEVEL] == 0 and pos < n:  # a unit ends here
                pos = _skip_repeats(kind, r, pos, s, resident, snaps, snap_pos, cfg, rec)
        if n > 0:
            _close(s, cfg, o)


@njit(inline="always")
def _step_of(kind: int, r: np.ndarray, i: int, cfg: CfgView, rec: np.ndarray) -> None:
    if kind == 0:
        gemm_step(r, i, cfg, rec)
    else:
        blocked_step(kind, r, i, cfg, rec)


@njit(inline="always")
def _ahead(kind: int, r: np.ndarray, level: int, unit: int) -> int:
    return gemm_ahead(r, level, unit) if kind == 0 else blocked_ahead(r, level, unit)


@njit(inline="always")
def _close(s: np.ndarray, cfg: CfgView, o: np.ndarray) -> None:
    """End the current chunk: the last store, the ENDs, the fetch."""
    mem_free = s[MEM_FREE]
    if s[PENDING] > 0:
        mem_free = max(s[MEM_FREE], s[WRITER_END]) + s[PENDING] + GAP
    end = max(mem_free, s[CMP_FREE]) + timing.END_CYCLES
    n = s[COUNT] + _ENDS
    o[O_COMPUTE] += end
    o[O_FETCH] += timing.chunk_fetch_cycles(cfg, n)
    o[O_INSTRS] += n
    o[O_CHUNKS] += 1
    s[CHUNK] += 1
    s[T_READ] += timing.chunk_fetch_bytes(cfg, n)


@njit(inline="always")
def _fresh(rec: np.ndarray, resident: np.ndarray, fresh: np.ndarray, forget: bool) -> int:
    """Which loads the step emits (all present ones after a new chunk: it forgets residency; a
    step whose loads are all resident reloads its first one); returns the step's instructions."""
    n = 0
    for j in range(SLOTS):
        at = j * SLOT_FIELDS
        fresh[j] = rec[at + PRESENT] != 0 and (forget or rec[at + KEY] != resident[j])
    if not fresh.any():
        fresh[0] = True
    for j in range(SLOTS):
        if fresh[j]:
            n += rec[j * SLOT_FIELDS + INSTRS]
    return int(n + rec[PRE_INSTRS] + (rec[WRITER_INSTRS] if rec[WRITER] > 0 else 0) + (rec[STORE] > 0))


@njit(inline="always")
def _advance(
    s: np.ndarray, rec: np.ndarray, resident: np.ndarray, fresh: np.ndarray, cfg: CfgView, o: np.ndarray
) -> None:
    """One step (the chunk first, if the step does not fit in it)."""
    n = _fresh(rec, resident, fresh, False)
    if s[COUNT] > 0 and s[COUNT] + n + _ENDS > cfg.imem_instructions:
        _close(s, cfg, o)
        s[: PENDING + 1] = 0
        resident[:] = -1
        n = _fresh(rec, resident, fresh, True)
    # MEM: this step's loads (the first waits for compute(s-2)), then the pending store.
    ld_start = max(s[MEM_FREE], s[CE2] if s[STEPS] >= 2 else 0)
    ld_cycles = -GAP
    for j in range(SLOTS):
        if fresh[j]:
            ld_cycles += rec[j * SLOT_FIELDS + CYCLES] + GAP
    ld_end = ld_start + ld_cycles
    se1, se2 = s[SE1], s[SE2]
    if s[PENDING] > 0:
        store_end = max(ld_end + GAP, s[WRITER_END]) + s[PENDING]
        mem_free = store_end + GAP
        se1, se2 = store_end, s[SE1]
    else:
        mem_free = ld_end + GAP
    # CMP: compute waits for the loads; the writer of output o for the store of output o-2.
    c_start = max(s[CMP_FREE], ld_end)
    pre_end = c_start + rec[PRE]
    ce = pre_end
    if rec[WRITER] > 0:
        w_ready = pre_end + GAP if rec[PRE_INSTRS] > 0 else c_start
        ce = max(w_ready, se2 if s[OUTPUTS] >= 2 else 0) + rec[WRITER]
        s[WRITER_END] = ce
    s[MEM_FREE], s[SE1], s[SE2] = mem_free, se1, se2
    s[CMP_FREE], s[CE2], s[CE1] = ce + GAP, s[CE1], ce
    s[PENDING] = rec[STORE]
    if rec[STORE] > 0:
        s[OUTPUTS] += 1
        s[T_WRITE] += rec[STORE_BYTES]
    s[STEPS] += 1
    s[COUNT] += n
    for j in range(SLOTS):
        at = j * SLOT_FIELDS
        if rec[at + PRESENT] != 0:
            resident[j] = rec[at + KEY]
        if fresh[j]:
            s[T_READ] += rec[at + READ]
            s[T_SRAM + rec[at + BUFFER]] += rec[at + WRITTEN]
    for b in range(len(BUFFERS)):
        s[T_SRAM + b] += rec[SRAM + b]
    s[T_BUSY] += rec[BUSY_PE]


@njit(inline="always")
def _skip_repeats(
    kind: int,
    r: np.ndarray,
    pos: int,
    s: np.ndarray,
    resident: np.ndarray,
    snaps: np.ndarray,
    snap_pos: np.ndarray,
    cfg: CfgView,
    rec: np.ndarray,
) -> int:
    """At a unit boundary, jump over units identical to the one just finished (see :func:`replay`);
    returns the position after the jump."""
    n = r[N_STEPS]
    done = False  # jumped at an outer level
    for lv in range(r[N_LEVELS] - 1, -1, -1):
        unit = r[LEVEL + lv]
        at = pos % unit == 0 and pos < n
        if at and not done and snap_pos[lv] == pos - unit:  # (snaps[lv]: the state where the unit began)
            shift = s[0] - snaps[lv, 0]
            ok = (
                s[CHUNK] == snaps[lv, CHUNK]
                and snaps[lv, STEPS] >= 2
                and snaps[lv, OUTPUTS] >= 2
                and s[PENDING] == snaps[lv, PENDING]
            )
            for k in range(1, COUNT):
                ok = ok and s[k] - snaps[lv, k] == shift
            per_unit = s[COUNT] - snaps[lv, COUNT]  # instructions
            if ok and per_unit > 0:
                room = (cfg.imem_instructions - _ENDS - s[COUNT]) // per_unit
                jump = min(_ahead(kind, r, lv, pos // unit - 1), room, (n - pos) // unit)
                if jump > 0:
                    for k in range(STATE):  # times shift by D, counts and totals grow (pending, chunk: equal)
                        s[k] += jump * (s[k] - snaps[lv, k])
                    pos += jump * unit
                    _step_of(kind, r, pos - 1, cfg, rec)
                    for j in range(SLOTS):
                        if rec[j * SLOT_FIELDS + PRESENT] != 0:
                            resident[j] = rec[j * SLOT_FIELDS + KEY]
                    done = True
        if at or done:  # after a jump: the landing point (the next unit differs), where the inner
            for inner in range(0 if done else lv, lv + 1):  # levels too restart their comparison
                snap_pos[inner] = pos
                for k in range(STATE):
                    snaps[inner, k] = s[k]
    return pos


def _compiled_sources() -> list[str]:
    """The files whose code or constants the compiled replay contains: the modules of its
    functions and every dian module they take names from (hwgen/timing.py's unit latencies...)."""
    mods = [
        sys.modules[__name__],
        *(sys.modules[f.__module__] for f in (gemm_step, blocked_step, cfg_view, timing.dma_read_cycles)),
    ]
    names = {m.__name__ for m in mods}
    for m in mods:
        for v in vars(m).values():
            owner = getattr(v, "__name__", "") if isinstance(v, type(sys)) else getattr(v, "__module__", "")
            if isinstance(owner, str) and owner.startswith("dian."):
                names.add(owner)
    return sorted(str(sys.modules[n].__file__) for n in names if n in sys.modules)


class _Stamp:
    """numba checks a cached function against its own file only; the replay compiles in the steps'
    and the timing formulas' code, and a stale cache would be silently wrong: stamp them all."""

    def get_source_stamp(self) -> str:
        h = hashlib.sha256()
        for path in _compiled_sources():
            h.update(Path(path).read_bytes())
        return h.hexdigest()


class _StampedUserProvided(_Stamp, UserProvidedCacheLocator):
    pass


class _StampedInTree(_Stamp, InTreeCacheLocator):
    pass


class _StampedUserWide(_Stamp, UserWideCacheLocator):
    pass


class _CacheImpl(CompileResultCacheImpl):
    # numba's own order: NUMBA_CACHE_DIR if set, else beside the source, else the user's cache folder
    _locator_classes = [_StampedUserProvided, _StampedInTree, _StampedUserWide]  # noqa: RUF012 (numba's CacheImpl has a plain list)


class _Cache(FunctionCache):
    _impl_class = _CacheImpl


try:  # compiled on first use (seconds), then loaded from disk
    _replay_all._cache = _Cache(_replay_all.py_func)  # type: ignore[attr-defined,no-untyped-call]  # numba's private hook
except AttributeError:
    pass  # NUMBA_DISABLE_JIT (a debugging aid): plain Python, nothing to cache
except RuntimeError:
    pass  # no writable cache folder: compiled in every process
