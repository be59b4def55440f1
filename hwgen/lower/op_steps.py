"""Per-op lowering of the PE array's ops (GEMM, DW) and what every op's lowering shares: a
:class:`Work` and its :class:`Tiling` -> :class:`Step` s (the PPU's ops: ppu_steps.py).

Buffer addresses are relative to a buffer half (the assembler adds the
half's base); DRAM addresses are final. Tiles are dense in every buffer:
IBUF ``[c][y][x]`` boxes, ABUF and OBUF ``[c][oy][ox]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from dian.ir import Conv2d, Graph, Linear

from ..accel_config import LUT_ENTRIES, AccelConfig
from ..isa import Dw, Gemm, Instr, LoadAct, LoadLut, LoadPrm, LoadWgt, StoreAct
from .layout import (
    blocks,
    dense_conv_weights,
    dw_blocks,
    dw_groups,
    dw_pitch,
    gemm_blocks,
    linear_weights_blocked,
    param_entries,
)
from .program import Load, Step
from .tile_search import Tiling
from .workload import Region, Work

INT8_MIN, INT8_MAX = -128, 127


@dataclass(frozen=True)
class ActRef:
    """An activation region: base address and channel-blocked (N, C, H, W)."""

    addr: int
    shape: tuple[int, int, int, int]

    def strides(self, lanes: int) -> tuple[int, int, int]:
        """Byte strides of (n, channel block, row)."""
        _, c, h, w = self.shape
        return blocks(c, lanes) * h * w * lanes, h * w * lanes, w * lanes


@dataclass
class LowerCtx:
    cfg: AccelConfig
    graph: Graph
    regions: dict[str, Region]
    acts: dict[str, ActRef]  # by root tensor name
    place: Callable[[np.ndarray, str], int]  # put bytes in the DRAM image, get the address

    def act(self, tensor: str) -> ActRef:
        reg = self.regions[tensor]
        return ActRef(self.acts[reg.root].addr, reg.blocked)


def _step(extent: int, stride: int) -> int:
    """The stride an instruction carries for a loop of ``extent``: 0 when the loop has one
    iteration (its stride is never applied, and the tile's true stride can exceed the address
    field, e.g. a 1-row kernel's dilated row step in a small IBUF)."""
    return stride if extent > 1 else 0


def _dw_walk(
    gy: int, gx: int, dy: int, dx: int, pitch: int, rows: int, cols: int, sy: int, sx: int
) -> tuple[int, int, int, int, int, int, int, int, int, int]:
    """A DW instruction's fields from ``n_gy`` to ``d_ox``: a ``gy`` x ``gx`` tap group at dilation
    (``dy``, ``dx``) over an input of row ``pitch``, ``rows`` x ``cols`` output pixels at stride
    (``sy``, ``sx``), written densely (every DW the lowering emits: unfused, stage P1 and P2)."""
    return (
        gy,
        gx,
        _step(gy, dy * pitch),
        _step(gx, dx),
        rows,
        cols,
        _step(rows, sy * pitch),
        _step(cols, sx),
        _step(rows, cols),
        _step(cols, 1),
    )


def _ranges(extent: int, tile: int) -> list[tuple[int, int]]:
    return [(s, min(tile, extent - s)) for s in range(0, extent, tile)]


def load_box(
    cfg: AccelConfig,
    src: ActRef,
    n: int,
    cb0: int,
    cbs: int,
    y0: int,
    ny: int,
    x0: int,
    nx: int,
    dst: int = 0,
    pad_value: int = 0,
) -> LoadAct:
    """LOAD_ACT of input rows y0..y0+ny, columns x0..x0+nx (possibly outside the tensor: padding)."""
    L = cfg.lanes
    _, _, h, w = src.shape
    sn, sc, sy = src.strides(L)
    ylo, yhi = max(y0, 0), min(y0 + ny, h)
    xlo, xhi = max(x0, 0), min(x0 + nx, w)
    if ylo >= yhi or xlo >= xhi:  # the whole box is padding
        return LoadAct(src.addr, dst, cbs, ny, nx, ny, 0, nx, 0, sc, sy, pad_value)
    return LoadAct(
        src.addr + n * sn + cb0 * sc + ylo * sy + xlo * L,
        dst,
        cbs,
        ny,
        nx,
        ylo - y0,
        y0 + ny - yhi,
        xlo - x0,
        x0 + nx - xhi,
        sc,
        sy,
        pad_value,
    )


def store_box(
    cfg: AccelConfig, out: ActRef, n: int, cb0: int, cbs: int, y0: int, ny: int, x0: int, nx: int
) -> StoreAct:
    L = cfg.lanes
    sn, sc, sy = out.strides(L)
    return StoreAct(out.addr + n * sn + cb0 * sc + y0 * sy + x0 * L, 0, cbs, ny, nx, sc, sy)


def _params(ctx: LowerCtx, op: Conv2d | Linear, k: int) -> int:
    bias = None if op.bias is None else ctx.graph.constants[op.bias]
    rq = op.requant
    assert rq is not None
    return ctx.place(param_entries(bias, rq.multiplier, rq.shift, k, ctx.cfg.lanes), f"params of {op.name}")


def _gemm_weights(ctx: LowerCtx, w: Work) -> np.ndarray:
    op = w.op
    assert isinstance(op, (Conv2d, Linear))
    wt = ctx.graph.constants[op.weight]
    if isinstance(op, Linear):
        _, c, h, wd = ctx.regions[op.inputs[0]].blocked
        dense = linear_weights_blocked(wt, (c, h, wd), ctx.cfg.lanes)
    else:
        dense = dense_conv_weights(wt, op.groups)
    return gemm_blocks(dense, ctx.cfg.lanes)


def _fused(op: Conv2d | Linear, final: bool, odst: int, prm: int) -> tuple[int, int, int, int, int]:
    """A GEMM's or DW's fused-requantization fields: on for the instruction that ends a channel
    block's accumulation (its sums to OBUF word ``odst`` on, with PBUF entry ``prm``), else off."""
    assert op.out_min is not None and op.out_max is not None  # the verifier requires both on integer ops
    return (1, odst, prm, op.out_min, op.out_max) if final else (0, 0, 0, -128, 127)


@dataclass(frozen=True)
class LutTables:
    """A layer's lookup tables in DRAM (``[tables, 256, L]``: one table for a per-tensor function,
    one per channel block for a per-channel one) and how a tile of channel blocks uses them."""

    layer: str
    addr: int
    per_channel: bool
    lanes: int

    def load(self, cb0: int, cbs: int) -> Load:
        """The LBUF load of the tables a tile of channel blocks ``cb0 .. cb0 + cbs - 1`` reads."""
        if not self.per_channel:
            return Load("lbuf", ("lut", self.layer), (LoadLut(self.addr, 0, 1),))
        at = self.addr + cb0 * LUT_ENTRIES * self.lanes
        return Load("lbuf", ("lut", self.layer, cb0), (LoadLut(at, 0, cbs),))

    def table(self, cb: int) -> int:
        """The LBUF table (in its half) of channel block ``cb`` of a tile."""
        return cb if self.per_channel else 0


def _lut_tables(ctx: LowerCtx, w: Work) -> LutTables | None:
    """Place ``w``'s lookup tables in the DRAM image (lane ``j`` of table ``b`` is channel
    ``b·L + j``'s row, padding lanes zero; a per-tensor table is repeated in every lane)."""
    pw = w.lut
    if pw is None:
        return None
    assert pw.table is not None
    table = ctx.graph.constants[pw.table]
    L = ctx.cfg.lanes
    if w.lut_per_channel:
        rows = table.shape[0]
        words = np.zeros((blocks(rows, L) * L, LUT_ENTRIES), np.int8)
        words[:rows] = table
        words = words.reshape(-1, L, LUT_ENTRIES).transpose(0, 2, 1)
    else:
        words = np.repeat(table[0][None, :, None], L, axis=2)
    addr = ctx.place(np.ascontiguousarray(words, dtype=np.int8), f"lookup tables of {pw.name}")
    return LutTables(pw.name, addr, w.lut_per_channel, L)


def _lut_fields(lut: LutTables | None, final: bool, cb: int) -> tuple[int, int]:
    """An OBUF writer's ``lut`` and ``ltab`` for channel block ``cb`` of its tile (off unless ``final``)."""
    return (1, lut.table(cb)) if lut is not None and final else (0, 0)


def gemm_steps(ctx: LowerCtx, w: Work, t: Tiling) -> Iterator[Step]:
    cfg, L, op = ctx.cfg, ctx.cfg.lanes, w.op
    name = op.name
    assert isinstance(op, (Conv2d, Linear))
    wblocks = _gemm_weights(ctx, w)
    KB, CB = wblocks.shape[:2]
    prm = _params(ctx, op, w.k)
    lut = _lut_tables(ctx, w)
    src, out = ctx.act(op.inputs[0]), ctx.act(op.output)
    if isinstance(op, Linear):
        src = ActRef(src.addr, (w.n, w.c, 1, 1))
    (sy, sx), (py, px), (dy, dx) = w.stride, w.padding, w.dilation
    wtiles: dict[tuple[int, int, int, int], int] = {}
    pixels = [(n, y, x) for n in range(w.n) for y in _ranges(w.oy, t.ty) for x in _ranges(w.ox, t.tx)]
    ktiles = _ranges(KB, t.kt)
    if t.order == "kout":
        outputs = [(k, p) for k in ktiles for p in pixels]
    else:
        outputs = [(k, p) for p in pixels for k in ktiles]
    acc = [(c, fy, fx) for c in _ranges(CB, t.ct) for fy in _ranges(w.fy, t.fyt) for fx in _ranges(w.fx, t.fxt)]
    for (kb0, kbs), (n, (oy0, rows), (ox0, cols)) in outputs:
        for i, ((cb0, cbs), (fy0, fys), (fx0, fxs)) in enumerate(acc):
            ny, nx = (rows - 1) * sy + (fys - 1) * dy + 1, (cols - 1) * sx + (fxs - 1) * dx + 1
            loads = [
                Load(
                    "ibuf",
                    ("in", name, n, oy0, ox0, cb0, fy0, fx0),
                    (load_box(cfg, src, n, cb0, cbs, oy0 * sy - py + fy0 * dy, ny, ox0 * sx - px + fx0 * dx, nx),),
                )
            ]
            wkey = (kb0, cb0, fy0, fx0)
            if wkey not in wtiles:
                tile = wblocks[kb0 : kb0 + kbs, cb0 : cb0 + cbs, fy0 : fy0 + fys, fx0 : fx0 + fxs]
                wtiles[wkey] = ctx.place(np.ascontiguousarray(tile).view(np.uint8), f"weights of {name}")
            blk = cbs * fys * fxs * L
            loads.append(Load("wbuf", ("w", name, *wkey), (LoadWgt(wtiles[wkey], 0, kbs * blk),)))
            last = i == len(acc) - 1  # the GEMMs requantize their final sums into OBUF on the way out
            comp = [
                Gemm(
                    kb * blk,
                    0,
                    kb * rows * cols,
                    int(i == 0),
                    cbs,
                    fys,
                    fxs,
                    rows,
                    cols,
                    _step(cbs, ny * nx),
                    _step(fys, dy * nx),
                    _step(fxs, dx),
                    _step(rows, sy * nx),
                    _step(cols, sx),
                    _step(rows, cols),
                    _step(cols, 1),
                    *_fused(op, last, kb * rows * cols, kb),
                    *_lut_fields(lut, last, kb),
                )
                for kb in range(kbs)
            ]
            store: tuple[Instr, ...] = ()
            if last:
                loads.append(Load("pbuf", ("p", name, kb0), (LoadPrm(prm + kb0 * cfg.pbuf_entry_bytes, 0, kbs),)))
                if lut is not None:
                    loads.append(lut.load(kb0, kbs))
                store = (store_box(cfg, out, n, kb0, kbs, oy0, rows, ox0, cols),)
            yield Step(name, tuple(loads), tuple(comp), store, new_output=i == 0)


def dw_steps(ctx: LowerCtx, w: Work, t: Tiling) -> Iterator[Step]:
    """One step per output tile (channel blocks x rows x columns): the input box (its IBUF row pitch
    odd when a tap group reads several kernel rows, one IBUF bank each), then per channel block one
    DW per tap group (docs/accelerator.md, "Depthwise v2"), the last requantizing into OBUF."""
    cfg, L, op = ctx.cfg, ctx.cfg.lanes, w.op
    name = op.name
    assert isinstance(op, Conv2d)
    (sy, sx), (py, px), (dy, dx) = w.stride, w.padding, w.dilation
    groups = dw_groups(w.fy, w.fx, dy, L, cfg.ibuf_banks)
    G = len(groups)
    wb = dw_blocks(ctx.graph.constants[op.weight], L, groups)
    waddr = ctx.place(wb.view(np.uint8).reshape(-1), f"weights of {name}")
    prm = _params(ctx, op, w.k)
    lut = _lut_tables(ctx, w)
    src, out = ctx.act(op.inputs[0]), ctx.act(op.output)
    for cb0, cbs in _ranges(blocks(w.c, L), t.ct):
        for n in range(w.n):
            for oy0, rows in _ranges(w.oy, t.ty):
                for ox0, cols in _ranges(w.ox, t.tx):
                    ny, nx = (rows - 1) * sy + (w.fy - 1) * dy + 1, (cols - 1) * sx + (w.fx - 1) * dx + 1
                    pitch = dw_pitch(nx, w.fy, w.fx, dy, L, cfg.ibuf_banks)
                    loads = (
                        Load(
                            "ibuf",
                            ("in", name, n, cb0, oy0, ox0),
                            (load_box(cfg, src, n, cb0, cbs, oy0 * sy - py, ny, ox0 * sx - px, pitch),),
                        ),
                        Load("wbuf", ("w", name, cb0), (LoadWgt(waddr + cb0 * G * L * L, 0, cbs * G * L),)),
                        Load("pbuf", ("p", name, cb0), (LoadPrm(prm + cb0 * cfg.pbuf_entry_bytes, 0, cbs),)),
                        *(() if lut is None else (lut.load(cb0, cbs),)),
                    )
                    comp = [
                        Dw(
                            (cb * G + g) * L,
                            cb * ny * pitch + fy0 * dy * pitch + fx0 * dx,
                            cb * rows * cols,
                            int(g == 0),
                            *_dw_walk(gy, gx, dy, dx, pitch, rows, cols, sy, sx),
                            *_fused(op, g == G - 1, cb * rows * cols, cb),
                            *_lut_fields(lut, g == G - 1, cb),
                        )
                        for cb in range(cbs)
                        for g, (fy0, gy, fx0, gx) in enumerate(groups)
                    ]
                    yield Step(
                        name,
                        loads,
                        tuple(comp),
                        (store_box(cfg, out, n, cb0, cbs, oy0, rows, ox0, cols),),
                        new_output=True,
                    )
