"""The mapper: per layer, the array mode and tiling that minimise the exact
cost (latency, energy or their product), under the buffer and IMEM limits.

Candidates come from the tile search's grids (hwgen/lower/tile_search.py: every
tile size that splits a dim evenly, both loop orders for GEMM, every way of
cutting the kernel window; for a depthwise conv also the GEMM fallback with
block-diagonal weights). The tile search's first-order model ranks them;
the best ``top_k`` of each mode, plus the default scheduler's own pick, are
then timed exactly (search/cost_model.py, equal to the RTL's counters) and
the best by the objective wins. So a mapped layer is never slower than the
default scheduler's (its pick is among the candidates), and every predicted
figure in the schedules is the one the hardware will show.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dian.errors import ScheduleError
from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower.scheduler import LayerPlan, choose, plan_graph
from dian.hwgen.lower.tile_search import Tiling, blocked_candidates, gemm_candidates, kernel_splits
from dian.hwgen.lower.workload import Work, WorkKind
from dian.ir import Graph

from .cost_model import batch_cost, layer_works, part_channels
from .energy import layer_energy_pj
from .fused_cost import with_fused_shares
from .objective import Objective, check_objective
from .replay import LayerCost

DEFAULT_TOP_K = 48
MODE_SLACK = 1.5  # modes whose first-order best is within this factor of the fastest mode's are timed


def candidates(w: Work, cfg: AccelConfig, top_k: int) -> list[Tiling]:
    """The ``top_k`` legal tilings of ``w`` the first-order model likes best (fewest cycles, then DRAM bytes)."""
    if w.kind is WorkKind.GEMM:
        groups = [c for fyt, fxt in kernel_splits(w) for c in gemm_candidates(w, cfg, fyt, fxt)]
    else:
        groups = blocked_candidates(w, cfg)
    groups = [c for c in groups if c["ok"].any()]
    if not groups:
        return []
    cols = ("kt", "ct", "ty", "tx", "fyt", "fxt", "cycles", "read", "write")
    legal = {n: np.concatenate([np.asarray(c[n])[c["ok"]] for c in groups]) for n in cols}
    orders = np.concatenate([np.full(int(c["ok"].sum()), c["order"]) for c in groups])
    best = np.lexsort((legal["read"] + legal["write"], legal["cycles"]))[:top_k]  # stable: grid order on ties
    return [
        Tiling(
            int(legal["kt"][i]),
            int(legal["ct"][i]),
            int(legal["ty"][i]),
            int(legal["tx"][i]),
            int(legal["fyt"][i]),
            int(legal["fxt"][i]),
            str(orders[i]),
            int(legal["cycles"][i]),
            int(legal["read"][i]),
            int(legal["write"][i]),
        )
        for i in best
    ]


def timed_candidates(w: Work, cfg: AccelConfig, top_k: int) -> list[Tiling]:
    """What the mapper times exactly for ``w`` in its mode: the first-order model's ``top_k`` and
    the default scheduler's pick (so a mapped layer is never slower than the scheduler's)."""
    tilings = candidates(w, cfg, top_k)
    with contextlib.suppress(ScheduleError):  # this mode cannot run the layer: only the candidates above (none)
        tilings.append(choose(w, cfg)[1])
    return tilings


def _modes(w: Work) -> list[Work]:
    """The array modes a layer may run in: a depthwise conv also as GEMM with block-diagonal weights."""
    return [w, dataclasses.replace(w, kind=WorkKind.GEMM)] if w.kind is WorkKind.DW else [w]


@dataclass(frozen=True)
class Choice:
    """A layer's best mode and tiling by the objective, timed as if its program began at chunk 0."""

    work: Work  # the layer in the chosen mode
    tiling: Tiling
    share: int  # cycles of the layer's run less boot and done
    energy_pj: float
    score: float


def layer_options(w: Work, cfg: AccelConfig, top_k: int) -> list[tuple[Work, list[Tiling]]]:
    """The modes of ``w`` worth timing and each one's candidate tilings."""
    per_mode = []
    for mode in _modes(w):
        tilings = timed_candidates(mode, cfg, top_k)
        if tilings:
            per_mode.append((min(t.cycles for t in tilings), mode, tilings))
    # A mode whose best first-order estimate is far behind another's is not timed exactly (the
    # block-diagonal GEMM fallback of a depthwise conv does ceil(C/L) times the work).
    fastest = min((m[0] for m in per_mode), default=0)
    return [(mode, ts) for est, mode, ts in per_mode if est <= MODE_SLACK * fastest]


def best_choices(
    layers: Sequence[tuple[Work, tuple[int, ...]]],
    cfg: AccelConfig,
    objective: Objective = "latency",
    top_k: int = DEFAULT_TOP_K,
) -> tuple[list[Choice | None], int]:
    """Each layer's best :class:`Choice` (None: no mode can run it) and the number of exact
    evaluations it took. ``layers``: each work with its :func:`part_channels` (empty unless a
    concat). Every candidate of every layer is timed in a few batched replays, one per kind of
    work (a concat's passes on their own)."""
    check_objective(objective)
    options = [layer_options(w, cfg, top_k) for w, _ in layers]
    groups: dict[object, list[tuple[int, int]]] = {}
    for n, ((_, parts), opts) in enumerate(zip(layers, options, strict=True)):
        for j, (mode, _) in enumerate(opts):
            groups.setdefault(("parts", n) if parts else mode.kind, []).append((n, j))
    best: list[Choice | None] = [None] * len(layers)
    evaluated = 0
    for members in groups.values():
        items = [options[n][j] for n, j in members]
        cost = batch_cost(items, cfg, layers[members[0][0]][1])
        evaluated += sum(len(ts) for _, ts in items)
        share = cost.cycles - timing.boot_cycles(cfg) - timing.done_cycles(cfg)
        energy = layer_energy_pj(cfg, cost)
        traffic = cost.dram_read + cost.dram_write
        score = {"latency": share.astype(float), "energy": energy, "edp": energy * share}[objective]
        start = 0
        for (n, _), (mode, tilings) in zip(members, items, strict=True):
            sl = slice(start, start + len(tilings))
            i = int(np.lexsort((traffic[sl], share[sl], score[sl]))[0])
            cand = Choice(mode, tilings[i], int(share[sl][i]), float(energy[sl][i]), float(score[sl][i]))
            old = best[n]
            if old is None or (cand.score, cand.share) < (old.score, old.share):
                best[n] = cand
            start += len(tilings)
    return best, evaluated


class Mapper:
    """Maps every layer of a graph by exact cost; a :data:`hwgen.lower.scheduler.Chooser` afterwards.

    All layers' candidates are timed in a few batched replays (:func:`best_choices`)
    as if each layer's program began at chunk 0; the chosen tilings are then
    timed again at their real chunk positions, so each plan carries its
    layer's exact share of the network's cycles and DRAM bytes. (The chunk
    position only moves a chunk fetch by a bus beat: it can change a choice
    between near-equal tilings, never a prediction.)"""

    def __init__(
        self, graph: Graph, cfg: AccelConfig, objective: Objective = "latency", top_k: int = DEFAULT_TOP_K
    ) -> None:
        check_objective(objective)
        self.graph, self.cfg, self.objective, self.top_k = graph, cfg, objective, top_k
        packed, works = layer_works(graph, cfg)
        layers = [(w, part_channels(packed, w)) for w in works]
        choices, self.evaluated = best_choices(layers, cfg, objective, top_k)  # evaluations: for the benchmarks
        self.chosen: dict[str, tuple[Work, Tiling]] = self._exact(layers, choices)

    def _exact(
        self, layers: list[tuple[Work, tuple[int, ...]]], choices: list[Choice | None]
    ) -> dict[str, tuple[Work, Tiling]]:
        """The chosen tilings timed: the figures the plans show."""
        cfg = self.cfg
        for (w, _), ch in zip(layers, choices, strict=True):
            if ch is None:
                choose(w, cfg)  # raises the scheduler's error naming the layer
        picks = [
            (w, parts, ch.work, ch.tiling) for (w, parts), ch in zip(layers, choices, strict=True) if ch is not None
        ]
        costs: list[LayerCost | None] = [None] * len(picks)
        by_kind: dict[object, list[int]] = {}
        for n, (_, parts, mode, _) in enumerate(picks):
            by_kind.setdefault(("parts", n) if parts else mode.kind, []).append(n)
        for idx in by_kind.values():
            c = batch_cost([(picks[n][2], [picks[n][3]]) for n in idx], cfg, picks[idx[0]][1])
            for pos, n in enumerate(idx):
                costs[n] = _entry(c, pos)
        out = {}
        for (w, _, mode, t), cost in zip(picks, costs, strict=True):
            assert cost is not None
            share = int(cost.cycles[0]) - timing.boot_cycles(cfg) - timing.done_cycles(cfg)
            out[w.op.name] = (
                mode,
                dataclasses.replace(
                    t,
                    cycles=share,
                    dram_read=int(cost.dram_read[0]) - timing.boot_bytes(cfg),
                    dram_write=int(cost.dram_write[0]),
                ),
            )
        return out

    def __call__(self, w: Work, cfg: AccelConfig) -> tuple[Work, Tiling]:
        """The chosen mode and tiling of ``w`` (its figures: the layer's exact share of the run)."""
        return self.chosen[w.op.name]


def _entry(c: LayerCost, i: int) -> LayerCost:
    """Entry ``i`` of a batch's cost, as a one-mapping LayerCost."""

    def pick(a: np.ndarray) -> np.ndarray:
        return a[i : i + 1]

    return LayerCost(
        pick(c.cycles),
        pick(c.dram_read),
        pick(c.dram_write),
        pick(c.busy_pe),
        pick(c.instructions),
        pick(c.chunks),
        pick(c.compute_cycles),
        pick(c.fetch_cycles),
        {k: pick(v) for k, v in c.sram_bytes.items()},
        pick(c.replayed_steps),
    )


def map_graph(
    graph: Graph, cfg: AccelConfig, objective: Objective = "latency", top_k: int = DEFAULT_TOP_K
) -> list[LayerPlan]:
    """Plans for every layer of ``graph`` chosen by exact cost; predictions are exact layer shares
    (a layer's chunk fetches and execution: the network's cycles are their sum plus boot and done).
    With a fusion buffer, a block the lowering will fuse predicts its exact share on its depthwise
    layer and nothing on its projection and add (fused_cost.py); each layer's tiling is still chosen
    unfused (the lowering's unfused fallback, and what the fused form is timed against)."""
    return with_fused_shares(graph, cfg, plan_graph(graph, cfg, Mapper(graph, cfg, objective, top_k)))
