"""Step ``i`` of a depthwise, pooling, add, clamp or concat layer, in closed
form, for a batch of tilings (channel blocks x rows x columns, one step per
output tile).

Mirrors hwgen/lower_ops.py ``dw_steps``, ``pool_steps`` and
``eltwise_steps``: tiles in the order channel block, image, row, column;
a concat runs one such pass per input (its ``parts``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.workload import WorkKind

from .replay import LoadSlot, StepBatch
from .steps_gemm import WorkArrays, interior, run_after, tile_size

GAP = timing.ISSUE_GAP


@dataclass(frozen=True)
class BlockedTilings:
    """M candidate tilings: ``ct`` channel blocks x ``ty`` rows x ``tx`` columns."""

    ct: np.ndarray
    ty: np.ndarray
    tx: np.ndarray

    @staticmethod
    def of(ct: object, ty: object, tx: object) -> "BlockedTilings":
        a = [np.atleast_1d(np.asarray(v, dtype=np.int64)) for v in (ct, ty, tx)]
        m = max(len(x) for x in a)
        return BlockedTilings(*(np.broadcast_to(x, (m,)).copy() for x in a))


class BlockedSteps:
    """``n_steps`` and ``step_at(i)`` of M mappings of DW, POOL, ADD or COPY layers (all of
    ``kind``; ``w``: each one's layer).

    ``part_channels``: the channels of each pass of a concat (then every mapping is of that one
    layer); empty: one pass over the layer's channels."""

    def __init__(self, w: WorkArrays, kind: WorkKind, cfg: AccelConfig, t: BlockedTilings,
                 part_channels: tuple[int, ...] = ()) -> None:
        self.w, self.kind, self.cfg, self.t = w, kind, cfg, t
        L = cfg.lanes
        parts: list[np.ndarray] = [np.full_like(t.ct, c) for c in part_channels] or [
            w.c if kind in (WorkKind.DW, WorkKind.POOL, WorkKind.COPY) else w.k]
        self.YT, self.XT = -(-w.oy // t.ty), -(-w.ox // t.tx)
        self.part_cb = [-(-c // L) for c in parts]
        self.part_steps = [-(-cb // t.ct) * w.n * self.YT * self.XT for cb in self.part_cb]
        self.n_steps = sum(self.part_steps)

    def levels(self) -> list[np.ndarray]:
        """Units of the loop nest, innermost first: an output tile, a row, an image, a channel tile
        (only for one pass: a concat's passes differ)."""
        if len(self.part_cb) > 1:
            return []
        row = self.XT + 0 * self.t.ct
        return [1 + 0 * self.t.ct, row, row * self.YT, row * self.YT * self.w.n]

    def ahead(self, level: int, unit: np.ndarray) -> np.ndarray:
        """As GemmSteps.ahead: tiles away from the padding and the short last tile, every image,
        full channel tiles."""
        w, t = self.w, self.t
        if level == 0:
            lo, hi = interior(w.w, w.ox, t.tx, w.sx, w.px, w.fx, w.dx)
            return run_after(unit % self.XT, lo, hi)
        if level == 1:
            lo, hi = interior(w.h, w.oy, t.ty, w.sy, w.py, w.fy, w.dy)
            return run_after(unit % self.YT, lo, hi)
        if level == 2:
            return run_after(unit % w.n, 0, w.n - 1)
        cb = self.part_cb[0]
        ct_n = -(-cb // t.ct)
        return run_after(unit % ct_n, 0, np.where(cb % t.ct == 0, ct_n - 1, ct_n - 2))

    def step_at(self, i: np.ndarray) -> StepBatch:
        w, cfg, t, L = self.w, self.cfg, self.t, self.cfg.lanes
        part = np.zeros_like(t.ct)
        local = np.broadcast_to(np.asarray(i, np.int64), t.ct.shape).copy()
        cb_total = self.part_cb[0].copy()
        for j in range(1, len(self.part_steps)):
            later = local >= self.part_steps[j - 1]
            local = np.where(later, local - self.part_steps[j - 1], local)
            part = np.where(later, j, part)
            cb_total = np.where(later, self.part_cb[j], cb_total)
        c_t, rest = np.divmod(local, w.n * self.YT * self.XT)
        n, rest = np.divmod(rest, self.YT * self.XT)
        y_t, x_t = np.divmod(rest, self.XT)
        cbs = tile_size(c_t, t.ct, cb_total)
        rows, cols = tile_size(y_t, t.ty, w.oy), tile_size(x_t, t.tx, w.ox)
        words = cbs * rows * cols
        key = ((((part * (cb_total.max() + 1) + c_t) * w.n + n) * self.YT + y_t) * self.XT + x_t)
        one = np.ones(len(t.ct), bool)
        if self.kind in (WorkKind.ADD, WorkKind.COPY):
            n_in = 2 if self.kind is WorkKind.ADD else 1
            ld = LoadSlot(one, key, n_in * timing.dma_read_cycles(cfg, words) + (n_in - 1) * GAP, n_in * words * L,
                          n_in, "ibuf", n_in * words * L)
            cyc = timing.add_cycles(words) if n_in == 2 else timing.ppu_cycles(words)
            sram = {"ibuf": n_in * words * L, "obuf": 2 * words * L}
            return StepBatch([ld], np.zeros_like(words), 0, cyc, timing.dma_write_cycles(cfg, words), words * L,
                             sram=sram)
        sy, sx, py, px, dy, dx = w.sy, w.sx, w.py, w.px, w.dy, w.dx
        ny, nx = (rows - 1) * sy + (w.fy - 1) * dy + 1, (cols - 1) * sx + (w.fx - 1) * dx + 1
        y0, x0 = y_t * t.ty * sy - py, x_t * t.tx * sx - px
        real_y = np.clip(np.minimum(y0 + ny, w.h) - np.maximum(y0, 0), 0, None)
        real_x = np.clip(np.minimum(x0 + nx, w.w) - np.maximum(x0, 0), 0, None)
        real = cbs * real_y * real_x
        box = LoadSlot(one, key, timing.dma_read_cycles(cfg, real, cbs * ny * nx - real), real * L, 1, "ibuf",
                       cbs * ny * nx * L)
        taps = w.fy * w.fx
        if self.kind is WorkKind.POOL:
            sram = {"ibuf": words * taps * L, "obuf": 2 * words * L}
            return StepBatch([box], np.zeros_like(words), 0, timing.pool_cycles(words, taps),
                             timing.dma_write_cycles(cfg, words), words * L, sram=sram)
        assert self.kind is WorkKind.DW, self.kind
        G = -(-taps // L)
        pix = rows * cols
        w_words = cbs * G * L
        prm_words = cbs * cfg.pbuf_entry_bytes // cfg.word_bytes
        loads = [box, LoadSlot(one, c_t, timing.dma_read_cycles(cfg, w_words), w_words * L, 1, "wbuf", w_words * L),
                 LoadSlot(one, c_t, timing.dma_read_cycles(cfg, prm_words), prm_words * L, 1, "pbuf",
                          prm_words * L)]
        # G DW instructions a channel block, all taps; the last of each requantizes into OBUF (the
        # writer: from the first of them, after block 0's first G - 1).
        per_block = timing.dw_cycles(cfg, taps, pix) + (G - 1) * timing.DW_OVERHEAD + timing.RQ_DRAIN
        pre = (G - 1) * (timing.dw_cycles(cfg, L, pix) + GAP) - GAP * (G > 1)
        acc = cfg.acc_word_bytes
        sram = {"ibuf": cbs * taps * pix * L, "wbuf": w_words * L, "abuf": cbs * G * pix * 2 * acc,
                "pbuf": prm_words * L, "obuf": 2 * words * L}
        writer = cbs * per_block + (cbs * G - 1) * GAP - pre - GAP * (G > 1)
        return StepBatch(loads, pre + 0 * words, G - 1, writer, timing.dma_write_cycles(cfg, words), words * L,
                         busy_pe=cbs * taps * pix * L, sram=sram, writer_instrs=cbs * G - (G - 1))
