"""Which blocks run fused, and how (fusion.py's patterns): each candidate tiling's steps are
assembled and timed exactly on the ideal memory (program_timing.py), in a scratch DRAM layout, and
so are the block's layers unfused with their plans; a block runs fused with its fastest tiling when
that beats the unfused layers, else stays as it was. (The cost model has no closed form for fused
steps yet: this is the exact, slower stand-in, a few hundred steps a candidate.)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from dian.ir import Graph

from ..accel_config import AccelConfig
from .fused_steps import fused_steps
from .fusion import FusedBlock, Pattern, TilingChooser, candidate_tilings, fits, patterns
from .layout import act_bytes
from .op_steps import ActRef, LowerCtx
from .ppu_steps import STEPS
from .program import Assembler, Step
from .program_timing import WorkShare, program_cycles, work_share
from .scheduler import LayerPlan
from .workload import Region, Work


def fused_blocks(
    graph: Graph,
    cfg: AccelConfig,
    plans: list[LayerPlan],
    regions: dict[str, Region],
    tiling: TilingChooser | None = None,
) -> dict[str, FusedBlock]:
    """The blocks of ``plans`` that run fused, by the name of their depthwise op. ``tiling`` (tests)
    picks each block's tiling instead of the timed choice, and fuses whenever it returns one."""
    by_op = {p.work.op.name: p for p in plans}
    out: dict[str, FusedBlock] = {}
    for pat in patterns(graph, cfg, plans):
        block = _pick(pat, cfg, tiling) if tiling is not None else _timed(graph, cfg, regions, pat, by_op)
        if block is not None:
            out[pat.dw.op.name] = block
    return out


def block_share(graph: Graph, cfg: AccelConfig, regions: dict[str, Region], block: FusedBlock) -> WorkShare:
    """The fused block's exact share of the network's cycles and DRAM bytes (its schedules'
    prediction; the cost model has no closed form for it yet)."""
    asm = Assembler(cfg)
    for s in fused_steps(scratch_ctx(graph, cfg, regions), block):
        asm.add(s)
    return work_share(asm.program(), cfg)


def _pick(pat: Pattern, cfg: AccelConfig, tiling: TilingChooser) -> FusedBlock | None:
    """The chooser's tiling; from the expand (stage P2) when it fits that way too."""
    for add in (pat.add, None) if pat.add is not None else (None,):
        t = tiling(pat.dw, pat.project, add, cfg)
        if t is not None:
            ex = pat.expand if pat.expand is not None and fits(pat.dw, pat.project, add, t, cfg, pat.expand) else None
            return FusedBlock(pat.dw, pat.project, add, t, pat.a_is_x, ex)
    return None


def _timed(
    graph: Graph, cfg: AccelConfig, regions: dict[str, Region], pat: Pattern, by_op: dict[str, LayerPlan]
) -> FusedBlock | None:
    """The fastest fused form of ``pat`` if it beats its layers unfused (with their plans): stage P1
    (the expand, if any, unfused before it) or, with an expand, stage P2."""
    ctx = scratch_ctx(graph, cfg, regions)

    def plain(works: list[Work]) -> int:
        return _cycles(cfg, (s for w in works for s in STEPS[w.kind](ctx, w, by_op[w.op.name].tiling)))

    ex = pat.expand
    for add in (pat.add, None) if pat.add is not None else (None,):
        tilings = candidate_tilings(pat.dw, pat.project, add, cfg)
        p2 = candidate_tilings(pat.dw, pat.project, add, cfg, ex=ex) if ex is not None else []
        if not tilings and not p2:
            continue
        before = plain([ex]) if ex is not None else 0  # the expand unfused, in front of P1 or none
        best: tuple[int, FusedBlock | None] = (before + plain([pat.dw, pat.project] + ([add] if add else [])), None)
        for t in tilings:
            b = FusedBlock(pat.dw, pat.project, add, t, pat.a_is_x)
            best = min(best, (before + _cycles(cfg, fused_steps(ctx, b)), b), key=lambda cb: cb[0])
        for t in p2:
            b = FusedBlock(pat.dw, pat.project, add, t, pat.a_is_x, ex)
            best = min(best, (_cycles(cfg, fused_steps(ctx, b)), b), key=lambda cb: cb[0])
        return best[1]
    return None


def _cycles(cfg: AccelConfig, steps: Iterable[Step]) -> int:
    asm = Assembler(cfg)
    for s in steps:
        asm.add(s)
    return program_cycles(asm.program(), cfg)[0]


def scratch_ctx(graph: Graph, cfg: AccelConfig, regions: dict[str, Region]) -> LowerCtx:
    """A lowering context whose DRAM is a scratch layout: every activation and placed array gets
    its own addresses (so the program's checks hold), nothing is written anywhere."""
    acts: dict[str, ActRef] = {}
    top = 0
    for t in graph.activations():
        reg = regions[t.name]
        if reg.root == t.name:
            acts[t.name] = ActRef(top, reg.blocked)
            top += act_bytes(reg.blocked, cfg.lanes)
    end = [top]

    def place(data: np.ndarray, what: str) -> int:
        at = end[0]
        end[0] += -(-data.nbytes // cfg.word_bytes) * cfg.word_bytes
        return at

    return LowerCtx(cfg, graph, regions, acts, place)
