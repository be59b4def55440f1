"""Step ``i`` of a depthwise, pooling, add, clamp or concat layer, in closed
form, for a batch of tilings (channel blocks x rows x columns, one step per
output tile).

Mirrors hwgen/lower/op_steps.py ``dw_steps``, ``pool_steps`` and
``eltwise_steps``: tiles in the order channel block, image, row, column;
a concat runs one such pass per input (its ``parts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.isa import dw_keep
from dian.hwgen.lower.layout import dw_group_shape
from dian.hwgen.lower.workload import WorkKind

from .step_record import (
    ABUF,
    BUSY_PE,
    HEADER,
    IBUF,
    LBUF,
    LUT_CHANNEL,
    MAX_LEVELS,
    OBUF,
    PBUF,
    PRE,
    PRE_INSTRS,
    PRESENT,
    SLOT_FIELDS,
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
from .steps_gemm import WorkArrays, interior

GAP = timing.ISSUE_GAP


@dataclass(frozen=True)
class BlockedTilings:
    """M candidate tilings: ``ct`` channel blocks x ``ty`` rows x ``tx`` columns."""

    ct: np.ndarray
    ty: np.ndarray
    tx: np.ndarray


# Columns of a blocked mapping's row (after step_record's header), then each pass's channel
# blocks and steps (``PARTS`` of them).
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
    CT_,
    TY,
    TX,
    YT,
    XT,
    X_LO,
    X_HI,
    Y_LO,
    Y_HI,
    KEY_CB,
    LUT,
    BCAST,
    UY,
    UX,
    OH,
    OW,
    GY,
    GX,
    PARTS,
    PART,
) = range(HEADER, HEADER + 33)
KIND_CODES = {
    WorkKind.DW: 1,
    WorkKind.POOL: 2,
    WorkKind.ADD: 3,
    WorkKind.COPY: 4,
    WorkKind.MUL: 5,
    WorkKind.UPSAMPLE: 6,
    WorkKind.INTERLEAVE: 7,
}
DW, POOL, ADD, MUL, UPSAMPLE, INTERLEAVE = 1, 2, 3, 5, 6, 7


class BlockedSteps:
    """The table of M mappings of DW, POOL, ADD or COPY layers (all of ``kind``; ``w``: each one's
    layer) the replay runs with :func:`blocked_step` and :func:`blocked_ahead`.

    ``part_channels``: the channels of each pass of a concat (then every mapping is of that one
    layer); empty: one pass over the layer's channels."""

    def __init__(
        self, w: WorkArrays, kind: WorkKind, cfg: AccelConfig, t: BlockedTilings, part_channels: tuple[int, ...] = ()
    ) -> None:
        self.kind = KIND_CODES[kind]
        L = cfg.lanes
        parts: list[np.ndarray] = [np.full_like(t.ct, c) for c in part_channels] or [
            w.c
            if kind in (WorkKind.DW, WorkKind.POOL, WorkKind.COPY, WorkKind.MUL, WorkKind.UPSAMPLE, WorkKind.INTERLEAVE)
            else w.k
        ]
        YT, XT = -(-w.oy // t.ty), -(-w.ox // t.tx)
        part_cb = [-(-c // L) for c in parts]
        part_steps = [-(-cb // t.ct) * w.n * YT * XT for cb in part_cb]
        self.n_steps = sum(part_steps)
        # The loop nest's units, innermost first: an output tile, a row, an image, a channel tile
        # (only for one pass: a concat's passes differ).
        row = XT + 0 * t.ct
        levels = [1 + 0 * t.ct, row, row * YT, row * YT * w.n]
        x_lo, x_hi = interior(w.w, w.ox, t.tx, w.sx, w.px, w.fx, w.dx)
        y_lo, y_hi = interior(w.h, w.oy, t.ty, w.sy, w.py, w.fy, w.dy)
        key_cb = np.max(part_cb, axis=0) + 1  # a tile's key: (pass, channel tile, image, row, column)
        cols = [
            self.n_steps,
            np.full_like(t.ct, 0 if len(parts) > 1 else MAX_LEVELS),
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
            t.ct,
            t.ty,
            t.tx,
            YT,
            XT,
            x_lo,
            x_hi,
            y_lo,
            y_hi,
            key_cb,
            w.lut,
            w.bcast,
            w.uy,
            w.ux,
            w.oh,
            w.ow,
            *_dw_group_shape(w, cfg, t.ct),
            np.full_like(t.ct, len(parts)),
            *(v for cb, n in zip(part_cb, part_steps, strict=True) for v in (cb, n)),
        ]
        self.table = np.ascontiguousarray(np.stack([np.asarray(c, np.int64) for c in cols], axis=1))


def _dw_group_shape(w: WorkArrays, cfg: AccelConfig, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest DW tap group (rows, columns) of each mapping's kernel (hwgen/lower/layout.py)."""
    shape = [
        dw_group_shape(int(a), int(b), int(d), cfg.lanes, cfg.ibuf_banks)
        for a, b, d in zip(w.fy, w.fx, w.dy, strict=True)
    ]
    gy, gx = (np.asarray([s[i] for s in shape], np.int64) + 0 * like for i in (0, 1))
    return gy, gx


@njit(inline="always")
def blocked_ahead(r: np.ndarray, level: int, unit: int) -> int:
    """As gemm_ahead: tiles away from the padding and the short last tile, every image, full
    channel tiles."""
    if level == 0:
        return run_after(unit % r[XT], r[X_LO], r[X_HI])
    if level == 1:
        return run_after(unit % r[YT], r[Y_LO], r[Y_HI])
    if level == 2:
        return run_after(unit % r[N], 0, r[N] - 1)
    cb = r[PART]
    ct_n = -(-cb // r[CT_])
    return run_after(unit % ct_n, 0, ct_n - 1 if cb % r[CT_] == 0 else ct_n - 2)


@njit(inline="always")
def interleave_step(
    r: np.ndarray, cfg: CfgView, rec: np.ndarray, key: int, y0: int, x0: int, cbs: int, rows: int, cols: int
) -> None:
    """INTERLEAVE's tile of the phase grid: every phase's tile loaded (padded past that phase's
    edge), a COPY per channel block, output row and column phase, the woven block stored."""
    L, f0, f1 = cfg.lanes, r[UY], r[UX]
    words = cbs * rows * cols
    cycles, real_words = (f0 * f1 - 1) * GAP, 0
    for a in range(f0):
        ry = max(min(y0 + rows, -(-(r[OH] - a) // f0)) - y0, 0)
        for b in range(f1):
            real = cbs * ry * max(min(x0 + cols, -(-(r[OW] - b) // f1)) - x0, 0)
            cycles += timing.dma_read_cycles(cfg, real, words - real)
            real_words += real
    load(rec, 0, 1, key, cycles, real_words * L, f0 * f1, IBUF, f0 * f1 * words * L)
    h_out, w_out = min(f0 * rows, r[OH] - f0 * y0), min(f1 * cols, r[OW] - f1 * x0)
    per_row, n_b = 0, min(f1, w_out)
    for b in range(n_b):
        per_row += timing.ppu_cycles(-(-(w_out - b) // f1), cfg.ppu_rate)
    copies, out = cbs * h_out * n_b, cbs * h_out * w_out
    rec[WRITER] = cbs * h_out * per_row + (copies - 1) * GAP
    rec[WRITER_INSTRS] = copies
    rec[STORE], rec[STORE_BYTES] = timing.dma_write_cycles(cfg, out), out * L
    rec[SRAM + IBUF], rec[SRAM + OBUF] = out * L, 2 * out * L


@njit(inline="always")
def blocked_step(kind: int, r: np.ndarray, i: int, cfg: CfgView, rec: np.ndarray) -> None:
    """Step ``i`` (one output tile) of the mapping of row ``r``, into ``rec`` (step_record's layout)."""
    L = cfg.lanes
    part, local, cb_total = 0, i, r[PART]
    for j in range(1, r[PARTS]):
        if local >= r[PART + 2 * j - 1]:
            local, part, cb_total = local - r[PART + 2 * j - 1], j, r[PART + 2 * j]
    c_t, rest = split(local, r[N] * r[YT] * r[XT])
    n, rest = split(rest, r[YT] * r[XT])
    y_t, x_t = split(rest, r[XT])
    cbs = min(r[CT_], cb_total - c_t * r[CT_])
    rows, cols = min(r[TY], r[OY] - y_t * r[TY]), min(r[TX], r[OX] - x_t * r[TX])
    words = cbs * rows * cols
    key = (((part * r[KEY_CB] + c_t) * r[N] + n) * r[YT] + y_t) * r[XT] + x_t
    rec[PRE], rec[PRE_INSTRS], rec[WRITER_INSTRS], rec[BUSY_PE] = 0, 0, 1, 0
    rec[SLOT_FIELDS + PRESENT], rec[2 * SLOT_FIELDS + PRESENT] = 0, 0  # a DW step's weights and parameters below
    rec[STORE], rec[STORE_BYTES] = timing.dma_write_cycles(cfg, words), words * L
    rec[SRAM + ABUF], rec[SRAM + WBUF], rec[SRAM + PBUF] = 0, 0, 0
    rec[SRAM + OBUF] = 2 * words * L
    lut = lut_load(rec, cfg, r[LUT], True, c_t, cbs)
    rec[SRAM + LBUF] = words * L if lut else 0  # each OBUF word read one LBUF byte a lane
    if kind == UPSAMPLE:  # one COPY per channel block, input row and repeat; the output uy x ux larger
        uy, ux = r[UY], r[UX]
        load(rec, 0, 1, key, timing.dma_read_cycles(cfg, words), words * L, 1, IBUF, words * L)
        copies, out = cbs * rows * uy, words * uy * ux
        rec[WRITER] = copies * timing.ppu_cycles(cols * ux, cfg.ppu_rate) + (copies - 1) * GAP
        rec[WRITER_INSTRS] = copies
        rec[STORE], rec[STORE_BYTES] = timing.dma_write_cycles(cfg, out), out * L
        rec[SRAM + IBUF], rec[SRAM + OBUF] = out * L, 2 * out * L
        return
    if kind == INTERLEAVE:
        interleave_step(r, cfg, rec, key, y_t * r[TY], x_t * r[TX], cbs, rows, cols)
        return
    if kind == MUL:  # two input tiles (the second a gate word per channel block), no window
        gate = cbs if r[BCAST] else words
        cyc = timing.dma_read_cycles(cfg, words) + GAP + timing.dma_read_cycles(cfg, gate)
        load(rec, 0, 1, key, cyc, (words + gate) * L, 2, IBUF, (words + gate) * L)
        if r[BCAST]:  # one MUL per channel block
            rec[WRITER] = cbs * (timing.mul_cycles(rows * cols, cfg.ppu_rate) + lut) + (cbs - 1) * GAP
            rec[WRITER_INSTRS] = cbs
        else:
            rec[WRITER] = timing.mul_cycles(words, cfg.ppu_rate) + lut
        rec[SRAM + IBUF] = 2 * words * L
        return
    if kind >= ADD:  # ADD or COPY: one or two input tiles, no window
        n_in = 2 if kind == ADD else 1
        load(
            rec,
            0,
            1,
            key,
            n_in * timing.dma_read_cycles(cfg, words) + (n_in - 1) * GAP,
            n_in * words * L,
            n_in,
            IBUF,
            n_in * words * L,
        )
        if r[LUT] == LUT_CHANNEL:  # one COPY per channel block, each with its table
            rec[WRITER] = cbs * (timing.ppu_cycles(rows * cols, cfg.ppu_rate) + lut) + (cbs - 1) * GAP
            rec[WRITER_INSTRS] = cbs
        else:
            rec[WRITER] = (timing.add_cycles(words) if kind == ADD else timing.ppu_cycles(words, cfg.ppu_rate)) + lut
        rec[SRAM + IBUF] = n_in * words * L
        return
    ny, nx = (rows - 1) * r[SY] + (r[FY] - 1) * r[DY] + 1, (cols - 1) * r[SX] + (r[FX] - 1) * r[DX] + 1
    if kind == DW and r[GY] > 1 and nx % 2 == 0:  # the IBUF row pitch of a multi-row tap group is odd
        nx += 1
    y0, x0 = y_t * r[TY] * r[SY] - r[PY], x_t * r[TX] * r[SX] - r[PX]
    real_y = max(min(y0 + ny, r[H]) - max(y0, 0), 0)
    real_x = max(min(x0 + nx, r[W]) - max(x0, 0), 0)
    real = cbs * real_y * real_x
    load(rec, 0, 1, key, timing.dma_read_cycles(cfg, real, cbs * ny * nx - real), real * L, 1, IBUF, cbs * ny * nx * L)
    taps = r[FY] * r[FX]
    if kind == POOL:
        rec[WRITER] = timing.pool_cycles(words, taps, cfg.ppu_rate) + lut
        rec[SRAM + IBUF] = words * taps * L
        return
    dw_step(r, cfg, rec, c_t, cbs, rows, cols, lut)


@njit(inline="always")
def dw_step(r: np.ndarray, cfg: CfgView, rec: np.ndarray, c_t: int, cbs: int, rows: int, cols: int, lut: int) -> None:
    """A DW step's weights, parameters and instructions: per channel block one DW per tap group
    (rectangles of at most GY x GX taps, row-major), the last one requantizing into OBUF."""
    L, taps, pix = cfg.lanes, r[FY] * r[FX], rows * cols
    g_y, g_x = -(-r[FY] // r[GY]), -(-r[FX] // r[GX])
    G = g_y * g_x
    columns, run, keep = 0, 0, 0  # the window columns of one run of kernel rows (over its column runs), of the last run
    for xg in range(g_x):
        gx = min(r[GX], r[FX] - xg * r[GX])
        s_fx, s_ox = r[DX] if gx > 1 else 0, r[SX] if cols > 1 else 0
        keep = dw_keep(gx, s_fx, s_ox)
        run = timing.dw_columns(rows, cols, gx, keep)
        columns += run
    gy, gx = r[FY] - (g_y - 1) * r[GY], r[FX] - (g_x - 1) * r[GX]  # the last group's rows and columns
    # The last DW requantizes: at ppu_rate > 1 its pixels are paced (more columns' cycles).
    paced = timing.dw_columns(rows, cols, gx, keep, cfg.ppu_rate) - run
    last = timing.dw_cycles(cfg, gy * gx, run + paced)
    every = taps + g_y * columns + paced + G * timing.DW_OVERHEAD  # the G DW instructions of a block
    w_words = cbs * G * L
    prm_words = cbs * cfg.pbuf_entry_bytes // cfg.word_bytes
    load(rec, 1, 1, c_t, timing.dma_read_cycles(cfg, w_words), w_words * L, 1, WBUF, w_words * L)
    load(rec, 2, 1, c_t, timing.dma_read_cycles(cfg, prm_words), prm_words * L, 1, PBUF, prm_words * L)
    # The writer: from the first OBUF writer (block 0's last DW) on, after block 0's first G - 1.
    per_block = every + timing.rq_drain(cfg.ppu_rate)
    pre = (every - last) + (G - 2) * GAP * (G > 1)
    acc = cfg.acc_word_bytes
    rec[PRE], rec[PRE_INSTRS] = pre, G - 1
    rec[WRITER] = cbs * (per_block + lut) + (cbs * G - 1) * GAP - pre - GAP * (G > 1)
    rec[WRITER_INSTRS] = cbs * G - (G - 1)
    rec[BUSY_PE] = cbs * taps * pix * L
    rec[SRAM + IBUF], rec[SRAM + WBUF] = cbs * r[FY] * columns * L, w_words * L
    rec[SRAM + ABUF], rec[SRAM + PBUF] = cbs * G * pix * 2 * acc, prm_words * L
