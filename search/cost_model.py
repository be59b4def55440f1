"""dian's cost model: what the accelerator's performance counters will show
for a layer under a tiling, or a whole network under its plans — exactly.

``layer_cost`` times a batch of candidate tilings of one layer with the
vectorized program replay (search/replay.py and the closed-form step
descriptions in steps_gemm.py / steps_blocked.py). Chunks never span works
(hwgen/lower/program.py), so ``network_cost`` is the sum of the works' costs
less the boot and done each standalone run includes; tests/search check both
against sim/machine (which the RTL matches in Verilator). A config with a
fusion buffer runs some depthwise -> projection (-> add) blocks as one work:
``network_cost`` prices those by fused_cost.py, the rest by the replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

import numpy as np

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower.fusion import TilingChooser
from dian.hwgen.lower.gathers import accelerator_form
from dian.hwgen.lower.scheduler import LayerPlan
from dian.hwgen.lower.tile_search import Tiling
from dian.hwgen.lower.workload import Work, WorkKind, tensor_regions, work_of
from dian.ir import Concat, Graph

from .energy import layer_energy_pj
from .fused_cost import fused_costs
from .replay import LayerCost, replay
from .steps_blocked import BlockedSteps, BlockedTilings
from .steps_gemm import GemmSteps, GemmTilings, WorkArrays

_TILE_FIELDS = attrgetter("kt", "ct", "ty", "tx", "fyt", "fxt")


def layer_works(graph: Graph, cfg: AccelConfig) -> tuple[Graph, list[Work]]:
    """The graph as the accelerator runs it (shallow inputs packed) and the Work of each of its
    layers that runs on the accelerator (reshapes move no data), in graph order."""
    packed, _ = accelerator_form(graph, cfg)
    regions = tensor_regions(packed)
    works = [work_of(packed, op, cfg, regions) for op in packed.ops]
    return packed, [w for w in works if w.kind is not WorkKind.ALIAS]


def part_channels(graph: Graph, w: Work) -> tuple[int, ...]:
    """The channels of each pass of ``w`` (a concat's inputs; empty: one pass)."""
    if not isinstance(w.op, Concat):
        return ()
    regions = tensor_regions(graph)
    return tuple(regions[name].blocked[1] for name in w.op.inputs)


def layer_cost(w: Work, cfg: AccelConfig, tilings: Sequence[Tiling], parts: tuple[int, ...] = ()) -> LayerCost:
    """Counters of ``w`` compiled alone under each of ``tilings`` (arrays, one entry per tiling).

    ``parts``: :func:`part_channels` for a concat."""
    return batch_cost([(w, list(tilings))], cfg, parts)


def batch_cost(
    items: Sequence[tuple[Work, list[Tiling]]],
    cfg: AccelConfig,
    parts: tuple[int, ...] = (),
) -> LayerCost:
    """:func:`layer_cost` of several layers' tilings in one replay (one call for all: much
    faster than one a layer); every work must be of one kind. The result's entries follow
    ``items`` and their tilings in order."""
    steps = batch_steps(items, cfg, parts)
    return replay(cfg, steps, len(steps.table))


def batch_steps(
    items: Sequence[tuple[Work, list[Tiling]]], cfg: AccelConfig, parts: tuple[int, ...] = ()
) -> GemmSteps | BlockedSteps:
    """The programs :func:`batch_cost` replays: one row per tiling, in order."""
    works = [w for w, _ in items]
    kinds = {w.kind for w in works}
    if len(kinds) != 1:
        raise ValueError(f"one replay times one kind of work, not {sorted(k.value for k in kinds)}")
    kind = kinds.pop()
    tilings = [t for _, ts in items for t in ts]
    owner = np.repeat(np.arange(len(items)), [len(ts) for _, ts in items])
    shape = WorkArrays.of(works, owner)
    m = len(tilings)
    kt, ct, ty, tx, fyt, fxt = (
        np.fromiter(chain.from_iterable(map(_TILE_FIELDS, tilings)), np.int64, 6 * m).reshape(m, 6).T.copy()
    )
    if kind is WorkKind.GEMM:
        kout = np.fromiter((t.order == "kout" for t in tilings), bool, m)
        return GemmSteps(shape, cfg, GemmTilings(kt, ct, ty, tx, fyt, fxt, kout))
    if kind in (
        WorkKind.DW,
        WorkKind.POOL,
        WorkKind.ADD,
        WorkKind.COPY,
        WorkKind.MUL,
        WorkKind.UPSAMPLE,
        WorkKind.INTERLEAVE,
    ):
        if parts and len(items) > 1:
            raise ValueError("a concat's passes are timed one layer at a time")
        return BlockedSteps(shape, kind, cfg, BlockedTilings(ct, ty, tx), parts)
    raise ValueError(f"no program for work of kind {kind.value}")


@dataclass(frozen=True)
class NetworkCost:
    """Whole-program counters and each work's share (``layers``: name -> LayerCost of one entry; a
    fused block's under its depthwise layer's name, its other layers absent)."""

    cycles: int
    dram_read: int
    dram_write: int
    busy_pe: int  # array-occupied PE-cycles (hwgen/timing.py's busy_pe), as the RTL's counter
    instructions: int
    chunks: int
    layers: dict[str, LayerCost]
    energy_pj: float = 0.0  # search/energy.py's estimate, summed over the layers
    fused: tuple[str, ...] = ()  # the fused blocks' names (hwgen/lower/fusion.py FusedBlock.name)


def network_cost(
    graph: Graph, cfg: AccelConfig, plans: Sequence[LayerPlan], tiling: TilingChooser | None = None
) -> NetworkCost:
    """The counters of ``graph`` lowered with ``plans`` (from :func:`hwgen.lower.scheduler.plan_graph`),
    with the blocks the lowering fuses on ``cfg`` (when it has a fusion buffer) priced fused;
    ``tiling`` as for hwgen/lower/graph.py's ``lower_graph`` (tests)."""
    packed, _ = accelerator_form(graph, cfg)
    blocks = fused_costs(packed, cfg, list(plans), tiling)
    inside = {w.op.name for b, _ in blocks.values() for w in b.members if w is not b.dw}
    boot, done = timing.boot_cycles(cfg), timing.done_cycles(cfg)
    cycles, read, write, busy, instrs, chunks = boot + done, timing.boot_bytes(cfg), 0, 0, 0, 0
    layers: dict[str, LayerCost] = {}
    energy = 0.0
    for p in plans:
        name = p.work.op.name
        if name in inside:
            continue
        c = blocks[name][1] if name in blocks else layer_cost(p.work, cfg, [p.tiling], part_channels(packed, p.work))
        layers[name] = c
        cycles += int(c.cycles[0]) - boot - done
        read += int(c.dram_read[0]) - timing.boot_bytes(cfg)
        write += int(c.dram_write[0])
        busy += int(c.busy_pe[0])
        instrs += int(c.instructions[0])
        chunks += int(c.chunks[0])
        energy += float(layer_energy_pj(cfg, c)[0])
    fused = tuple(b.name for b, _ in blocks.values())
    return NetworkCost(cycles, read, write, busy, instrs, chunks, layers, energy, fused)
