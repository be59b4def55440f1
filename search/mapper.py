"""The mapper: per layer, the array mode and tiling that minimise the exact
cost (latency, energy or their product), under the buffer and IMEM limits.

Candidates come from the tile search's grids (hwgen/tile_search.py: every
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

import dataclasses
from typing import Literal

import numpy as np

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.scheduler import LayerPlan, choose, plan_graph
from dian.hwgen.tile_search import Tiling, blocked_candidates, gemm_candidates, kernel_splits
from dian.hwgen.workload import Work, WorkKind
from dian.errors import MappingError, ScheduleError
from dian.ir import Graph

from .cost_model import layer_cost, part_channels
from .energy import layer_energy_pj

Objective = Literal["latency", "energy", "edp"]
OBJECTIVES: tuple[str, ...] = ("latency", "energy", "edp")
DEFAULT_TOP_K = 48
MODE_SLACK = 1.5  # modes whose first-order best is within this factor of the fastest mode's are timed


def candidates(w: Work, cfg: AccelConfig, top_k: int) -> list[Tiling]:
    """The ``top_k`` legal tilings of ``w`` the first-order model likes best (fewest cycles, then DRAM bytes)."""
    if w.kind is WorkKind.GEMM:
        groups = [c for fyt, fxt in kernel_splits(w) for c in gemm_candidates(w, cfg, fyt, fxt)]
    else:
        groups = blocked_candidates(w, cfg)
    rows: list[tuple[float, float, int, Tiling]] = []
    for c in groups:
        idx = np.flatnonzero(c["ok"])
        if not len(idx):
            continue
        score = c["cycles"][idx]
        traffic = c["read"][idx] + c["write"][idx]
        keep = idx[np.lexsort((traffic, score))[:top_k]]
        for i in keep:
            t = Tiling(*(int(c[n][i]) for n in ("kt", "ct", "ty", "tx", "fyt", "fxt")), c["order"],
                       int(c["cycles"][i]), int(c["read"][i]), int(c["write"][i]))
            rows.append((float(c["cycles"][i]), float(c["read"][i] + c["write"][i]), len(rows), t))
    rows.sort(key=lambda r: r[:3])
    return [r[3] for r in rows[:top_k]]


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise MappingError(f"the mapping objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}.")


def _modes(w: Work) -> list[Work]:
    """The array modes a layer may run in: a depthwise conv also as GEMM with block-diagonal weights."""
    return [w, dataclasses.replace(w, kind=WorkKind.GEMM)] if w.kind is WorkKind.DW else [w]


class Mapper:
    """A :data:`hwgen.scheduler.Chooser` that maps each layer by exact cost."""

    def __init__(self, graph: Graph, cfg: AccelConfig, objective: Objective = "latency",
                 top_k: int = DEFAULT_TOP_K) -> None:
        check_objective(objective)
        self.graph, self.cfg, self.objective, self.top_k = graph, cfg, objective, top_k
        self.evaluated = 0  # exact layer-mapping evaluations, for the benchmarks
        self.next_chunk = 0  # the program's chunks so far: a chunk-table entry's alignment costs a beat

    def __call__(self, w: Work, cfg: AccelConfig) -> tuple[Work, Tiling]:
        """The best mode and tiling of ``w``; the tiling carries the layer's exact share of the
        network's cycles and DRAM bytes (its chunk fetches and execution)."""
        best: tuple[float, int, Work, Tiling, int] | None = None
        per_mode = []
        for mode in _modes(w):
            tilings = candidates(mode, cfg, self.top_k)
            try:
                tilings.append(choose(mode, cfg)[1])  # the default scheduler's pick is always a candidate
            except ScheduleError:
                pass  # this mode cannot run the layer: it only has the candidates above (none)
            if tilings:
                per_mode.append((min(t.cycles for t in tilings), mode, tilings))
        # A mode whose best first-order estimate is far behind another's is not timed exactly (the
        # block-diagonal GEMM fallback of a depthwise conv does ceil(C/L) times the work).
        fastest = min((m[0] for m in per_mode), default=0)
        for _, mode, tilings in (m for m in per_mode if m[0] <= MODE_SLACK * fastest):
            cost = layer_cost(mode, cfg, tilings, part_channels(self.graph, mode), self.next_chunk)
            self.evaluated += len(tilings)
            share = cost.cycles - timing.boot_cycles(cfg) - timing.DONE_CYCLES
            read = cost.dram_read - timing.boot_bytes(cfg)
            energy = layer_energy_pj(cfg, cost)
            score = {"latency": share.astype(float), "energy": energy, "edp": energy * share}[self.objective]
            i = int(np.lexsort((read + cost.dram_write, share, score))[0])
            if best is None or (score[i], share[i]) < best[:2]:
                t = dataclasses.replace(tilings[i], cycles=int(share[i]), dram_read=int(read[i]),
                                        dram_write=int(cost.dram_write[i]))
                best = (float(score[i]), int(share[i]), mode, t, int(cost.chunks[i]))
        if best is None:
            return choose(w, cfg)  # raises the scheduler's error naming the layer
        self.next_chunk += best[4]
        return best[2], best[3]


def map_graph(graph: Graph, cfg: AccelConfig, objective: Objective = "latency",
              top_k: int = DEFAULT_TOP_K) -> list[LayerPlan]:
    """Plans for every layer of ``graph`` chosen by exact cost; predictions are exact layer shares
    (a layer's chunk fetches and execution: the network's cycles are their sum plus boot and done)."""
    return plan_graph(graph, cfg, Mapper(graph, cfg, objective, top_k))
