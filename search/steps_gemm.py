"""Step ``i`` of a GEMM layer's program, in closed form, for a batch of tilings.

Mirrors hwgen/lower/op_steps.py ``gemm_steps``: outputs (K tile x pixel tile, in
``kout`` or ``pout`` order) times accumulation steps (C tile x kernel-row
tile x kernel-column tile, innermost). A step loads its input box (IBUF),
its weight tile (WBUF) and, on the last accumulation step, the output
tile's parameters (PBUF); it runs one GEMM per K block (on the last step
with the requantization fused: they write the output tile to OBUF) and, on
the last step, the store of the output tile. Durations are hwgen/timing.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower.layout import blocks
from dian.hwgen.lower.workload import Work

from .step_record import (
    ABUF,
    BUSY_PE,
    HEADER,
    IBUF,
    LBUF,
    LUT_CHANNEL,
    LUT_NONE,
    LUT_TENSOR,
    MAX_LEVELS,
    OBUF,
    PBUF,
    PRE,
    PRE_INSTRS,
    SRAM,
    STORE,
    STORE_BYTES,
    WBUF,
    WRITER,
    WRITER_INSTRS,
    CfgView,
    load,
    lut_load,
    run_after,
    split,
)

GAP = timing.ISSUE_GAP


@dataclass(frozen=True)
class GemmTilings:
    """M candidate tilings: channel tiles in blocks, pixel tiles in pixels, ``kout`` = K tiles outermost."""

    kt: np.ndarray
    ct: np.ndarray
    ty: np.ndarray
    tx: np.ndarray
    fyt: np.ndarray
    fxt: np.ndarray
    kout: np.ndarray


def interior(
    size: np.ndarray,
    out: np.ndarray,
    tile: np.ndarray,
    stride: np.ndarray,
    pad: np.ndarray,
    taps: np.ndarray,
    dil: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of the full output tiles whose input span (every kernel tap of
    every output) lies inside the ``size`` input rows or columns: no padding, no short tile."""
    span = (tile - 1) * stride + (taps - 1) * dil + 1
    lo = -(-pad // (tile * stride))
    hi = np.minimum(out // tile - 1, (size + pad - span) // (tile * stride))
    return lo, hi


@dataclass(frozen=True)
class WorkArrays:
    """The loop bounds of M mappings' layers, one entry per mapping (several layers can share
    one replay: every formula here is elementwise)."""

    n: np.ndarray
    c: np.ndarray
    k: np.ndarray
    h: np.ndarray
    w: np.ndarray
    oy: np.ndarray
    ox: np.ndarray
    fy: np.ndarray
    fx: np.ndarray
    sy: np.ndarray
    sx: np.ndarray
    py: np.ndarray
    px: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    lut: np.ndarray  # step_record's LUT_* mode
    bcast: np.ndarray  # MUL by a per-channel gate
    uy: np.ndarray  # UPSAMPLE's and INTERLEAVE's factors
    ux: np.ndarray
    oh: np.ndarray  # INTERLEAVE's woven output size
    ow: np.ndarray

    @staticmethod
    def of(works: list[Work], owner: np.ndarray) -> WorkArrays:
        """Mapping ``m`` runs ``works[owner[m]]``."""
        rows = np.array(
            [
                [
                    w.n,
                    w.c,
                    w.k,
                    w.h,
                    w.w,
                    w.oy,
                    w.ox,
                    w.fy,
                    w.fx,
                    *w.stride,
                    *w.padding,
                    *w.dilation,
                    lut_mode(w),
                    w.broadcast,
                    *w.upsample,
                    *w.out_hw,
                ]
                for w in works
            ],
            dtype=np.int64,
        )[np.asarray(owner, np.int64)]
        return WorkArrays(*rows.T.copy())


def lut_mode(w: Work) -> int:
    if w.lut is None:
        return LUT_NONE
    return LUT_CHANNEL if w.lut_per_channel else LUT_TENSOR


# Columns of a GEMM mapping's row (after step_record's header).
_COLS = (
    "n",
    "h",
    "w",
    "oy",
    "ox",
    "fy",
    "fx",
    "sy",
    "sx",
    "py",
    "px",
    "dy",
    "dx",
    "kt",
    "ct",
    "ty",
    "tx",
    "fyt",
    "fxt",
    "kout",
    "KB",
    "CB",
    "KT",
    "CT",
    "YT",
    "XT",
    "FYT",
    "FXT",
    "acc",
    "pix",
    "x_lo",
    "x_hi",
    "y_lo",
    "y_hi",
    "k_hi",
    "lut",
)
(
    N,
    H,
    W,
    OY,
    OX,
    FY,
    FX,
    SY,
    SX,
    PY,
    PX,
    DY,
    DX,
    KT_,
    CT_,
    TY,
    TX,
    FYT_,
    FXT_,
    KOUT,
    KB,
    CB,
    KT,
    CT,
    YT,
    XT,
    FYT,
    FXT,
    ACC,
    PIX,
    X_LO,
    X_HI,
    Y_LO,
    Y_HI,
    K_HI,
    LUT,
) = range(HEADER, HEADER + len(_COLS))


class GemmSteps:
    """The table of M GEMM mappings (``w``: each one's layer) the replay runs with :func:`gemm_step`
    and :func:`gemm_ahead`: one row each, step_record's header then ``_COLS``."""

    kind = 0

    def __init__(self, w: WorkArrays, cfg: AccelConfig, t: GemmTilings) -> None:
        L = cfg.lanes
        KB, CB = blocks(w.k, L), blocks(w.c, L)
        KT, CT = -(-KB // t.kt), -(-CB // t.ct)
        YT, XT = -(-w.oy // t.ty), -(-w.ox // t.tx)
        FYT, FXT = -(-w.fy // t.fyt), -(-w.fx // t.fxt)
        acc = CT * FYT * FXT
        pix = w.n * YT * XT
        self.n_steps = KT * pix * acc
        # The loop nest's units, innermost first: an output tile, then (kout) a row of output tiles,
        # an image, a K tile; (pout) all K tiles of a pixel tile, a row, an image.
        inner = np.where(t.kout, acc * XT, acc * KT)
        levels = [
            acc,
            inner,
            np.where(t.kout, inner * YT, inner * XT),
            np.where(t.kout, inner * YT * w.n, inner * XT * YT),
        ]
        x_lo, x_hi = interior(w.w, w.ox, t.tx, w.sx, w.px, w.fx, w.dx)
        y_lo, y_hi = interior(w.h, w.oy, t.ty, w.sy, w.py, w.fy, w.dy)
        k_hi = np.where(KB % t.kt == 0, KT - 1, KT - 2)  # the last full K tile
        cols = [
            self.n_steps,
            np.full_like(acc, MAX_LEVELS),
            *levels,
            w.n,
            w.h,
            w.w,
            w.oy,
            w.ox,
            w.fy,
            w.fx,
            w.sy,
            w.sx,
            w.py,
            w.px,
            w.dy,
            w.dx,
            t.kt,
            t.ct,
            t.ty,
            t.tx,
            t.fyt,
            t.fxt,
            t.kout,
            KB,
            CB,
            KT,
            CT,
            YT,
            XT,
            FYT,
            FXT,
            acc,
            pix,
            x_lo,
            x_hi,
            y_lo,
            y_hi,
            k_hi,
            w.lut,
        ]
        self.table = np.ascontiguousarray(np.stack([np.asarray(c, np.int64) for c in cols], axis=1))


@njit(inline="always")
def gemm_ahead(r: np.ndarray, level: int, unit: int) -> int:
    """Units after ``unit`` identical to it, counted only when the unit before it is identical
    too (then the buffers' residency repeats from unit to unit): output tiles along x away
    from the padding and the short last tile, rows likewise, every image, full K tiles."""
    kout = r[KOUT] != 0
    x_run = run_after(unit % r[XT], r[X_LO], r[X_HI])
    k_run = run_after(unit % r[KT], 0, r[K_HI])
    if level == 0:
        return x_run if kout else k_run
    y_run = run_after(unit % r[YT], r[Y_LO], r[Y_HI])
    if level == 1:
        return y_run if kout else x_run
    n_run = run_after(unit % r[N], 0, r[N] - 1)
    if level == 2:
        return n_run if kout else y_run
    return k_run if kout else n_run


@njit(inline="always")
def gemm_step(r: np.ndarray, i: int, cfg: CfgView, rec: np.ndarray) -> None:
    """Step ``i`` of the mapping of row ``r``, into ``rec`` (step_record's layout)."""
    L = cfg.lanes
    o, a = split(i, r[ACC])
    c_t, rest = split(a, r[FYT] * r[FXT])
    fy_t, fx_t = split(rest, r[FXT])
    if r[KOUT]:
        k_t, p = split(o, max(r[PIX], 1))
    else:
        p, k_t = split(o, r[KT])
    n, rest = split(p, r[YT] * r[XT])
    y_t, x_t = split(rest, r[XT])
    kbs, cbs = min(r[KT_], r[KB] - k_t * r[KT_]), min(r[CT_], r[CB] - c_t * r[CT_])
    rows, cols = min(r[TY], r[OY] - y_t * r[TY]), min(r[TX], r[OX] - x_t * r[TX])
    fys, fxs = min(r[FYT_], r[FY] - fy_t * r[FYT_]), min(r[FXT_], r[FX] - fx_t * r[FXT_])
    ny, nx = (rows - 1) * r[SY] + (fys - 1) * r[DY] + 1, (cols - 1) * r[SX] + (fxs - 1) * r[DX] + 1
    y0 = y_t * r[TY] * r[SY] - r[PY] + fy_t * r[FYT_] * r[DY]
    x0 = x_t * r[TX] * r[SX] - r[PX] + fx_t * r[FXT_] * r[DX]
    real_y = max(min(y0 + ny, r[H]) - max(y0, 0), 0)
    real_x = max(min(x0 + nx, r[W]) - max(x0, 0), 0)
    real = cbs * real_y * real_x
    in_words = cbs * ny * nx
    w_words = kbs * cbs * fys * fxs * L
    last = a == r[ACC] - 1
    prm_words = kbs * cfg.pbuf_entry_bytes // cfg.word_bytes
    ib_key = ((((n * r[YT] + y_t) * r[XT] + x_t) * r[CT] + c_t) * r[FYT] + fy_t) * r[FXT] + fx_t
    wb_key = ((k_t * r[CT] + c_t) * r[FYT] + fy_t) * r[FXT] + fx_t
    load(rec, 0, 1, ib_key, timing.dma_read_cycles(cfg, real, in_words - real), real * L, 1, IBUF, in_words * L)
    load(rec, 1, 1, wb_key, timing.dma_read_cycles(cfg, w_words), w_words * L, 1, WBUF, w_words * L)
    load(rec, 2, 1 if last else 0, k_t, timing.dma_read_cycles(cfg, prm_words), prm_words * L, 1, PBUF, prm_words * L)
    lut = lut_load(rec, cfg, r[LUT], last, k_t, kbs)
    pix = rows * cols
    nb = cbs * fys * fxs
    out_words = kbs * pix
    acc = cfg.acc_word_bytes
    gemms = kbs * timing.gemm_cycles(cfg, nb, pix) + (kbs - 1) * GAP
    # The last step's GEMMs requantize into OBUF (each drains, and paces its last block to the
    # requantizer's rate): they are the output's writer; the others' GEMMs come before any writer.
    rec[PRE], rec[PRE_INSTRS] = (0, 0) if last else (gemms, kbs)
    rec[WRITER] = gemms + kbs * (timing.gemm_rq_cycles(pix, cfg.ppu_rate) + lut) if last else 0
    rec[WRITER_INSTRS] = kbs
    rec[STORE] = timing.dma_write_cycles(cfg, out_words) if last else 0
    rec[STORE_BYTES] = out_words * L
    rec[BUSY_PE] = kbs * nb * pix * L * L
    # Per GEMM: a pixel reads an IBUF word and read-modify-writes an ABUF word per block; a block's
    # L weight rows are read once. The last step's GEMMs read PBUF and write OBUF (fused
    # requantization); the store reads it.
    rec[SRAM + IBUF] = kbs * nb * pix * L
    rec[SRAM + WBUF] = kbs * nb * L * L
    rec[SRAM + ABUF] = kbs * nb * pix * 2 * acc
    rec[SRAM + PBUF] = prm_words * L if last else 0
    rec[SRAM + OBUF] = 2 * out_words * L if last else 0
    rec[SRAM + LBUF] = out_words * L if last and lut else 0
