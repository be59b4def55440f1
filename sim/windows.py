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
) -> np.ndarray:
    """Cross-correlation as PyTorch defines it, zero padding, without bias.

    x [N, C, H, W], w [K, C/groups, FY, FX] (same dtype) -> [N, K, OY, OX].
    """
    n, c = x.shape[:2]
    k, cg, fy, fx = w.shape
    kg = k // groups
    win = windows(pad_hw(x, padding, 0), (fy, fx), stride, dilation)  # N C OY OX FY FX
    oy, ox = win.shape[2:4]
    if cg == 1 and groups == c:
        # Depthwise (with channel multiplier kg): one multiply-add per kernel tap.
        wt = w.reshape(groups, kg, fy, fx)
        out = np.zeros((n, groups, kg, oy, ox), dtype=x.dtype)
        for i in range(fy):
            for j in range(fx):
                out += win[:, :, None, :, :, i, j] * wt[None, :, :, i, j, None, None]
        return out.reshape(n, k, oy, ox)
    # im2col per group: [N, G, OY*OX, Cg*FY*FX] @ [G, Cg*FY*FX, Kg]
    cols = win.reshape(n, groups, cg, oy, ox, fy, fx).transpose(0, 1, 3, 4, 2, 5, 6)
    cols = cols.reshape(n, groups, oy * ox, cg * fy * fx)
    wm = w.reshape(groups, kg, cg * fy * fx).transpose(0, 2, 1)
    out = np.matmul(cols, wm)  # N G P Kg
    return out.transpose(0, 1, 3, 2).reshape(n, k, oy, ox)


def window_reduce(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    pad_value: float,
    how: str,
) -> np.ndarray:
    """Max or sum over pooling windows of [N, C, H, W] -> [N, C, OY, OX]."""
    win = windows(pad_hw(x, padding, pad_value), kernel, stride)
    return win.max(axis=(4, 5)) if how == "max" else win.sum(axis=(4, 5))
