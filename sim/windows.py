"""Windowed array kernels for the reference simulator: convolution and pooling
over NCHW arrays, vectorized with numpy (no Python loop over pixels or
channels; the only loops are over kernel taps for depthwise convolution).

The kernels are dtype-agnostic. The integer simulator calls them on float64
copies of int8 data: every product and partial sum is an integer far below
2**53 (an int8 product is below 2**14 and no layer sums 2**39 of them), so
float64 arithmetic — and BLAS's summation order — is exact, and much faster
than numpy's integer matmul.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Per-sample GEMM size (M*N*K) from which conv2d multiplies the whole batch at once. OpenBLAS
#: runs smaller products (up to about 100**3) through other kernels whose sums round differently,
#: and one output vector (M = 1) through GEMV; from here on, batched or not, the bits are the same.
BATCHED_GEMM_MIN = 1 << 22


def pad_hw(x: np.ndarray, padding: tuple[int, int], value: float) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def windows(
    x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int] = (1, 1)
) -> np.ndarray:
    """View of all windows of an already padded [N, C, H, W] array:
    shape [N, C, OY, OX, FY, FX] (no copy)."""
    (fy, fx), (sy, sx), (dy, dx) = kernel, stride, dilation
    span_y, span_x = dy * (fy - 1) + 1, dx * (fx - 1) + 1
    v = sliding_window_view(x, (span_y, span_x), axis=(2, 3))
    return v[:, :, ::sy, ::sx, ::dy, ::dx]


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Cross-correlation as PyTorch defines it, zero padding, plus ``bias`` [K] when given.

    x [N, C, H, W], w [K, C/groups, FY, FX] (same dtype) -> [N, K, OY, OX]. The bias is added
    in place on the product's own layout, as one elementwise add after the sums.
    """
    n, c = x.shape[:2]
    k, cg, fy, fx = w.shape
    kg = k // groups
    win = windows(pad_hw(x, padding, 0), (fy, fx), stride, dilation)  # N C OY OX FY FX
    oy, ox = win.shape[2:4]
    if cg == 1 and groups == c:
        # Depthwise (with channel multiplier kg): one multiply-add per kernel tap.
        wt = w.reshape(groups, kg, fy, fx)
        acc = np.zeros((n, groups, kg, oy, ox), dtype=x.dtype)
        for i in range(fy):
            for j in range(fx):
                acc += win[:, :, None, :, :, i, j] * wt[None, :, :, i, j, None, None]
        out = acc.reshape(n, k, oy, ox)
        if bias is not None:
            out += bias.reshape(1, k, 1, 1)
        return out
    if groups == 1 and oy * ox > 1 and oy * ox * cg * fy * fx * k >= BATCHED_GEMM_MIN:
        # One GEMM over the whole batch: [N*OY*OX, C*FY*FX] @ [C*FY*FX, K], in about half the time
        # of one GEMM per sample. Each output element is the same dot product summed in the same
        # order, as long as the per-sample GEMM is big enough to take BLAS's regular path too.
        flat = _columns(win) @ w.reshape(k, cg * fy * fx).T
        if bias is not None:
            flat += bias
        return flat.reshape(n, oy, ox, k).transpose(0, 3, 1, 2)
    # im2col per group: [N, G, OY*OX, Cg*FY*FX] @ [G, Cg*FY*FX, Kg]
    cols = win.reshape(n, groups, cg, oy, ox, fy, fx).transpose(0, 1, 3, 4, 2, 5, 6)
    cols = cols.reshape(n, groups, oy * ox, cg * fy * fx)
    wm = w.reshape(groups, kg, cg * fy * fx).transpose(0, 2, 1)
    prod = np.matmul(cols, wm)  # N G P Kg
    if bias is not None:
        prod += bias.reshape(groups, 1, kg)
    return prod.transpose(0, 1, 3, 2).reshape(n, k, oy, ox)


def _columns(win: np.ndarray) -> np.ndarray:
    """The im2col matrix [N*OY*OX, C*FY*FX] of the windows view [N, C, OY, OX, FY, FX], columns in
    (c, fy, fx) order. For kernels up to 3x3 it is the transpose of a [C, FY, FX, N, OY, OX] array
    filled one tap at a time (whole rows of the input per copy, not FX elements): the GEMM reads it
    transposed, same products, same sums."""
    n, c, oy, ox, fy, fx = win.shape
    if fy * fx > 9:  # few channels, many taps (a 7x7 stem): the copy through the view is quicker
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oy * ox, c * fy * fx)
    taps = np.empty((c, fy, fx, n, oy, ox), dtype=win.dtype)
    for i in range(fy):
        for j in range(fx):
            taps[:, i, j] = win[:, :, :, :, i, j].transpose(1, 0, 2, 3)
    return taps.reshape(c * fy * fx, n * oy * ox).T


def window_max(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Max over the windows of an already padded [N, C, H, W] array -> [N, C, OY, OX]: a running
    np.maximum over the kernel's taps, each a strided view (a max is exact in any order)."""
    (fy, fx), (sy, sx) = kernel, stride
    oy, ox = (x.shape[2] - fy) // sy + 1, (x.shape[3] - fx) // sx + 1
    taps = [
        x[:, :, i : i + sy * (oy - 1) + 1 : sy, j : j + sx * (ox - 1) + 1 : sx] for i in range(fy) for j in range(fx)
    ]
    out = np.empty_like(taps[0])  # the input's memory order, as a reduction over its windows keeps it
    np.copyto(out, taps[0])
    for tap in taps[1:]:
        np.maximum(out, tap, out=out)
    return out


def window_reduce(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    pad_value: float,
    how: str,
) -> np.ndarray:
    """Max or sum over pooling windows of [N, C, H, W] -> [N, C, OY, OX]."""
    padded = pad_hw(x, padding, pad_value)
    if how == "max":
        return window_max(padded, kernel, stride)
    return windows(padded, kernel, stride).sum(axis=(4, 5))
