"""sim/machine's fusion buffer, one instruction at a time against numpy by hand: a DW's ``ofb``
lands in FBUF and leaves OBUF alone, a GEMM with ``sfb`` reads FBUF, an ADD with ``bfb`` takes b
from FBUF; the durations are the IBUF / OBUF ones."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dian.errors import ProgramError
from dian.hwgen import timing
from dian.hwgen.accel_config import BufferConfig, validate
from dian.hwgen.isa import AddI, Dw, Gemm
from dian.hwgen.presets import PRESETS
from dian.sim.machine.datapath import Datapath

CFG = validate(dataclasses.replace(PRESETS["tiny"], fbuf=BufferConfig(1024)))  # 4 lanes, 256 FBUF words
L = CFG.lanes


def _dp(seed: int = 0) -> Datapath:
    rng = np.random.default_rng(seed)
    dp = Datapath(CFG, np.zeros(64, np.uint8))
    dp.ibuf[:] = rng.integers(-128, 128, dp.ibuf.shape)
    dp.wbuf[:] = rng.integers(-128, 128, dp.wbuf.shape)
    dp.p_bias[:] = rng.integers(-1000, 1000, dp.p_bias.shape)
    dp.p_mult[:] = rng.integers(1 << 20, 1 << 22, dp.p_mult.shape)
    dp.p_shift[:] = 30
    return dp


def _rq(acc: np.ndarray, dp: Datapath, prm: int, lo: int, hi: int) -> np.ndarray:
    v = (acc + dp.p_bias[prm]) * dp.p_mult[prm]
    return np.clip((v + (1 << 29)) >> 30, lo, hi)


def test_dw_with_ofb_writes_fbuf_only() -> None:
    dp = _dp()
    # 1 kernel row of 3 taps (s_fx 1) over 5 pixels of one row (s_ox 1), sums to ABUF 0.., FBUF 40..
    ins = Dw(0, 10, 0, 1, 1, 3, 0, 1, 1, 5, 0, 1, 0, 1, rq=1, odst=40, prm=2, lo=-5, hi=90, ofb=1)
    dp.dw(ins)
    x, w = dp.ibuf.astype(np.int64), dp.wbuf.astype(np.int64)
    acc = np.stack([sum(x[10 + p + t] * w[t] for t in range(3)) for p in range(5)])
    assert np.array_equal(dp.fbuf[40:45], _rq(acc, dp, 2, -5, 90))
    assert not dp.obuf.any() and not np.delete(dp.fbuf, range(40, 45), axis=0).any()
    plain = dataclasses.replace(ins, ofb=0)
    assert timing.duration(ins, CFG) == timing.duration(plain, CFG)


def test_gemm_with_sfb_reads_fbuf_and_ofb_writes_it() -> None:
    dp = _dp(1)
    dp.fbuf[:] = np.random.default_rng(7).integers(-128, 128, dp.fbuf.shape)
    # 2 channel blocks 6 words apart, 3 pixels from FBUF word 100; weights from WBUF 8 (2 blocks)
    ins = Gemm(8, 100, 0, 1, 2, 1, 1, 1, 3, 6, 0, 0, 0, 1, 0, 1, rq=1, odst=200, prm=1, sfb=1, ofb=1)
    dp.gemm(ins)
    f, w = dp.fbuf.astype(np.int64), dp.wbuf.astype(np.int64)
    acc = np.stack([sum(f[100 + 6 * c + p] @ w[8 + c * L : 8 + (c + 1) * L] for c in range(2)) for p in range(3)])
    assert np.array_equal(dp.abuf[:3], acc)
    assert np.array_equal(dp.fbuf[200:203], _rq(acc, dp, 1, -128, 127))
    assert not dp.obuf.any()
    assert timing.duration(ins, CFG) == timing.duration(dataclasses.replace(ins, sfb=0, ofb=0), CFG)


def test_add_with_bfb_takes_b_from_fbuf() -> None:
    dp = _dp(2)
    dp.fbuf[:] = np.random.default_rng(3).integers(-128, 128, dp.fbuf.shape)
    ins = AddI(5, 60, 9, 4, 3 << 20, 5 << 19, 21, -128, 127, bfb=1)
    dp.add(ins)
    a, b = dp.ibuf[5:9].astype(np.int64), dp.fbuf[60:64].astype(np.int64)
    want = np.clip((a * (3 << 20) + b * (5 << 19) + (1 << 20)) >> 21, -128, 127)
    assert np.array_equal(dp.obuf[9:13], want)


def test_an_fbuf_address_past_its_end_is_an_error() -> None:
    dp = _dp()
    ins = Dw(0, 10, 0, 1, 1, 3, 0, 1, 1, 5, 0, 1, 0, 1, rq=1, odst=254, prm=0, ofb=1)
    with pytest.raises(ProgramError, match=r"FBUF word 258, outside its 256 words"):
        dp.dw(ins)
