"""Tile-size search: for one :class:`Work`, every candidate tiling that fits
the buffers, scored by a first-order analytic model, on a numpy grid.

Buffer rules (one half of every double buffer; docs/accelerator.md):

* GEMM: IBUF ``ct x in_y x in_x`` words (the input box of the taps of one
  accumulation step, halo included), WBUF ``kt x ct x fyt x fxt`` blocks of L
  words, ABUF and OBUF ``kt x ty x tx`` words, PBUF ``kt`` entries;
* DW: IBUF ``cbt x in_y x pitch`` (whole window; the row pitch ``in_x``, made
  odd when a tap group reads several kernel rows), WBUF ``cbt x G`` blocks
  (G tap groups), ABUF/OBUF ``cbt x ty x tx``, PBUF ``cbt``;
* POOL: IBUF as DW, OBUF ``cbt x ty x tx``; ADD: IBUF two boxes; COPY one;
* every step's instructions fit IMEM with room for the ENDs.

Candidate sizes of a dim of extent E are the distinct ``ceil(E / n)``, so
tiles split a dim evenly. The score is FIRST-ORDER (search/cost_model.py is
the exact one): cycles ≈ Σ over steps of max(MEM time, CMP time), ties broken by DRAM traffic, then by
larger tiles. Loop orders for GEMM: ``kout`` (K tiles outermost; weights stay
in WBUF across pixel tiles when one accumulation step covers all of C and the
taps) and ``pout`` (pixel tiles outermost; the input stays in IBUF across K
tiles under the same condition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import timing
from ..accel_config import AccelConfig
from ..isa import dw_keep
from .layout import blocks, dw_groups
from .workload import Work, WorkKind


@dataclass(frozen=True)
class Tiling:
    """The chosen tile sizes (channel dims in blocks, pixel dims in pixels) and model figures."""

    kt: int
    ct: int
    ty: int
    tx: int
    fyt: int
    fxt: int
    order: str  # "kout" or "pout" (GEMM), "cout" otherwise
    cycles: int
    dram_read: int
    dram_write: int


def candidate_sizes(extent: int) -> np.ndarray:
    return np.array(sorted({-(-extent // n) for n in range(1, extent + 1)}, reverse=True), dtype=np.int64)


def halves(cfg: AccelConfig) -> dict[str, int]:
    return {
        "ibuf": cfg.words("ibuf") // 2,
        "wbuf": cfg.words("wbuf") // 2,
        "abuf": cfg.words("abuf") // 2,
        "obuf": cfg.words("obuf") // 2,
        "pbuf": cfg.pbuf_entries // 2,
        "imem": cfg.imem_instructions - 2,
    }


def in_extent(t: np.ndarray | float, stride: int, taps: np.ndarray | float, dil: int) -> np.ndarray | float:
    """Input rows (or columns) under ``t`` outputs and ``taps`` kernel taps."""
    return (t - 1) * stride + (taps - 1) * dil + 1


def _grid(*axes: np.ndarray) -> list[np.ndarray]:
    return [g.reshape(-1) for g in np.meshgrid(*axes, indexing="ij")]


def _best(cands: list[dict[str, np.ndarray]], cfg: AccelConfig) -> Tiling | None:
    best: tuple[tuple[int, int, int], Tiling] | None = None
    for c in cands:
        ok = c["ok"]
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        size = c["kt"][idx] * c["ct"][idx] * c["ty"][idx] * c["tx"][idx]
        key = np.lexsort((-size, c["read"][idx] + c["write"][idx], c["cycles"][idx]))
        i = idx[key[0]]
        score = (int(c["cycles"][i]), int(c["read"][i] + c["write"][i]), -int(size[key[0]]))
        if best is None or score < best[0]:
            best = (
                score,
                Tiling(
                    int(c["kt"][i]),
                    int(c["ct"][i]),
                    int(c["ty"][i]),
                    int(c["tx"][i]),
                    int(c["fyt"][i]),
                    int(c["fxt"][i]),
                    str(c["order"]),
                    int(c["cycles"][i]),
                    int(c["read"][i]),
                    int(c["write"][i]),
                ),
            )
    return None if best is None else best[1]


def _lut_cap(w: Work, cfg: AccelConfig) -> int:
    """The most channel blocks an output tile may have for its lookup tables: a per-channel table
    takes one LBUF table per block (``lut_tables`` per half), a per-tensor one any number."""
    return cfg.lut_tables if w.lut is not None and w.lut_per_channel else 1 << 30


def search_gemm(w: Work, cfg: AccelConfig, fyt: int, fxt: int) -> Tiling | None:
    return _best(gemm_candidates(w, cfg, fyt, fxt), cfg)


def gemm_candidates(w: Work, cfg: AccelConfig, fyt: int, fxt: int) -> list[dict[str, np.ndarray]]:
    """Every GEMM tiling with ``fyt x fxt`` kernel taps a step, per loop order: arrays of the tile
    sizes, ``ok`` (fits every buffer half and IMEM) and the first-order model's figures."""
    L, h = cfg.lanes, halves(cfg)
    KB, CB = blocks(w.k, L), blocks(w.c, L)
    (sy, sx), (dy, dx) = w.stride, w.dilation
    kt, ct, ty, tx = _grid(candidate_sizes(KB), candidate_sizes(CB), candidate_sizes(w.oy), candidate_sizes(w.ox))
    out_words = kt * ty * tx
    ok = (
        (ct * in_extent(ty, sy, fyt, dy) * in_extent(tx, sx, fxt, dx) <= h["ibuf"])
        & (kt * ct * fyt * fxt * L <= h["wbuf"])
        & (out_words <= h["abuf"])
        & (out_words <= h["obuf"])
        & (kt <= h["pbuf"])
        & (kt <= _lut_cap(w, cfg))
        & (kt + 6 <= h["imem"])
    )
    KT, CT, YT, XT = -(-KB // kt), -(-CB // ct), -(-w.oy // ty), -(-w.ox // tx)
    FYT, FXT = -(-w.fy // fyt), -(-w.fx // fxt)
    acc = CT * FYT * FXT
    nsp = w.n * YT * XT
    outputs = nsp * KT
    steps = outputs * acc
    kta, cta, tya, txa = KB / KT, CB / CT, w.oy / YT, w.ox / XT
    fya, fxa = w.fy / FYT, w.fx / FXT
    in_words = cta * in_extent(tya, sy, fya, dy) * in_extent(txa, sx, fxa, dx)
    w_words = kta * cta * fya * fxa * L
    cmp = kta * (timing.gemm_cycles(cfg, cta * fya * fxa, tya * txa) + timing.ISSUE_GAP)
    per_out = (
        kta * timing.gemm_rq_cycles(tya * txa, cfg.ppu_rate)
        + timing.dma_write_cycles(cfg, kta * tya * txa)
        + timing.dma_read_cycles(cfg, kta * cfg.pbuf_entry_bytes / cfg.word_bytes)
    )
    write = w.n * KB * w.oy * w.ox * L
    single = acc == 1
    cands = []
    for order in ("kout", "pout"):
        if order == "kout":
            in_frac, w_frac = np.ones_like(kt, dtype=float), np.where(single, 1.0 / nsp, 1.0)
        else:
            in_frac = np.where(single, 1.0 / KT, 1.0)
            w_frac = np.where(single & (KT == 1), 1.0 / nsp, 1.0)
        mem = in_frac * timing.dma_read_cycles(cfg, in_words) + w_frac * timing.dma_read_cycles(cfg, w_words)
        cycles = steps * np.maximum(cmp, mem) + outputs * per_out / 2 + timing.dma_read_cycles(cfg, in_words)
        read = steps * (in_frac * in_words + w_frac * w_words) * L + outputs * kta * cfg.pbuf_entry_bytes
        fy_arr, fx_arr = np.full_like(kt, fyt), np.full_like(kt, fxt)
        cands.append(
            {
                "ok": ok,
                "kt": kt,
                "ct": ct,
                "ty": ty,
                "tx": tx,
                "fyt": fy_arr,
                "fxt": fx_arr,
                "order": order,
                "cycles": np.ceil(cycles),
                "read": np.ceil(read),
                "write": np.full_like(kt, write),
            }
        )
    return cands


def search_blocked(w: Work, cfg: AccelConfig) -> Tiling | None:
    """DW, POOL, ADD and COPY: tiles of channel blocks x rows x columns, one step each."""
    return _best(blocked_candidates(w, cfg), cfg)


def blocked_candidates(w: Work, cfg: AccelConfig) -> list[dict[str, np.ndarray]]:
    """Every DW/POOL/ADD/COPY tiling, as :func:`gemm_candidates` gives GEMM's."""
    L, h = cfg.lanes, halves(cfg)
    CB = blocks(w.k if w.kind is not WorkKind.COPY else w.c, L)
    (sy, sx), (dy, dx) = w.stride, w.dilation
    ct, ty, tx = _grid(candidate_sizes(CB), candidate_sizes(w.oy), candidate_sizes(w.ox))
    out_words = ct * ty * tx
    in_words = ct * in_extent(ty, sy, w.fy, dy) * in_extent(tx, sx, w.fx, dx)
    taps = w.fy * w.fx
    uy, ux = w.upsample
    ok = (out_words * uy * ux <= h["obuf"]) & (ct <= _lut_cap(w, cfg))
    if w.kind is WorkKind.UPSAMPLE:  # one COPY per channel block, input row and repeat of the row
        ok &= (in_words <= h["ibuf"]) & (ct * ty * uy + 6 <= h["imem"])
        cmp = ct * ty * uy * (timing.ppu_cycles(tx * ux, cfg.ppu_rate) + timing.ISSUE_GAP)
        extra_read = 0
    elif w.kind is WorkKind.INTERLEAVE:  # every phase's tile in IBUF; a strided COPY per row and phase
        in_words = uy * ux * out_words
        ok &= (in_words <= h["ibuf"]) & (ct * ty * uy * ux + 6 <= h["imem"])
        cmp = ct * ty * uy * ux * (timing.ppu_cycles(tx, cfg.ppu_rate) + timing.ISSUE_GAP)
        extra_read = 0
    elif w.kind is WorkKind.DW:
        groups = dw_groups(w.fy, w.fx, dy, L, cfg.ibuf_banks)
        G = len(groups)
        nx = in_extent(tx, sx, w.fx, dx)
        in_words = ct * in_extent(ty, sy, w.fy, dy) * (nx + (groups[0][1] > 1) * (nx % 2 == 0))  # odd pitch
        ok &= (in_words <= h["ibuf"]) & (ct * G * L <= h["wbuf"]) & (out_words <= h["abuf"])
        ok &= (ct <= h["pbuf"]) & (ct * G + 6 <= h["imem"])
        # G DW instructions a channel block (exact, timing.dw_cycles), the last one's drain.
        per_block = sum(
            timing.dw_cycles(cfg, gy * gx, timing.dw_columns(ty, tx, gx, dw_keep(gx, dx, sx))) + timing.ISSUE_GAP
            for _, gy, _, gx in groups
        )
        gx = groups[-1][3]  # the last group requantizes: paced at ppu_rate > 1
        keep = dw_keep(gx, dx, sx)
        paced = timing.dw_columns(ty, tx, gx, keep, cfg.ppu_rate) - timing.dw_columns(ty, tx, gx, keep)
        cmp = ct * (per_block + paced + timing.rq_drain(cfg.ppu_rate))
        extra_read = CB * G * L * L + CB * cfg.pbuf_entry_bytes
    elif w.kind is WorkKind.POOL:
        ok &= in_words <= h["ibuf"]
        if w.banded:  # one band of one channel block a step: PPUPool carries one running sum
            ok &= (ct == 1) & (ty == 1) & (tx == 1)
        cmp = timing.pool_cycles(out_words, taps, cfg.ppu_rate)
        extra_read = 0
    else:
        n_in = 2 if w.kind in (WorkKind.ADD, WorkKind.MUL) else 1
        in_words = out_words + (ct if w.broadcast else (n_in - 1) * out_words)
        ok &= in_words <= h["ibuf"]
        if w.kind is WorkKind.MUL:
            cmp = timing.mul_cycles(out_words, cfg.ppu_rate) + (ct - 1) * (timing.MUL_LATENCY + 3) * w.broadcast
        else:
            cmp = timing.add_cycles(out_words) if n_in == 2 else timing.ppu_cycles(out_words, cfg.ppu_rate)
        extra_read = 0
    steps = w.n * -(-CB // ct) * -(-w.oy // ty) * -(-w.ox // tx)
    mem = timing.dma_read_cycles(cfg, in_words) + timing.dma_write_cycles(cfg, out_words * uy * ux)
    cycles = steps * np.maximum(cmp, mem) + timing.dma_read_cycles(cfg, in_words)
    read = steps * in_words * L + extra_read
    write = np.full_like(ct, w.n * CB * w.oy * w.ox * uy * ux * L)
    one = np.ones_like(ct)
    return [
        {
            "ok": ok,
            "kt": ct,
            "ct": ct,
            "ty": ty,
            "tx": tx,
            "fyt": one * w.fy,
            "fxt": one * w.fx,
            "order": "cout",
            "cycles": np.ceil(cycles),
            "read": np.ceil(read),
            "write": write,
        }
    ]


def kernel_splits(w: Work) -> list[tuple[int, int]]:
    """Kernel taps a GEMM step may take, most first: the whole window, fewer rows, then fewer columns."""
    return [(w.fy, w.fx)] + [(f, w.fx) for f in reversed(range(1, w.fy))] + [(1, f) for f in reversed(range(1, w.fx))]


def search(w: Work, cfg: AccelConfig) -> Tiling | None:
    """The best tiling of ``w``, or None when nothing fits. GEMM tries the whole
    kernel window per step first, then fewer kernel rows, then fewer columns."""
    if w.kind is not WorkKind.GEMM:
        return search_blocked(w, cfg)
    for fyt, fxt in kernel_splits(w):
        t = search_gemm(w, cfg, fyt, fxt)
        if t is not None:
            return t
    return None
