"""Step ``i`` of a GEMM layer's program, in closed form, for a batch of tilings.

Mirrors hwgen/lower_ops.py ``gemm_steps``: outputs (K tile x pixel tile, in
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

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.layout import blocks
from dian.hwgen.workload import Work

from .replay import LoadSlot, StepBatch

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

    @staticmethod
    def of(**cols: object) -> "GemmTilings":
        arrays = {k: np.atleast_1d(np.asarray(v, dtype=bool if k == "kout" else np.int64)) for k, v in cols.items()}
        m = max(len(a) for a in arrays.values())
        return GemmTilings(**{k: np.broadcast_to(a, (m,)).copy() for k, a in arrays.items()})


def tile_size(index: np.ndarray, tile: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """Size of tile ``index`` of ``extent`` cut into tiles of ``tile`` (the last may be short)."""
    return np.minimum(tile, extent - index * tile)


def run_after(index: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """How many indices after ``index`` stay in ``lo..hi``, when ``index - 1`` is in it too (else 0)."""
    return np.where((index - 1 >= lo) & (index <= hi), hi - index, 0)


def interior(size: np.ndarray, out: np.ndarray, tile: np.ndarray, stride: np.ndarray, pad: np.ndarray,
             taps: np.ndarray, dil: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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

    @staticmethod
    def of(works: list[Work], owner: np.ndarray) -> "WorkArrays":
        """Mapping ``m`` runs ``works[owner[m]]``."""
        rows = np.array([[w.n, w.c, w.k, w.h, w.w, w.oy, w.ox, w.fy, w.fx, *w.stride, *w.padding, *w.dilation]
                         for w in works], dtype=np.int64)[np.asarray(owner, np.int64)]
        return WorkArrays(*rows.T.copy())


class GemmSteps:
    """``n_steps`` and ``step_at(i)`` of M GEMM mappings (``w``: each one's layer)."""

    def __init__(self, w: WorkArrays, cfg: AccelConfig, t: GemmTilings) -> None:
        self.w, self.cfg, self.t = w, cfg, t
        L = cfg.lanes
        self.KB, self.CB = blocks(w.k, L), blocks(w.c, L)
        self.KT, self.CT = -(-self.KB // t.kt), -(-self.CB // t.ct)
        self.YT, self.XT = -(-w.oy // t.ty), -(-w.ox // t.tx)
        self.FYT, self.FXT = -(-w.fy // t.fyt), -(-w.fx // t.fxt)
        self.acc = self.CT * self.FYT * self.FXT
        self.pix = w.n * self.YT * self.XT
        self.n_steps = self.KT * self.pix * self.acc

    def levels(self) -> list[np.ndarray]:
        """Units of the loop nest, innermost first: an output tile, then (``kout``) a row of output
        tiles, an image, a K tile; (``pout``) all K tiles of a pixel tile, a row, an image."""
        t, A = self.t, self.acc
        inner = np.where(t.kout, A * self.XT, A * self.KT)
        return [A + 0 * t.kt, inner, np.where(t.kout, inner * self.YT, inner * self.XT),
                np.where(t.kout, inner * self.YT * self.w.n, inner * self.XT * self.YT)]

    def ahead(self, level: int, unit: np.ndarray) -> np.ndarray:
        """Units after ``unit`` identical to it, counted only when the unit before it is identical
        too (then the buffers' residency repeats from unit to unit): output tiles along x away
        from the padding and the short last tile, rows likewise, every image, full K tiles."""
        t, w = self.t, self.w
        x_lo, x_hi = interior(w.w, w.ox, t.tx, w.sx, w.px, w.fx, w.dx)
        y_lo, y_hi = interior(w.h, w.oy, t.ty, w.sy, w.py, w.fy, w.dy)
        k_hi = np.where(self.KB % t.kt == 0, self.KT - 1, self.KT - 2)  # the last full K tile
        x_run = run_after(unit % self.XT, x_lo, x_hi)
        if level == 0:
            return np.where(t.kout, x_run, run_after(unit % self.KT, 0, k_hi))
        y_run = run_after(unit % self.YT, y_lo, y_hi)
        if level == 1:
            return np.where(t.kout, y_run, x_run)
        n_run = run_after(unit % w.n, 0, w.n - 1)
        if level == 2:
            return np.where(t.kout, n_run, y_run)
        return np.where(t.kout, run_after(unit % self.KT, 0, k_hi), n_run)

    def step_at(self, i: np.ndarray) -> StepBatch:
        w, cfg, t, L = self.w, self.cfg, self.t, self.cfg.lanes
        o, a = np.divmod(i, self.acc)
        c_t, rest = np.divmod(a, self.FYT * self.FXT)
        fy_t, fx_t = np.divmod(rest, self.FXT)
        k_t = np.where(t.kout, o // np.maximum(self.pix, 1), o % self.KT)
        p = np.where(t.kout, o % np.maximum(self.pix, 1), o // self.KT)
        n, rest = np.divmod(p, self.YT * self.XT)
        y_t, x_t = np.divmod(rest, self.XT)
        kbs, cbs = tile_size(k_t, t.kt, self.KB), tile_size(c_t, t.ct, self.CB)
        rows, cols = tile_size(y_t, t.ty, w.oy), tile_size(x_t, t.tx, w.ox)
        fys, fxs = tile_size(fy_t, t.fyt, w.fy), tile_size(fx_t, t.fxt, w.fx)
        sy, sx, py, px, dy, dx = w.sy, w.sx, w.py, w.px, w.dy, w.dx
        ny, nx = (rows - 1) * sy + (fys - 1) * dy + 1, (cols - 1) * sx + (fxs - 1) * dx + 1
        y0 = y_t * t.ty * sy - py + fy_t * t.fyt * dy
        x0 = x_t * t.tx * sx - px + fx_t * t.fxt * dx
        real_y = np.clip(np.minimum(y0 + ny, w.h) - np.maximum(y0, 0), 0, None)
        real_x = np.clip(np.minimum(x0 + nx, w.w) - np.maximum(x0, 0), 0, None)
        real = cbs * real_y * real_x
        in_cycles = timing.dma_read_cycles(cfg, real, cbs * ny * nx - real)
        w_words = kbs * cbs * fys * fxs * L
        last = a == self.acc - 1
        prm_words = kbs * cfg.pbuf_entry_bytes // cfg.word_bytes
        ib_key = ((((n * self.YT + y_t) * self.XT + x_t) * self.CT + c_t) * self.FYT + fy_t) * self.FXT + fx_t
        wb_key = ((k_t * self.CT + c_t) * self.FYT + fy_t) * self.FXT + fx_t
        in_words = cbs * ny * nx
        loads = [
            LoadSlot(np.ones_like(last), ib_key, in_cycles, real * L, 1, "ibuf", in_words * L),
            LoadSlot(np.ones_like(last), wb_key, timing.dma_read_cycles(cfg, w_words), w_words * L, 1, "wbuf",
                     w_words * L),
            LoadSlot(last, k_t, timing.dma_read_cycles(cfg, prm_words), prm_words * L, 1, "pbuf", prm_words * L),
        ]
        pix = rows * cols
        nb = cbs * fys * fxs
        g = timing.gemm_cycles(cfg, nb, pix)
        out_words = kbs * pix
        acc = cfg.acc_word_bytes
        sram = {  # per GEMM: a pixel reads an IBUF word and read-modify-writes an ABUF word per block;
            # a block's L weight rows are read once. The last step's GEMMs read PBUF and write OBUF
            # (fused requantization); the store reads it.
            "ibuf": kbs * nb * pix * L,
            "wbuf": kbs * nb * L * L,
            "abuf": kbs * nb * pix * 2 * acc,
            "pbuf": np.where(last, prm_words * L, 0),
            "obuf": np.where(last, 2 * out_words * L, 0),
        }
        gemms = kbs * g + (kbs - 1) * GAP
        return StepBatch(  # the last step's GEMMs requantize into OBUF: they are the output's writer
            loads=loads,
            pre_cycles=np.where(last, 0, gemms),
            pre_instrs=np.where(last, 0, kbs),
            writer_cycles=np.where(last, gemms + kbs * timing.RQ_DRAIN, 0),
            writer_instrs=kbs,
            store_cycles=np.where(last, timing.dma_write_cycles(cfg, out_words), 0),
            store_bytes=out_words * L,
            busy_pe=kbs * nb * pix * L * L,
            sram=sram,
        )
