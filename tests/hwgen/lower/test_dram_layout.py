"""DRAM layouts against hand-written layouts and independent loops."""

from __future__ import annotations

import numpy as np
import pytest

from dian.hwgen.lower.layout import (
    act_bytes,
    dense_conv_weights,
    dw_blocks,
    dw_groups,
    dw_pitch,
    gemm_blocks,
    linear_weights_blocked,
    pack_act,
    param_entries,
    unpack_act,
)


def test_pack_act_by_hand() -> None:
    # C=5 channels at L=4 -> 2 blocks; H=1, W=2. Value = 10*c + w.
    x = np.array([[[[0, 1]], [[10, 11]], [[20, 21]], [[30, 31]], [[40, 41]]]], dtype=np.int8)
    got = pack_act(x, 4).view(np.int8).tolist()
    assert got == [
        0,
        10,
        20,
        30,
        1,
        11,
        21,
        31,  # block 0: pixel (0,0) lanes 0..3, pixel (0,1)
        40,
        0,
        0,
        0,
        41,
        0,
        0,
        0,
    ]  # block 1: channel 4, zero lanes
    assert act_bytes(x.shape, 4) == 16


@pytest.mark.parametrize("shape, lanes", [((2, 5, 3, 4), 4), ((1, 16, 2, 2), 8), ((3, 10), 4), ((1, 1, 1, 1), 2)])
def test_pack_unpack_round_trip(shape, lanes: int) -> None:
    x = np.random.default_rng(0).integers(-128, 128, size=shape).astype(np.int8)
    data = pack_act(x, lanes)
    assert data.size == act_bytes(shape, lanes)
    np.testing.assert_array_equal(unpack_act(data, shape, lanes), x)


def test_gemm_blocks_by_loops() -> None:
    L = 4
    w = np.random.default_rng(1).integers(-128, 128, size=(6, 7, 2, 3)).astype(np.int8)
    b = gemm_blocks(w, L)
    assert b.shape == (2, 2, 2, 3, L, L)
    for kb in range(2):
        for cb in range(2):
            for fy in range(2):
                for fx in range(3):
                    for r in range(L):
                        for c in range(L):
                            k, ci = kb * L + c, cb * L + r
                            want = w[k, ci, fy, fx] if k < 6 and ci < 7 else 0
                            assert b[kb, cb, fy, fx, r, c] == want


def test_grouped_conv_is_block_diagonal() -> None:
    w = np.arange(1, 1 + 6 * 2 * 1 * 1, dtype=np.int8).reshape(6, 2, 1, 1)  # groups=3: K=6, C=6
    d = dense_conv_weights(w, 3)[:, :, 0, 0]
    expect = np.zeros((6, 6), np.int8)
    for g in range(3):
        expect[2 * g : 2 * g + 2, 2 * g : 2 * g + 2] = w[2 * g : 2 * g + 2, :, 0, 0]
    np.testing.assert_array_equal(d, expect)


@pytest.mark.parametrize("src, lanes", [((5, 3, 2), 4), ((16, 1, 1), 8), ((3, 2, 2), 2)])
def test_linear_after_flatten_reads_the_blocked_bytes(src, lanes: int) -> None:
    rng = np.random.default_rng(2)
    c, h, w = src
    x = rng.integers(-128, 128, size=(1, c, h, w)).astype(np.int8)
    wt = rng.integers(-128, 128, size=(7, c * h * w)).astype(np.int8)
    wb = linear_weights_blocked(wt, src, lanes)[:, :, 0, 0].astype(np.int64)
    blocked = pack_act(x, lanes).view(np.int8).astype(np.int64)  # what DRAM holds, no data moved
    np.testing.assert_array_equal(wb @ blocked, wt.astype(np.int64) @ x.reshape(-1).astype(np.int64))


@pytest.mark.parametrize(
    "kernel, lanes, banks, want",
    [
        ((3, 3, 1), 16, 4, [(0, 3, 0, 3)]),  # 9 taps on 16 rows, the three kernel rows in three banks
        ((5, 5, 1), 16, 4, [(0, 3, 0, 5), (3, 2, 0, 5)]),  # 15 + 10 taps
        ((3, 3, 1), 8, 4, [(0, 2, 0, 3), (2, 1, 0, 3)]),  # two rows of 3 fit 8 rows
        ((3, 3, 2), 16, 4, [(0, 1, 0, 3), (1, 1, 0, 3), (2, 1, 0, 3)]),  # even dilation: one bank
        ((3, 3, 1), 4, 2, [(0, 1, 0, 3), (1, 1, 0, 3), (2, 1, 0, 3)]),
        ((1, 7, 1), 4, 2, [(0, 1, 0, 4), (0, 1, 4, 3)]),  # wider than the array: column runs
        ((3, 1, 1), 4, 2, [(0, 2, 0, 1), (2, 1, 0, 1)]),
        ((3, 3, 1), 16, 1, [(0, 1, 0, 3), (1, 1, 0, 3), (2, 1, 0, 3)]),  # one bank
    ],
)
def test_dw_groups_by_hand(kernel: tuple[int, int, int], lanes: int, banks: int, want: list) -> None:
    fy, fx, dy = kernel
    assert dw_groups(fy, fx, dy, lanes, banks) == want


def test_dw_pitch_is_odd_for_multi_row_groups() -> None:
    assert dw_pitch(58, 3, 3, 1, 16, 4) == 59 and dw_pitch(57, 3, 3, 1, 16, 4) == 57
    assert dw_pitch(58, 3, 3, 1, 4, 2) == 58  # one kernel row a group: any pitch


def test_dw_blocks_by_loops() -> None:
    L = 8
    w = np.random.default_rng(3).integers(-128, 128, size=(11, 1, 3, 3)).astype(np.int8)
    groups = [(0, 2, 0, 3), (2, 1, 0, 3)]
    b = dw_blocks(w, L, groups)
    assert b.shape == (2, 2, L, L)
    for cb in range(2):
        for g, (fy0, gy, fx0, gx) in enumerate(groups):
            for r in range(L):
                for c in range(L):
                    ch = cb * L + c
                    want = w[ch, 0, fy0 + r // gx, fx0 + r % gx] if ch < 11 and r < gy * gx else 0
                    assert b[cb, g, r, c] == want


def test_param_entries_bytes() -> None:
    e = param_entries(np.array([1, -2, 3]), (5, 6, 7), (8, 9, 10), 3, 2).reshape(2, 18)
    assert e[0, :8].view("<i4").tolist() == [1, -2] and e[0, 8:16].view("<i4").tolist() == [5, 6]
    assert e[0, 16:].tolist() == [8, 9]
    assert e[1, :8].view("<i4").tolist() == [3, 0] and e[1, 16:].tolist() == [10, 0]
    per_tensor = param_entries(None, (5,), (3,), 3, 4).reshape(1, 36)
    assert (
        per_tensor[0, 16:32].view("<i4").tolist() == [5, 5, 5, 0] and per_tensor[0, :16].view("<i4").tolist() == [0] * 4
    )
