"""The depthwise steps of a stage-P2 fused block (fusion.py; docs/accelerator.md, "Fusion buffer"):
the 1x1 expand GEMM runs inside the block and its output goes to FBUF, never to DRAM.

Per band of depthwise output rows and group of ``ct`` expanded channel blocks, one step loads the
block input's rows under the band (all its channel blocks, the halo rows included: the overlap of
two bands is recomputed, not kept), the group's expand and depthwise weights and parameters; then
for each channel block of the group

1. one GEMM expands the rows and requantizes them into FBUF (``ofb``) at the depthwise input's odd
   pitch (its output strides are ABUF's: ``d_oy`` = the pitch), inside the padding columns;
2. the depthwise groups read that region (``sfb``), as they would an IBUF tile, and the last one
   requantizes into the band's depthwise output in FBUF (``ofb``), as in stage P1.

One region holds one channel block: it is written and read before the next block's GEMM (the CMP
engine runs in order). Its padding (the rows and columns outside the input) must hold 0, the pad
value: a GEMM whose clamp is ``[0, 0]`` writes it (whatever its operands), over the whole region
before the block's first band, and over the bottom rows a band's input leaves past the tensor (an
earlier band wrote them); the expand GEMMs write only the rows and columns inside.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dian.ir import Conv2d

from ..isa import Dw, Gemm, Instr, LoadPrm, LoadWgt
from .fusion import FusedBlock, expand_chunks, expand_region
from .layout import blocks, dense_conv_weights, dw_groups, gemm_blocks
from .op_steps import LowerCtx, _dw_walk, _fused, _params, _ranges, _step, load_box
from .program import Load, Step

#: Makes the depthwise steps of one band ``(n, oy0, rows, base)``: its output at FBUF word ``base``.
BandSteps = Callable[[int, int, int, int], list[Step]]


def expand_bands(ctx: LowerCtx, b: FusedBlock, region: int, waddr_d: int, pd: int) -> BandSteps:
    """The band maker of stage-P2 block ``b`` whose expand region starts at FBUF word ``region`` (after
    the depthwise bands and the projection tile), the depthwise weight blocks and parameters placed at
    DRAM ``waddr_d`` and ``pd``; the first band it makes clears the region."""
    cfg, L = ctx.cfg, ctx.cfg.lanes
    ex, dw, t = b.expand, b.dw, b.tiling
    assert ex is not None
    eop, dop = ex.op, dw.op
    assert isinstance(eop, Conv2d) and isinstance(dop, Conv2d)
    (sy, _), (py, px), (dy, dx) = dw.stride, dw.padding, dw.dilation
    groups = dw_groups(dw.fy, dw.fx, dy, L, cfg.ibuf_banks)
    G, kbi, wo = len(groups), blocks(ex.c, L), dw.ox
    NY, pitch = expand_region(dw, t.rows, cfg)
    wex = gemm_blocks(dense_conv_weights(ctx.graph.constants[eop.weight], 1), L)
    waddr_e = ctx.place(np.ascontiguousarray(wex).view(np.uint8).reshape(-1), f"weights of {eop.name}")
    pe = _params(ctx, eop, ex.k)
    x = ctx.act(eop.inputs[0])
    a_e = t.ct * t.rows * wo  # ABUF words of the expand GEMM, after the depthwise sums
    eb = cfg.pbuf_entry_bytes
    ec, cc = expand_chunks(dw, t.rows, t.ct, cfg)  # region rows an expand GEMM, a clear covers (ABUF)
    cleared = [False]

    def clear(r0: int, r1: int, at: int = 0, width: int = pitch) -> list[Instr]:
        """Writes 0 (the pad value) to ``width`` words from column ``at`` of region rows ``r0 .. r1 -
        1`` (on into the next row), ``cc`` rows a GEMM: any operands, a ``[0, 0]`` clamp."""
        return [
            Gemm(
                0,
                0,
                a_e,
                1,
                1,
                1,
                1,
                n,
                width,
                0,
                0,
                0,
                0,
                0,
                _step(n, pitch),
                _step(width, 1),
                1,
                region + r * pitch + at,
                0,
                0,
                0,
                ofb=1,
            )
            for r, n in ((r, min(cc, r1 - r)) for r in range(r0, r1, cc))
            if width
        ]

    def first_clear(r0: int) -> list[Instr]:
        """Before the first band: the rows above the tensor (``r0``), then the padding columns of
        every row: a row's right ones and the next row's left ones are ``pitch - W`` words in a row
        (the last row's run ends ``px`` words past the region: FBUF keeps them spare)."""
        return clear(0, r0) + clear(0, 1, 0, px) + clear(0, NY, px + dw.w, pitch - dw.w)

    def band(n: int, oy0: int, rows: int, base: int) -> list[Step]:
        iy0 = oy0 * sy - py  # the tensor row of region row 0
        ny = (rows - 1) * sy + (dw.fy - 1) * dy + 1
        r0, r1 = max(0, -iy0), min(ny, dw.h - iy0)  # the region rows inside the tensor
        fills = (first_clear(r0) if not cleared[0] else []) + clear(r1, ny)
        cleared[0] = True
        plane = rows * wo
        out = []
        for cb0, cbs in _ranges(blocks(dw.k, L), t.ct):
            loads = (
                Load("ibuf", ("in", b.name, n, oy0), (load_box(cfg, x, n, 0, kbi, iy0 + r0, r1 - r0, 0, dw.w),)),
                Load(
                    "wbuf",
                    ("w", b.name, cb0),
                    (
                        LoadWgt(waddr_e + cb0 * kbi * L * L, 0, cbs * kbi * L),
                        LoadWgt(waddr_d + cb0 * G * L * L, cbs * kbi * L, cbs * G * L),
                    ),
                ),
                Load("pbuf", ("p", b.name, cb0), (LoadPrm(pe + cb0 * eb, 0, cbs), LoadPrm(pd + cb0 * eb, cbs, cbs))),
            )
            comp: list[Instr] = fills
            fills = []
            nr = r1 - r0
            for cb in range(cbs):
                comp += [  # the rows in chunks of ec (ABUF): the IBUF box's rows r - r0 .. r - r0 + n - 1
                    Gemm(
                        cb * kbi * L,
                        (r - r0) * dw.w,
                        a_e,
                        1,
                        kbi,
                        1,
                        1,
                        n,
                        dw.w,
                        _step(kbi, nr * dw.w),
                        0,
                        0,
                        _step(n, dw.w),
                        _step(dw.w, 1),
                        _step(n, pitch),
                        _step(dw.w, 1),
                        *_fused(eop, True, region + r * pitch + px, cb),
                        ofb=1,
                    )
                    for r, n in ((r, min(ec, r1 - r)) for r in range(r0, r1, ec))
                ]
                comp += [
                    Dw(
                        (cbs * kbi + cb * G + g) * L,
                        region + fy0 * dy * pitch + fx0 * dx,
                        cb * plane,
                        int(g == 0),
                        *_dw_walk(gy, gx, dy, dx, pitch, rows, wo, sy, dw.stride[1]),
                        *_fused(dop, g == G - 1, base + (cb0 + cb) * plane, cbs + cb),
                        ofb=int(g == G - 1),
                        sfb=1,
                    )
                    for g, (fy0, gy, fx0, gx) in enumerate(groups)
                ]
            out.append(Step(b.name, loads, tuple(comp), new_output=True))
        return out

    return band
