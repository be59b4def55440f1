"""sim/windows.py's kernels against torch, and the batch-independence the calibration relies on.

Calibration runs many samples through one float32 conv2d call; a sample's activations, and so the
ranges and the compiled bytes, must not depend on how many samples share the call. The big-GEMM
path (one product over the whole batch) is checked against one call per sample, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dian.sim import windows

# (N, C, H, K, kernel, stride, padding, groups): the first three take the one-GEMM path
CASES = [
    (4, 64, 20, 64, 3, 1, 1, 1),
    (3, 3, 60, 32, 7, 2, 3, 1),
    (2, 32, 33, 64, 3, 2, 1, 1),
    (3, 8, 9, 6, 3, 1, 1, 1),  # small: one GEMM per sample
    (2, 8, 9, 8, 3, 1, 1, 2),  # grouped
    (2, 8, 9, 16, 3, 1, 0, 8),  # depthwise, channel multiplier 2
    (3, 16, 1, 8, 1, 1, 0, 1),  # one output pixel
]


@pytest.mark.parametrize("n, c, h, k, f, s, p, g", CASES)
def test_conv2d_matches_torch_and_does_not_depend_on_the_batch(
    n: int, c: int, h: int, k: int, f: int, s: int, p: int, g: int
) -> None:
    rng = np.random.default_rng(h * k)
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = rng.standard_normal((k, c // g, f, f)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    out = windows.conv2d(x, w, (s, s), (p, p), (1, 1), g, b)
    ref = F.conv2d(*(torch.from_numpy(a).double() for a in (x, w, b)), stride=s, padding=p, groups=g).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    one_by_one = np.concatenate([windows.conv2d(x[i : i + 1], w, (s, s), (p, p), (1, 1), g, b) for i in range(n)])
    np.testing.assert_array_equal(out, one_by_one)  # bit for bit


def test_the_first_cases_take_the_one_gemm_path() -> None:
    """The batch-independence test above is only worth something if it reaches the big GEMM."""

    def gemm_size(case: tuple[int, ...]) -> int:
        _, c, h, k, f, s, p, _ = case
        out = (h + 2 * p - f) // s + 1
        return out * out * c * f * f * k

    assert all(case[-1] == 1 and gemm_size(case) >= windows.BATCHED_GEMM_MIN for case in CASES[:3])
    assert gemm_size(CASES[3]) < windows.BATCHED_GEMM_MIN


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (2, 2, 0), ((3, 1), (1, 2), (1, 0)), (1, 1, 0)])
def test_max_pooling_matches_torch(dtype: type, kernel: object, stride: object, padding: object) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 3, 9, 8)) * 40).astype(dtype)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    pad_value = -np.inf if dtype == np.float32 else -128
    out = windows.window_reduce(x, pair(kernel), pair(stride), pair(padding), pad_value, "max")
    ref = F.max_pool2d(torch.from_numpy(x.astype(np.float32)), kernel, stride, padding).numpy()
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.astype(np.float32), ref)
