"""Per-op lowering of the post-processing unit's ops: pooling, ADD/MUL/COPY (clamps, pointwise
tables, concat) and upsampling, each a :class:`Work` and its :class:`Tiling` -> :class:`Step` s;
and :data:`STEPS`, the lowering of every work kind (the array's GEMM and DW are in op_steps.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from dian.ir import Add, AvgPool2d, Clamp, Concat, GlobalAvgPool, Interleave, MaxPool2d, Mul, Pointwise

from ..isa import AddI, Copy, Instr, MulI, Pool, PoolMode
from .layout import blocks
from .op_steps import (
    INT8_MAX,
    INT8_MIN,
    LowerCtx,
    _lut_fields,
    _lut_tables,
    _ranges,
    _step,
    dw_steps,
    gemm_steps,
    load_box,
    store_box,
)
from .program import Load, Step
from .tile_search import Tiling
from .workload import Work, WorkKind


def _blocked_tiles(w: Work, t: Tiling, cb_total: int) -> Iterator[tuple[int, int, int, int, int, int, int]]:
    for cb0, cbs in _ranges(cb_total, t.ct):
        for n in range(w.n):
            for oy0, rows in _ranges(w.oy, t.ty):
                for ox0, cols in _ranges(w.ox, t.tx):
                    yield cb0, cbs, n, oy0, rows, ox0, cols


def pool_steps(ctx: LowerCtx, w: Work, t: Tiling) -> Iterator[Step]:
    cfg, op = ctx.cfg, w.op
    src, out = ctx.act(op.inputs[0]), ctx.act(op.output)
    (sy, sx), (py, px) = w.stride, w.padding
    if isinstance(op, MaxPool2d):
        mode, m, s, pad = PoolMode.MAX, 0, 0, INT8_MIN
    else:
        assert isinstance(op, (AvgPool2d, GlobalAvgPool)) and op.requant is not None
        mode, m, s, pad = PoolMode.AVG, op.requant.multiplier[0], op.requant.shift[0], 0
    for cb0, cbs, n, oy0, rows, ox0, cols in _blocked_tiles(w, t, blocks(w.c, cfg.lanes)):
        ny, nx = (rows - 1) * sy + w.fy, (cols - 1) * sx + w.fx
        ld = load_box(cfg, src, n, cb0, cbs, oy0 * sy - py, ny, ox0 * sx - px, nx, pad_value=pad)
        comp = Pool(
            0,
            0,
            int(mode),
            cbs,
            rows,
            cols,
            w.fy,
            w.fx,
            _step(cbs, ny * nx),
            _step(rows, sy * nx),
            _step(cols, sx),
            _step(w.fy, nx),
            _step(w.fx, 1),
            m,
            s,
            cont=int(w.banded and oy0 > 0),
        )
        oy_out = 0 if w.banded else oy0  # every band of a banded window stores to its one output word
        yield Step(
            op.name,
            (Load("ibuf", ("in", op.name, cb0, n, oy0, ox0), (ld,)),),
            (comp,),
            (store_box(cfg, out, n, cb0, cbs, oy_out, rows, ox0, cols),),
            new_output=True,
        )


def eltwise_steps(ctx: LowerCtx, w: Work, t: Tiling) -> Iterator[Step]:
    """ADD, standalone clamps, pointwise ops (a COPY through the LUT stage, one per channel block for
    a per-channel table) and concatenation (one COPY pass per input)."""
    cfg, op, L = ctx.cfg, w.op, ctx.cfg.lanes
    out = ctx.act(op.output)
    lut = _lut_tables(ctx, w)
    if isinstance(op, Concat):
        assert op.requant is not None
        parts, off = [], 0
        for i, name in enumerate(op.inputs):
            c = ctx.regions[name].blocked[1]
            parts.append((name, off, op.requant.multiplier[i], op.requant.shift[i], INT8_MIN, INT8_MAX))
            off += c // L
    elif isinstance(op, Clamp):
        lo = INT8_MIN if op.min_value is None else max(INT8_MIN, int(op.min_value))
        hi = INT8_MAX if op.max_value is None else min(INT8_MAX, int(op.max_value))
        parts = [(op.inputs[0], 0, 1, 0, lo, hi)]
    elif isinstance(op, Pointwise):
        parts = [(op.inputs[0], 0, 1, 0, INT8_MIN, INT8_MAX)]
    else:
        parts = [(op.inputs[0], 0, 0, 0, 0, 0)]
    for name, off, m, s, lo, hi in parts:
        src = ctx.act(name)
        for cb0, cbs, n, oy0, rows, ox0, cols in _blocked_tiles(w, t, blocks(src.shape[1], L)):
            words = cbs * rows * cols
            lds: list[Instr] = [load_box(cfg, src, n, cb0, cbs, oy0, rows, ox0, cols)]
            comp: tuple[Instr, ...]
            if isinstance(op, Mul):
                comp = _mul_instrs(ctx, w, op, lds, n, cb0, cbs, (oy0, rows), (ox0, cols))
            elif isinstance(op, Add):
                assert op.requant is not None
                lds.append(load_box(cfg, ctx.act(op.inputs[1]), n, cb0, cbs, oy0, rows, ox0, cols, dst=words))
                ma, mb = op.requant.multiplier
                sh, lo_, hi_ = op.requant.shift[0], op.out_min, op.out_max
                comp = (AddI(0, words, 0, words, ma, mb, sh, lo_, hi_, int(op.subtract)),)  # type: ignore[arg-type]
            elif lut is not None and lut.per_channel:
                per = rows * cols
                comp = tuple(
                    Copy(cb * per, cb * per, per, m, s, lo, hi, *_lut_fields(lut, True, cb)) for cb in range(cbs)
                )
            else:
                comp = (Copy(0, 0, words, m, s, lo, hi, *_lut_fields(lut, True, 0)),)
            loads = (Load("ibuf", ("in", op.name, name, cb0, n, oy0, ox0), tuple(lds)),)
            yield Step(
                op.name,
                loads if lut is None else (*loads, lut.load(cb0, cbs)),
                comp,
                (store_box(cfg, out, n, off + cb0, cbs, oy0, rows, ox0, cols),),
                new_output=True,
            )


def upsample_steps(ctx: LowerCtx, w: Work, t: Tiling) -> Iterator[Step]:
    """Tiles of input pixels; each input row is written ``uy`` times by a COPY that writes each of
    its words ``ux`` times (``rep``), so the output tile is dense in OBUF, then stored at the
    tile's place in the upsampled tensor."""
    cfg, op = ctx.cfg, w.op
    src, out = ctx.act(op.inputs[0]), ctx.act(op.output)
    uy, ux = w.upsample
    for cb0, cbs, n, y0, rows, x0, cols in _blocked_tiles(w, t, blocks(w.c, cfg.lanes)):
        width = cols * ux
        comp = tuple(
            Copy((cb * rows + y) * cols, ((cb * rows + y) * uy + dy) * width, width, 1, 0, INT8_MIN, INT8_MAX, rep=ux)
            for cb in range(cbs)
            for y in range(rows)
            for dy in range(uy)
        )
        yield Step(
            op.name,
            (Load("ibuf", ("in", op.name, cb0, n, y0, x0), (load_box(cfg, src, n, cb0, cbs, y0, rows, x0, cols),)),),
            comp,
            (store_box(cfg, out, n, cb0, cbs, y0 * uy, rows * uy, x0 * ux, width),),
            new_output=True,
        )


def interleave_steps(ctx: LowerCtx, w: Work, t: Tiling) -> Iterator[Step]:
    """Tiles of the phase grid: each step loads the tile of every phase into IBUF, weaves them into
    OBUF with strided COPYs (one per channel block, output row and column phase, each rescaling its
    phase to the output scale) and stores the woven block of output rows, cropped at the edges."""
    cfg, op = ctx.cfg, w.op
    assert isinstance(op, Interleave) and op.requant is not None
    out = ctx.act(op.output)
    f0, f1 = w.upsample
    oh, ow = w.out_hw
    for cb0, cbs, n, y0, rows, x0, cols in _blocked_tiles(w, t, blocks(w.c, cfg.lanes)):
        words = cbs * rows * cols
        h_out, w_out = min(f0 * rows, oh - f0 * y0), min(f1 * cols, ow - f1 * x0)
        lds = [
            load_box(cfg, ctx.act(name), n, cb0, cbs, y0, rows, x0, cols, dst=i * words)
            for i, name in enumerate(op.inputs)
        ]
        comp = tuple(
            Copy(
                (a * f1 + b) * words + (cb * rows + r // f0) * cols,
                (cb * h_out + r) * w_out + b,
                len(range(b, w_out, f1)),
                op.requant.multiplier[a * f1 + b],
                op.requant.shift[a * f1 + b],
                INT8_MIN,
                INT8_MAX,
                stride=f1,
            )
            for cb in range(cbs)
            for r in range(h_out)
            for a in (r % f0,)
            for b in range(min(f1, w_out))
        )
        yield Step(
            op.name,
            (Load("ibuf", ("in", op.name, cb0, n, y0, x0), tuple(lds)),),
            comp,
            (store_box(cfg, out, n, cb0, cbs, f0 * y0, h_out, f1 * x0, w_out),),
            new_output=True,
        )


def _mul_instrs(
    ctx: LowerCtx,
    w: Work,
    op: Mul,
    lds: list[Instr],
    n: int,
    cb0: int,
    cbs: int,
    ys: tuple[int, int],
    xs: tuple[int, int],
) -> tuple[Instr, ...]:
    """A MUL tile: the second operand's box after the first's in IBUF (a gate: its ``cbs`` words),
    then one MUL over the tile, or one per channel block against its gate word."""
    (oy0, rows), (ox0, cols) = ys, xs
    words, per = cbs * rows * cols, rows * cols
    gate = ctx.act(op.inputs[1])
    if w.broadcast:
        lds.append(load_box(ctx.cfg, gate, n, cb0, cbs, 0, 1, 0, 1, dst=words))
    else:
        lds.append(load_box(ctx.cfg, gate, n, cb0, cbs, oy0, rows, ox0, cols, dst=words))
    assert op.requant is not None and op.out_min is not None and op.out_max is not None
    m, s, lo, hi = op.requant.multiplier[0], op.requant.shift[0], op.out_min, op.out_max
    if not w.broadcast:
        return (MulI(0, words, 0, words, m, s, lo, hi),)
    return tuple(MulI(cb * per, words + cb, cb * per, per, m, s, lo, hi, 1) for cb in range(cbs))


STEPS = {
    WorkKind.GEMM: gemm_steps,
    WorkKind.DW: dw_steps,
    WorkKind.POOL: pool_steps,
    WorkKind.ADD: eltwise_steps,
    WorkKind.COPY: eltwise_steps,
    WorkKind.MUL: eltwise_steps,
    WorkKind.UPSAMPLE: upsample_steps,
    WorkKind.INTERLEAVE: interleave_steps,
}
