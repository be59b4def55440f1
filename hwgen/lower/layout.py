"""DRAM data layouts of docs/accelerator.md ("DRAM layout"), as numpy packers.

* activations: channel-blocked ``[N][CB][H][W][L]`` int8, lanes past C zero;
* GEMM weights: blocks ``[KB][CB][FY][FX]`` of L words, word r byte c =
  ``w[kb*L + c, cb*L + r, fy, fx]`` (the lowering cuts tiles out of this array
  and stores each tile contiguously, in the order the schedule loads it);
* depthwise weights: ``[CB][G]`` blocks of L words, one per tap group (a
  rectangle of ``gy`` kernel rows x ``gx`` columns, :func:`dw_groups`), word
  r byte c = ``w[cb*L + c, 0, fy0 + r // gx, fx0 + r % gx]`` (zero from r =
  gy·gx on);
* post-processing parameters: per channel block L int32 bias, L int32
  multiplier, L int8 shift (``AccelConfig.pbuf_entry_bytes`` bytes).
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

_Count = TypeVar("_Count", int, np.ndarray)


def blocks(c: _Count, lanes: int) -> _Count:
    """Channel blocks of ``c`` channels: ``ceil(c / L)`` (elementwise for an array of counts)."""
    return -(-c // lanes)


def as_4d(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The blocked-layout shape (N, C, H, W) of an activation: a 2-D [N, F] tensor is [N, F, 1, 1],
    a 1-D sequence [N, C, L] is [N, C, 1, L] (so 1-D layers run as their H = 1 2-D ops)."""
    if len(shape) == 4:
        return shape
    if len(shape) == 2:
        return (shape[0], shape[1], 1, 1)
    if len(shape) == 3:
        return (shape[0], shape[1], 1, shape[2])
    raise ValueError(f"activations are 2-D, 3-D or 4-D, not {list(shape)}")


def act_bytes(shape: tuple[int, ...], lanes: int) -> int:
    n, c, h, w = as_4d(shape)
    return n * blocks(c, lanes) * h * w * lanes


def pack_act(x: np.ndarray, lanes: int) -> np.ndarray:
    """int8 [N, C, H, W] (or [N, F]) -> uint8 bytes in the ``[N][CB][H][W][L]`` layout."""
    n, c, h, w = as_4d(x.shape)
    cb = blocks(c, lanes)
    buf = np.zeros((n, cb * lanes, h, w), dtype=np.int8)
    buf[:, :c] = x.reshape(n, c, h, w)
    return buf.reshape(n, cb, lanes, h, w).transpose(0, 1, 3, 4, 2).reshape(-1).view(np.uint8)


def unpack_act(data: np.ndarray, shape: tuple[int, ...], lanes: int) -> np.ndarray:
    """Inverse of :func:`pack_act`: bytes -> int8 array of ``shape`` (2-D or 4-D)."""
    n, c, h, w = as_4d(shape)
    cb = blocks(c, lanes)
    a = np.asarray(data, dtype=np.uint8).view(np.int8).reshape(n, cb, h, w, lanes)
    return np.ascontiguousarray(a.transpose(0, 1, 4, 2, 3).reshape(n, cb * lanes, h, w)[:, :c]).reshape(shape)


def dense_conv_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """Grouped conv weights [K, C/g, FY, FX] -> block-diagonal dense [K, C, FY, FX]
    (zero between groups); a plain conv is returned as is."""
    if groups == 1:
        return w
    k, cg, fy, fx = w.shape
    kg = k // groups
    out = np.zeros((k, cg * groups, fy, fx), dtype=w.dtype)
    for g in range(groups):
        out[g * kg : (g + 1) * kg, g * cg : (g + 1) * cg] = w[g * kg : (g + 1) * kg]
    return out


def linear_weights_blocked(w: np.ndarray, src_shape: tuple[int, int, int], lanes: int) -> np.ndarray:
    """Linear weights [K, C*H*W] whose input is the flatten of a [C, H, W] tensor ->
    [K, CB*H*W*L, 1, 1]: column v = ((cb*H + h)*W + x)*L + lane reads the input's
    byte at that offset of the blocked layout, i.e. feature (cb*L + lane)*H*W + h*W + x
    (zero for lanes past C). A plain [N, F] input is the case H = W = 1."""
    c, h, wd = src_shape
    cb = blocks(c, lanes)
    k = w.shape[0]
    wb = np.zeros((k, cb * lanes, h, wd), dtype=w.dtype)
    wb[:, :c] = w.reshape(k, c, h, wd)
    v = wb.reshape(k, cb, lanes, h, wd).transpose(0, 1, 3, 4, 2)  # K CB H W L
    return np.ascontiguousarray(v).reshape(k, cb * h * wd * lanes, 1, 1)


def gemm_blocks(w: np.ndarray, lanes: int) -> np.ndarray:
    """Dense [K, C, FY, FX] int8 -> [KB, CB, FY, FX, L(r), L(c)] with
    ``out[kb, cb, fy, fx, r, c] = w[kb*L + c, cb*L + r, fy, fx]`` (zero outside)."""
    k, c, fy, fx = w.shape
    kb, cb = blocks(k, lanes), blocks(c, lanes)
    full = np.zeros((kb * lanes, cb * lanes, fy, fx), dtype=np.int8)
    full[:k, :c] = w
    return np.ascontiguousarray(full.reshape(kb, lanes, cb, lanes, fy, fx).transpose(0, 2, 4, 5, 3, 1))


def dw_group_shape(fy: int, fx: int, dy: int, lanes: int, banks: int) -> tuple[int, int]:
    """The largest tap group of a depthwise kernel (docs/accelerator.md, "Depthwise v2"): ``gx =
    min(FX, L)`` columns (the window register shifts along a kernel row) and ``gy`` rows, at most
    one per IBUF bank and ``L // gx`` in all; a dilation ``dy`` that is even puts every kernel row in
    one bank (the row pitch is odd, the row step ``dy`` pitches), so then one row a group."""
    gx = min(fx, lanes)
    gy = min(fy, banks, lanes // gx) if dy % 2 == 1 else 1
    return gy, gx


def dw_groups(fy: int, fx: int, dy: int, lanes: int, banks: int) -> list[tuple[int, int, int, int]]:
    """The tap groups ``(fy0, gy, fx0, gx)`` of a depthwise kernel, row-major: kernel rows in runs
    of :func:`dw_group_shape`'s ``gy``, each cut into runs of ``gx`` columns."""
    gy, gx = dw_group_shape(fy, fx, dy, lanes, banks)
    return [(y, min(gy, fy - y), x, min(gx, fx - x)) for y in range(0, fy, gy) for x in range(0, fx, gx)]


def dw_pitch(nx: int, fy: int, fx: int, dy: int, lanes: int, banks: int) -> int:
    """The IBUF row pitch of a depthwise tile ``nx`` input columns wide: odd when a group reads
    several kernel rows at once (rows ``dy`` pitches apart must sit in distinct banks), so an even
    ``nx`` gets one more column."""
    gy, _ = dw_group_shape(fy, fx, dy, lanes, banks)
    return nx + 1 if gy > 1 and nx % 2 == 0 else nx


def dw_blocks(w: np.ndarray, lanes: int, groups: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Depthwise [C, 1, FY, FX] int8 -> [CB, G, L(r), L(c)] for the tap ``groups`` (:func:`dw_groups`),
    ``out[cb, g, r, c] = w[cb*L + c, 0, fy0 + r // gx, fx0 + r % gx]`` for ``r < gy*gx``, else 0."""
    c = w.shape[0]
    cb = blocks(c, lanes)
    full = np.zeros((cb * lanes, len(groups), lanes), dtype=np.int8)
    for g, (fy0, gy, fx0, gx) in enumerate(groups):
        full[:c, g, : gy * gx] = w[:, 0, fy0 : fy0 + gy, fx0 : fx0 + gx].reshape(c, gy * gx)
    return np.ascontiguousarray(full.reshape(cb, lanes, len(groups), lanes).transpose(0, 2, 3, 1))


def param_entries(
    bias: np.ndarray | None, multiplier: tuple[int, ...], shift: tuple[int, ...], k: int, lanes: int
) -> np.ndarray:
    """PBUF entries for ``k`` channels as uint8 bytes: per channel block, L int32 bias,
    L int32 multiplier, L int8 shift (little-endian). Per-tensor requant is broadcast."""
    kb = blocks(k, lanes)
    b = np.zeros(kb * lanes, dtype="<i4")
    m = np.zeros(kb * lanes, dtype="<i4")
    s = np.zeros(kb * lanes, dtype=np.int8)
    if bias is not None:
        b[:k] = bias
    m[:k] = np.broadcast_to(np.asarray(multiplier, dtype=np.int64), (k,))
    s[:k] = np.broadcast_to(np.asarray(shift, dtype=np.int64), (k,))
    out = np.concatenate(
        [b.reshape(kb, lanes).view(np.uint8), m.reshape(kb, lanes).view(np.uint8), s.reshape(kb, lanes).view(np.uint8)],
        axis=1,
    )
    return out.reshape(-1)
