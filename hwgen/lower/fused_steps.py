"""Steps of a fused block (fusion.py; docs/accelerator.md, "Fusion buffer"): per band of output rows,

1. per group of ``ct`` depthwise channel blocks, one step as op_steps.dw_steps's (the input box with
   its halo and odd pitch from DRAM, the weights and parameters of the group), whose last tap
   group requantizes into FBUF (``ofb``) at ``cb·rows·Wo + p`` (the band's DW output, dense
   ``[cb][y][x]`` like an OBUF tile, never stored);
2. per projection tile of ``kt`` output x ``pct`` input blocks, one step of GEMMs that read FBUF
   (``sfb``) and accumulate in ABUF; the tile's last input group requantizes into OBUF and stores
   it, or, with a residual add, into FBUF after the band (``ofb``), loads the residual rows into
   IBUF and ADDs them to it (``bfb``) into OBUF, then stores.

Stage P2 (``FusedBlock.expand``): the depthwise steps also run the expand GEMM into FBUF and read it
there (expand_steps.py); the projection is the same.

FBUF addresses are absolute (it has no halves); the CMP engine runs in order, so FBUF needs no
tokens: a band's projection always follows its depthwise steps, and the next band's after it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dian.ir import Add, Conv2d

from ..isa import AddI, Dw, Gemm, Instr, LoadAct, LoadPrm, LoadWgt
from .expand_steps import BandSteps, expand_bands
from .fusion import FusedBlock
from .layout import blocks, dense_conv_weights, dw_blocks, dw_groups, dw_pitch, gemm_blocks
from .op_steps import ActRef, LowerCtx, _dw_walk, _fused, _params, _ranges, _step, load_box, store_box
from .program import Load, Step


@dataclass(frozen=True)
class _Consts:
    """What every step of a block reads: DRAM addresses of its weights and parameters, its regions."""

    wdw: int
    pdw: int
    ppw: int
    wpw: np.ndarray  # the projection's weight blocks [KBo, KBe, 1, 1, L, L], placed per tile on first use
    src: ActRef | None  # the depthwise input in DRAM (stage P1; P2's is in FBUF)
    out: ActRef


def fused_steps(ctx: LowerCtx, b: FusedBlock) -> Iterator[Step]:
    """The block's steps, band by band; pipelined, the depthwise steps of band b + 1 interleave with
    the projection of band b (FBUF holds two bands, alternating)."""
    cfg, L = ctx.cfg, ctx.cfg.lanes
    dop, pop = b.dw.op, b.project.op
    assert isinstance(dop, Conv2d) and isinstance(pop, Conv2d)
    groups = dw_groups(b.dw.fy, b.dw.fx, b.dw.dilation[0], L, cfg.ibuf_banks)
    wb = dw_blocks(ctx.graph.constants[dop.weight], L, groups)
    c = _Consts(
        ctx.place(wb.view(np.uint8).reshape(-1), f"weights of {dop.name}"),
        _params(ctx, dop, b.dw.k),
        _params(ctx, pop, b.project.k),
        gemm_blocks(dense_conv_weights(ctx.graph.constants[pop.weight], 1), L),
        ctx.act(dop.inputs[0]) if b.expand is None else None,
        ctx.act(b.output.output),
    )
    wtiles: dict[tuple[int, int], int] = {}
    kbe = blocks(b.dw.k, L)
    region = kbe * b.tiling.rows * b.dw.ox  # FBUF words of a band
    bands = [(n, oy0, rows) for n in range(b.dw.n) for oy0, rows in _ranges(b.dw.oy, b.tiling.rows)]
    if b.expand is None:
        dw_band: BandSteps = functools.partial(_dw_band, ctx, b, c)
    else:  # stage P2: the expand region after the bands and the projection tile
        top = b.tiling.fbuf_words(kbe, b.dw.ox, b.add is not None)
        dw_band = expand_bands(ctx, b, top, c.wdw, c.pdw)
    if not b.tiling.pipelined:
        for band in bands:
            yield from dw_band(*band, 0)
            for unit in _project_band(ctx, b, c, wtiles, *band, 0, region):
                yield from unit
        return
    yield from dw_band(*bands[0], 0)
    for i, band in enumerate(bands):
        base = (i % 2) * region
        ahead = dw_band(*bands[i + 1], region - base) if i + 1 < len(bands) else []
        proj = _project_band(ctx, b, c, wtiles, *band, base, 2 * region)
        yield from _interleave(ahead, proj)


def _interleave(steps: list[Step], units: list[list[Step]]) -> Iterator[Step]:
    """``steps`` and ``units`` (kept whole: a projection tile's accumulation) merged evenly."""
    i = j = 0
    while i < len(steps) or j < len(units):
        if j == len(units) or (i < len(steps) and i * len(units) <= j * len(steps)):
            yield steps[i]
            i += 1
        else:
            yield from units[j]
            j += 1


def _dw_band(ctx: LowerCtx, b: FusedBlock, c: _Consts, n: int, oy0: int, rows: int, base: int) -> list[Step]:
    """The depthwise steps of one band, its output to FBUF from word ``base``."""
    cfg, L, dw, t, dop = ctx.cfg, ctx.cfg.lanes, b.dw, b.tiling, b.dw.op
    assert isinstance(dop, Conv2d)
    (sy, sx), (py, px), (dy, dx) = dw.stride, dw.padding, dw.dilation
    groups = dw_groups(dw.fy, dw.fx, dy, L, cfg.ibuf_banks)
    G, wo = len(groups), dw.ox
    nx = (wo - 1) * sx + (dw.fx - 1) * dx + 1
    pitch = dw_pitch(nx, dw.fy, dw.fx, dy, L, cfg.ibuf_banks)
    ny = (rows - 1) * sy + (dw.fy - 1) * dy + 1
    plane = rows * wo  # words of one channel block of the band
    assert c.src is not None
    out = []
    for cb0, cbs in _ranges(blocks(dw.k, L), t.ct):
        loads = (
            Load(
                "ibuf",
                ("in", b.name, n, cb0, oy0),
                (load_box(cfg, c.src, n, cb0, cbs, oy0 * sy - py, ny, -px, pitch),),
            ),
            Load("wbuf", ("w", dop.name, cb0), (LoadWgt(c.wdw + cb0 * G * L * L, 0, cbs * G * L),)),
            Load("pbuf", ("p", dop.name, cb0), (LoadPrm(c.pdw + cb0 * cfg.pbuf_entry_bytes, 0, cbs),)),
        )
        comp = tuple(
            Dw(
                (cb * G + g) * L,
                cb * ny * pitch + fy0 * dy * pitch + fx0 * dx,
                cb * plane,
                int(g == 0),
                *_dw_walk(gy, gx, dy, dx, pitch, rows, wo, sy, sx),
                *_fused(dop, g == G - 1, base + (cb0 + cb) * plane, cb),
                ofb=int(g == G - 1),
            )
            for cb in range(cbs)
            for g, (fy0, gy, fx0, gx) in enumerate(groups)
        )
        out.append(Step(b.name, loads, comp, new_output=True))
    return out


def _project_band(
    ctx: LowerCtx,
    b: FusedBlock,
    c: _Consts,
    wtiles: dict[tuple[int, int], int],
    n: int,
    oy0: int,
    rows: int,
    base: int,
    res_at: int,
) -> list[list[Step]]:
    """The projection (and the residual add) of one band whose depthwise output is in FBUF from word
    ``base``: one list of steps per output tile (its accumulation over input groups); the tile before
    the add goes to FBUF word ``res_at``."""
    cfg, L, t, pop = ctx.cfg, ctx.cfg.lanes, b.tiling, b.project.op
    assert isinstance(pop, Conv2d)
    wo, kbe = b.dw.ox, blocks(b.dw.k, L)
    plane = rows * wo
    acc = _ranges(kbe, t.pct)
    units = []
    for kb0, kbs in _ranges(blocks(b.project.k, L), t.kt):
        unit = []
        for i, (pc0, pcs) in enumerate(acc):
            key = (kb0, pc0)
            if key not in wtiles:
                tile = np.ascontiguousarray(c.wpw[kb0 : kb0 + kbs, pc0 : pc0 + pcs])
                wtiles[key] = ctx.place(tile.view(np.uint8), f"weights of {pop.name}")
            blk = pcs * L
            loads = [Load("wbuf", ("w", pop.name, *key), (LoadWgt(wtiles[key], 0, kbs * blk),))]
            last = i == len(acc) - 1
            to_fbuf = last and b.add is not None
            comp: list[Instr] = [
                Gemm(
                    kb * blk,
                    base + pc0 * plane,
                    kb * plane,
                    int(i == 0),
                    pcs,
                    1,
                    1,
                    rows,
                    wo,
                    _step(pcs, plane),
                    0,
                    0,
                    _step(rows, wo),
                    _step(wo, 1),
                    _step(rows, wo),
                    _step(wo, 1),
                    *_fused(pop, last, res_at + kb * plane if to_fbuf else kb * plane, kb),
                    sfb=1,
                    ofb=int(to_fbuf),
                )
                for kb in range(kbs)
            ]
            store: tuple[Instr, ...] = ()
            if last:
                prm = c.ppw + kb0 * cfg.pbuf_entry_bytes
                loads.append(Load("pbuf", ("p", pop.name, kb0), (LoadPrm(prm, 0, kbs),)))
                if b.add is not None:
                    loads.append(_residual_load(ctx, b, n, kb0, kbs, oy0, rows))
                    comp.append(_add(b, kbs * plane, res_at))
                store = (store_box(cfg, c.out, n, kb0, kbs, oy0, rows, 0, wo),)
            unit.append(Step(b.name, tuple(loads), tuple(comp), store, new_output=i == 0))
        units.append(unit)
    return units


def _residual_load(ctx: LowerCtx, b: FusedBlock, n: int, kb0: int, kbs: int, oy0: int, rows: int) -> Load:
    x = ctx.act(b.residual())
    box: LoadAct = load_box(ctx.cfg, x, n, kb0, kbs, oy0, rows, 0, b.dw.ox)
    return Load("ibuf", ("in", b.name, "residual", n, kb0, oy0), (box,))


def _add(b: FusedBlock, words: int, res_at: int) -> AddI:
    """The residual add of a projection tile: a = the residual rows in IBUF, b = the projection in FBUF."""
    assert b.add is not None
    op = b.add.op
    assert isinstance(op, Add) and op.requant is not None and op.out_min is not None and op.out_max is not None
    m0, m1 = op.requant.multiplier
    m_x, m_p = (m0, m1) if b.a_is_x else (m1, m0)
    return AddI(0, res_at, 0, words, m_x, m_p, op.requant.shift[0], op.out_min, op.out_max, int(op.subtract), bfb=1)
