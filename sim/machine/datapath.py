"""The accelerator's storage and what each instruction does to it.

Written from docs/accelerator.md's instruction semantics, independently of
sim/reference (DESIGN.md: the two must not share arithmetic): buffers are
numpy arrays of words (``[depth, L]``), every instruction is one vectorized
gather / compute / scatter over its lanes and pixels. Accumulators wrap at
``acc_bits`` like the hardware's; ``round_shift`` is re-derived here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from dian.errors import ProgramError
from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.isa import (
    AddI,
    Copy,
    Dw,
    Gemm,
    Instr,
    LoadAct,
    LoadLut,
    LoadPrm,
    LoadWgt,
    MulI,
    Pool,
    PoolMode,
    StoreAct,
)

_LUT = timing.LUT_WORDS


def _round_shift(x: np.ndarray, s: np.ndarray | int) -> np.ndarray:
    """Round half up: (x + 2^(s-1)) >> s, and x itself for s = 0 (int64)."""
    s = np.asarray(s, dtype=np.int64)
    bias = np.where(s > 0, np.int64(1) << np.maximum(s - 1, 0), np.int64(0))
    return (x + bias) >> s


class Datapath:
    """DRAM bytes and the on-chip buffers of one accelerator (LBUF: the lookup tables, a byte per
    lane per entry, ``[tables * 256, L]``; FBUF: the fusion buffer, ``[0, L]`` without one, which
    only the CMP engine touches: written by ``ofb`` requantizations, read by ``sfb`` GEMMs and
    ``bfb`` ADDs)."""

    def __init__(self, cfg: AccelConfig, dram: np.ndarray) -> None:
        L = self.L = cfg.lanes
        self.cfg = cfg
        self.dram = dram
        self.ibuf = np.zeros((cfg.words("ibuf"), L), np.int8)
        self.wbuf = np.zeros((cfg.words("wbuf"), L), np.int8)
        self.abuf = np.zeros((cfg.words("abuf"), L), np.int64)
        self.obuf = np.zeros((cfg.words("obuf"), L), np.int8)
        self.fbuf = np.zeros((cfg.words("fbuf"), L), np.int8)
        self.p_bias = np.zeros((cfg.pbuf_entries, L), np.int64)
        self.p_mult = np.zeros((cfg.pbuf_entries, L), np.int64)
        self.p_shift = np.zeros((cfg.pbuf_entries, L), np.int64)
        self.lbuf = np.zeros((cfg.lbuf_entries, L), np.int8)
        self.pool_run = np.zeros(L, np.int64)  # PPUPool's running max or sum, left by the last POOL
        self.acc_mod = 1 << cfg.acc_bits
        self.acc_half = 1 << (cfg.acc_bits - 1)
        self.bytes_read = 0
        self.bytes_written = 0

    # -- helpers -----------------------------------------------------------------
    def _wrap(self, acc: np.ndarray) -> np.ndarray:
        return (acc + self.acc_half) % self.acc_mod - self.acc_half

    def _range(self, ins: Instr, buf: np.ndarray, name: str, lo: int, n: int) -> slice:
        if lo < 0 or lo + n > len(buf):
            raise ProgramError(f"{ins.describe()}: {name} words {lo}..{lo + n - 1} are outside its {len(buf)} words.")
        return slice(lo, lo + n)

    def _check_idx(self, ins: Instr, buf: np.ndarray, name: str, idx: np.ndarray) -> np.ndarray:
        if idx.size and (idx.min() < 0 or idx.max() >= len(buf)):
            raise ProgramError(
                f"{ins.describe()}: reads or writes {name} word {int(idx.max())}, outside its {len(buf)} words."
            )
        return idx

    def _dram_view(self, ins: Instr, addr: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
        if any(n == 0 for n in shape):
            return np.zeros(shape, np.uint8)
        last = addr + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
        if addr < 0 or last >= len(self.dram):
            raise ProgramError(
                f"{ins.describe()}: touches DRAM bytes up to {last}, past the {len(self.dram)}-byte image."
            )
        return as_strided(self.dram[addr:], shape=shape, strides=strides, writeable=True)

    # -- MEM engine ----------------------------------------------------------------
    def load_act(self, i: LoadAct) -> None:
        L = self.L
        box = np.full((i.n_c, i.n_y, i.n_x, L), i.pad_value, np.int8)
        ry, rx = i.n_y - i.pad_top - i.pad_bottom, i.n_x - i.pad_left - i.pad_right
        if ry > 0 and rx > 0:
            src = self._dram_view(i, i.dram, (i.n_c, ry, rx, L), (i.s_c, i.s_y, L, 1))
            box[:, i.pad_top : i.pad_top + ry, i.pad_left : i.pad_left + rx] = src.view(np.int8)
            self.bytes_read += i.n_c * ry * rx * L
        self.ibuf[self._range(i, self.ibuf, "IBUF", i.dst, box.shape[0] * i.n_y * i.n_x)] = box.reshape(-1, L)

    def load_wgt(self, i: LoadWgt) -> None:
        src = self._dram_view(i, i.dram, (i.n_words, self.L), (self.L, 1))
        self.wbuf[self._range(i, self.wbuf, "WBUF", i.dst, i.n_words)] = src.view(np.int8)
        self.bytes_read += i.n_words * self.L

    def load_prm(self, i: LoadPrm) -> None:
        L = self.L
        ent = self._dram_view(i, i.dram, (i.n_entries, 9 * L), (9 * L, 1)).copy()
        r = self._range(i, self.p_bias, "PBUF", i.dst, i.n_entries)
        self.p_bias[r] = ent[:, : 4 * L].copy().view("<i4")
        self.p_mult[r] = ent[:, 4 * L : 8 * L].copy().view("<i4")
        self.p_shift[r] = ent[:, 8 * L :].view(np.int8)
        self.bytes_read += i.n_entries * 9 * L

    def load_lut(self, i: LoadLut) -> None:
        n = i.n_tables * _LUT
        src = self._dram_view(i, i.dram, (n, self.L), (self.L, 1))
        self.lbuf[self._range(i, self.lbuf, "LBUF", i.dst * _LUT, n)] = src.view(np.int8)
        self.bytes_read += n * self.L

    def _out(self, i: Gemm | Dw | AddI | Copy | Pool | MulI, words: np.ndarray) -> np.ndarray:
        """An OBUF writer's int8 results ``[..., L]`` after its pointwise stage: with ``lut``, the
        entry ``q + 128`` of LBUF table ``ltab`` in each lane."""
        if not i.lut:
            return words
        base = i.ltab * _LUT
        self._range(i, self.lbuf, "LBUF", base, _LUT)
        idx = base + words.astype(np.int64) + 128
        return np.take_along_axis(self.lbuf, idx.reshape(-1, self.L), axis=0).reshape(words.shape)

    def store_act(self, i: StoreAct) -> None:
        L = self.L
        n = i.n_c * i.n_y * i.n_x
        words = self.obuf[self._range(i, self.obuf, "OBUF", i.src, n)].reshape(i.n_c, i.n_y, i.n_x, L)
        dst = self._dram_view(i, i.dram, (i.n_c, i.n_y, i.n_x, L), (i.s_c, i.s_y, L, 1))
        dst[...] = words.view(np.uint8)
        self.bytes_written += n * L

    # -- CMP engine ----------------------------------------------------------------
    def _pixels(self, n_oy: int, n_ox: int, s_oy: int, s_ox: int) -> np.ndarray:
        return (np.arange(n_oy)[:, None] * s_oy + np.arange(n_ox)[None, :] * s_ox).reshape(-1)

    def _accumulate(self, i: Gemm | Dw, res: np.ndarray) -> None:
        dst = self._check_idx(i, self.abuf, "ABUF", i.dst + self._pixels(i.n_oy, i.n_ox, i.d_oy, i.d_ox))
        self.abuf[dst] = self._wrap(res if i.reset else self.abuf[dst] + res)
        if i.rq:  # the sums just written are final: requantized into OBUF (FBUF with ofb), pixel by pixel
            p = self._range(i, self.p_bias, "PBUF", i.prm, 1)
            words = self._out(i, self._requantize(self.abuf[dst][None], p, i.lo, i.hi)[0])
            if i.ofb:  # FBUF: pixel (oy, ox) at odst + oy*d_oy + ox*d_ox (dense when the strides are)
                at = i.odst + self._pixels(i.n_oy, i.n_ox, i.d_oy, i.d_ox)
                self.fbuf[self._check_idx(i, self.fbuf, "FBUF", at)] = words
            else:
                self.obuf[self._range(i, self.obuf, "OBUF", i.odst, len(dst))] = words

    def _requantize(self, acc: np.ndarray, p: slice, lo: int, hi: int) -> np.ndarray:
        """``clamp(round_shift((acc + bias) * M, s), lo, hi)`` of words ``acc[c, pixel]`` with PBUF entry ``p[c]``."""
        v = self._wrap(acc + self.p_bias[p][:, None, :])
        return np.clip(_round_shift(v * self.p_mult[p][:, None, :], self.p_shift[p][:, None, :]), lo, hi)

    def gemm(self, i: Gemm) -> None:
        L = self.L
        blk = (
            np.arange(i.n_c)[:, None, None] * i.s_c
            + np.arange(i.n_fy)[None, :, None] * i.s_fy
            + np.arange(i.n_fx)[None, None, :] * i.s_fx
        ).reshape(-1)
        src, name = (self.fbuf, "FBUF") if i.sfb else (self.ibuf, "IBUF")
        idx = self._check_idx(i, src, name, i.src + blk[:, None] + self._pixels(i.n_oy, i.n_ox, i.s_oy, i.s_ox))
        x = src[idx]  # [blocks, pixels, L rows]
        w = self.wbuf[self._range(i, self.wbuf, "WBUF", i.wgt, len(blk) * L)]  # [blocks*L rows, L cols]
        cols = x.transpose(1, 0, 2).reshape(idx.shape[1], len(blk) * L).astype(np.float64)
        # float64 is exact here: |each sum| < 2^14 * blocks * L << 2^53.
        res = (cols @ w.astype(np.float64)).astype(np.int64)
        self._accumulate(i, res)

    def dw(self, i: Dw) -> None:
        L, banks = self.L, self.cfg.ibuf_banks
        rows = i.n_gy * i.n_gx
        if not (i.n_gx >= 1 and 1 <= i.n_gy <= banks and rows <= L):
            raise ProgramError(
                f"{i.describe()}: a tap group of {i.n_gy} x {i.n_gx} taps does not fit: at most {L} taps "
                f"(array rows) and {banks} kernel rows (IBUF banks)."
            )
        row_banks = {(j * i.s_fy) % banks for j in range(i.n_gy)}
        if len(row_banks) != i.n_gy:
            raise ProgramError(
                f"{i.describe()}: its {i.n_gy} kernel rows, s_fy = {i.s_fy} words apart, share an IBUF bank "
                f"(of {banks}); a DW reads one row a bank, so s_fy must be odd."
            )
        r = np.arange(rows)
        off = (r // i.n_gx) * i.s_fy + (r % i.n_gx) * i.s_fx
        src, name = (self.fbuf, "FBUF") if i.sfb else (self.ibuf, "IBUF")
        idx = self._check_idx(i, src, name, i.src + off[:, None] + self._pixels(i.n_oy, i.n_ox, i.s_oy, i.s_ox))
        x = src[idx].astype(np.int64)  # [rows, pixels, L]
        w = self.wbuf[self._range(i, self.wbuf, "WBUF", i.wgt, rows)].astype(np.int64)  # [rows, L]
        self._accumulate(i, (x * w[:, None, :]).sum(axis=0))

    def add(self, i: AddI) -> None:
        a = self.ibuf[self._range(i, self.ibuf, "IBUF", i.src_a, i.n)].astype(np.int64)
        bsrc, bname = (self.fbuf, "FBUF") if i.bfb else (self.ibuf, "IBUF")
        b = bsrc[self._range(i, bsrc, bname, i.src_b, i.n)].astype(np.int64)
        y = _round_shift(a * i.m_a + (1 - 2 * i.sub) * (b * i.m_b), i.shift)
        self.obuf[self._range(i, self.obuf, "OBUF", i.dst, i.n)] = self._out(i, np.clip(y, i.lo, i.hi))

    def mul(self, i: MulI) -> None:
        a = self.ibuf[self._range(i, self.ibuf, "IBUF", i.src_a, i.n)].astype(np.int64)
        b = self.ibuf[self._range(i, self.ibuf, "IBUF", i.src_b, 1 if i.bcast else i.n)].astype(np.int64)
        y = np.clip(_round_shift(a * b * i.m, i.shift), i.lo, i.hi)
        self.obuf[self._range(i, self.obuf, "OBUF", i.dst, i.n)] = self._out(i, y)

    def copy(self, i: Copy) -> None:
        rep = max(i.rep, 1)
        r = self._range(i, self.ibuf, "IBUF", i.src, -(-i.n // rep))
        x = np.repeat(self.ibuf[r].astype(np.int64), rep, axis=0)[: i.n]
        y = np.clip(_round_shift(x * i.m, i.shift), i.lo, i.hi)
        stride = max(i.stride, 1)
        if stride == 1:
            self.obuf[self._range(i, self.obuf, "OBUF", i.dst, i.n)] = self._out(i, y)
        else:
            idx = self._check_idx(i, self.obuf, "OBUF", i.dst + stride * np.arange(i.n))
            self.obuf[idx] = self._out(i, y)

    def pool(self, i: Pool) -> None:
        win = (np.arange(i.n_fy)[:, None] * i.s_fy + np.arange(i.n_fx)[None, :] * i.s_fx).reshape(-1)
        out = (np.arange(i.n_c)[:, None] * i.s_c + self._pixels(i.n_oy, i.n_ox, i.s_oy, i.s_ox)[None, :]).reshape(-1)
        idx = self._check_idx(i, self.ibuf, "IBUF", i.src + out[:, None] + win[None, :])
        x = self.ibuf[idx].astype(np.int64)  # [outputs, window, L]
        run = x.max(axis=1) if i.mode == PoolMode.MAX else x.sum(axis=1)
        if i.cont:  # the first window goes on from the running value the previous POOL left
            run[0] = np.maximum(run[0], self.pool_run) if i.mode == PoolMode.MAX else run[0] + self.pool_run
        self.pool_run = run[-1].copy()
        y = run if i.mode == PoolMode.MAX else np.clip(_round_shift(run * i.m, i.shift), -128, 127)
        self.obuf[self._range(i, self.obuf, "OBUF", i.dst, len(out))] = self._out(i, y)

    def execute(self, ins: Instr) -> None:
        _DISPATCH[type(ins)](self, ins)


_DISPATCH: dict[type[Instr], Callable[..., None]] = {  # each method takes its own instruction class
    LoadAct: Datapath.load_act,
    LoadWgt: Datapath.load_wgt,
    LoadPrm: Datapath.load_prm,
    LoadLut: Datapath.load_lut,
    StoreAct: Datapath.store_act,
    Gemm: Datapath.gemm,
    Dw: Datapath.dw,
    AddI: Datapath.add,
    Copy: Datapath.copy,
    MulI: Datapath.mul,
    Pool: Datapath.pool,
}
