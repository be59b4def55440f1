"""The default scheduler: one legal Mapping and its loop-nest Schedule per op.

For every op of an integer Graph it picks the array mode (GEMM, or the
depthwise mode for depthwise convs when the config has it), the tile sizes
(tile_search.py: largest tiles along OX, OY and K that fit every buffer half,
scored by a first-order analytic model; search/mapper.py re-times its best
candidates exactly) and the tile-loop order, with the accumulation over
input-channel tiles (and kernel-tap tiles, when even one tap's weights are
too big) innermost, because partial sums stay in ABUF.

It always finds a schedule when the layer can run at all: a GEMM needs one
word of each buffer per tile at worst; a depthwise conv whose window does not
fit falls back to GEMM with block-diagonal weights; pooling whose window
does not fit IBUF raises :class:`ScheduleError` naming the layer, what the
smallest tile needs and the buffer sizes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from dian.errors import ScheduleError
from dian.ir import Graph, Op, op_macs
from dian.ir.schedule import Dim, Level, Loop, Mapping, Prediction, Schedule

from ..accel_config import AccelConfig
from .gathers import accelerator_form
from .layout import blocks
from .tile_search import Tiling, halves, in_extent, search
from .workload import Region, Work, WorkKind, tensor_regions, work_of


def _error(w: Work, cfg: AccelConfig) -> ScheduleError:
    h = halves(cfg)
    win = in_extent(1, w.stride[0], w.fy, w.dilation[0]) * in_extent(1, w.stride[1], w.fx, w.dilation[1])
    return ScheduleError(
        f"layer '{w.op.name}' ({w.op.kind.value}, {w.kind.value}) cannot be scheduled on accelerator "
        f"'{cfg.name}': its smallest tile (1 channel block, 1 output pixel) needs {win} IBUF words for its "
        f"{w.fy}x{w.fx} window, but one IBUF half holds {h['ibuf']} words of {cfg.word_bytes} bytes "
        f"(WBUF half {h['wbuf']}, ABUF half {h['abuf']}, OBUF half {h['obuf']} words). Use a config with a "
        f"larger ibuf, or a smaller pooling window."
    )


def choose(w: Work, cfg: AccelConfig) -> tuple[Work, Tiling]:
    """The work as it will run (DW may fall back to GEMM) and its tiling."""
    t = search(w, cfg)
    if t is None and w.kind is WorkKind.DW:
        w = dataclasses.replace(w, kind=WorkKind.GEMM)
        t = search(w, cfg)
    if t is None:
        raise _error(w, cfg)
    return w, t


def _mapping(w: Work, t: Tiling) -> Mapping:
    if w.kind is WorkKind.GEMM:
        tiles: tuple[tuple[Dim, int], ...] = (
            (Dim.N, 1),
            (Dim.K, t.kt),
            (Dim.C, t.ct),
            (Dim.OY, t.ty),
            (Dim.OX, t.tx),
            (Dim.FY, t.fyt),
            (Dim.FX, t.fxt),
        )
        tile_loops = (Dim.N, Dim.K, Dim.OY, Dim.OX) if t.order == "kout" else (Dim.N, Dim.OY, Dim.OX, Dim.K)
        return Mapping(w.op.name, "gemm", (Dim.C, Dim.K), tiles, (*tile_loops, Dim.C, Dim.FY, Dim.FX))
    tiles = ((Dim.N, 1), (Dim.C, t.ct), (Dim.OY, t.ty), (Dim.OX, t.tx))
    if w.kind is WorkKind.DW:
        return Mapping(w.op.name, "depthwise", (Dim.FY, Dim.C), tiles, (Dim.N, Dim.C, Dim.OY, Dim.OX))
    return Mapping(w.op.name, "ppu", (Dim.C, Dim.C), tiles, (Dim.N, Dim.C, Dim.OY, Dim.OX))


def _loops(w: Work, t: Tiling, cfg: AccelConfig) -> tuple[Loop, ...]:
    L = cfg.lanes
    n_tiles = {Dim.N: w.n, Dim.OY: -(-w.oy // t.ty), Dim.OX: -(-w.ox // t.tx)}
    out_note = f"outputs OBUF -> DRAM ({t.kt * L} ch x {t.ty} x {t.tx})"
    in_y = in_extent(t.ty, w.stride[0], t.fyt, w.dilation[0])
    in_x = in_extent(t.tx, w.stride[1], t.fxt, w.dilation[1])
    in_note = f"inputs DRAM -> IBUF ({t.ct * L} ch x {in_y} x {in_x})"
    loops: list[Loop] = []
    if w.kind is WorkKind.GEMM:
        n_tiles.update(
            {
                Dim.K: -(-blocks(w.k, L) // t.kt),
                Dim.C: -(-blocks(w.c, L) // t.ct),
                Dim.FY: -(-w.fy // t.fyt),
                Dim.FX: -(-w.fx // t.fxt),
            }
        )
        outer = (Dim.N, Dim.K, Dim.OY, Dim.OX) if t.order == "kout" else (Dim.N, Dim.OY, Dim.OX, Dim.K)
        w_note = f"weights DRAM -> WBUF ({t.kt * L} x {t.ct * L} x {t.fyt} x {t.fxt})"
        acc_dims = [d for d in (Dim.C, Dim.FY, Dim.FX) if n_tiles[d] > 1]
        for i, d in enumerate(outer):
            note = out_note if i == len(outer) - 1 else ""
            loops.append(Loop(d, n_tiles[d], Level.DRAM, note))
        if acc_dims:
            for i, d in enumerate(acc_dims):
                loops.append(Loop(d, n_tiles[d], Level.DRAM, f"{in_note}; {w_note}" if i == 0 else ""))
        else:
            loops[-1] = dataclasses.replace(loops[-1], note=f"{out_note}; {in_note}; {w_note} when it changes")
        loops += [
            Loop(Dim.K, t.kt, Level.BUFFER, "one GEMM instruction per k block"),
            Loop(Dim.C, t.ct, Level.BUFFER),
            Loop(Dim.FY, t.fyt, Level.BUFFER),
            Loop(Dim.FX, t.fxt, Level.BUFFER),
            Loop(Dim.OY, t.ty, Level.BUFFER),
            Loop(Dim.OX, t.tx, Level.BUFFER),
            Loop(Dim.C, L, Level.ARRAY, "PE array"),
            Loop(Dim.K, L, Level.ARRAY),
        ]
        return tuple(lp for lp in loops if lp.extent > 1 or lp.level is Level.ARRAY)
    n_tiles[Dim.C] = -(-blocks(w.k, L) // t.ct)
    for d in (Dim.N, Dim.C, Dim.OY, Dim.OX):
        loops.append(Loop(d, n_tiles[d], Level.DRAM, f"{in_note}; {out_note}" if d is Dim.OX else ""))
    loops += [Loop(Dim.C, t.ct, Level.BUFFER), Loop(Dim.OY, t.ty, Level.BUFFER), Loop(Dim.OX, t.tx, Level.BUFFER)]
    if w.kind is WorkKind.DW:
        loops += [
            Loop(Dim.FY, w.fy * w.fx, Level.ARRAY, "PE array rows: kernel taps (rectangular tap groups)"),
            Loop(Dim.C, L, Level.ARRAY),
        ]
    else:
        loops += [
            Loop(Dim.FY, w.fy, Level.BUFFER),
            Loop(Dim.FX, w.fx, Level.BUFFER),
            Loop(Dim.C, L, Level.ARRAY, "PPU lanes"),
        ]
    return tuple(lp for lp in loops if lp.extent > 1 or lp.level is Level.ARRAY)


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """What the lowering needs for one op: its work, tiling and the Schedule to show."""

    work: Work
    tiling: Tiling
    schedule: Schedule


#: Picks the work (the array mode may change) and tiling of one layer; the
#: tiling's cycles and DRAM bytes are the prediction its schedule shows.
Chooser = Callable[[Work, AccelConfig], tuple[Work, Tiling]]


def plan_op(
    graph: Graph,
    op: Op,
    cfg: AccelConfig,
    regions: dict[str, Region] | None = None,
    note: str = "",
    chooser: Chooser = choose,
) -> LayerPlan:
    w, t = chooser(work_of(graph, op, cfg, regions), cfg)
    macs = op_macs(graph, op)
    util = macs / max(1, t.cycles * cfg.pe_rows * cfg.pe_cols)
    pred = Prediction(t.cycles, macs, util, t.dram_read, t.dram_write)
    sched = Schedule(op.name, op.kind.value, w.header(cfg) + note, _mapping(w, t), _loops(w, t, cfg), pred)
    return LayerPlan(w, t, sched)


def plan_graph(graph: Graph, cfg: AccelConfig, chooser: Chooser = choose) -> list[LayerPlan]:
    """A plan for every op that runs on the accelerator (reshapes move no data and get none).

    ``chooser`` picks each layer's mode and tiling (default: the tile search's
    best; search/mapper.py passes its own). A conv reading a shallow graph
    input is planned on the host-packed input (input_packing.py); its
    schedule's header says so."""
    graph, packings = accelerator_form(graph, cfg)
    regions = tensor_regions(graph)
    plans = []
    for op in graph.ops:
        w = work_of(graph, op, cfg, regions)
        if w.kind is not WorkKind.ALIAS:
            p = packings.get(op.inputs[0])
            c = p.shape[1] if p is not None else 0
            note = (
                ""
                if p is None
                else (
                    f"\n  input packed by the host: {c} channel{'s' * (c != 1)} x {p.fx} kernel "
                    f"columns -> {c * p.fx} channels of {p.out_w} columns"
                )
            )
            plans.append(plan_op(graph, op, cfg, regions, note, chooser))
    return plans


def schedule_graph(graph: Graph, cfg: AccelConfig) -> list[Schedule]:
    """The Schedule of every op that runs on the accelerator, in graph order."""
    return [p.schedule for p in plan_graph(graph, cfg)]
