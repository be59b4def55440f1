"""Batch-norm folding: eval-mode BN is an affine map per channel, so it merges
into the preceding conv/linear (or becomes a depthwise 1x1 conv on its own).

Folding happens on float64 copies and is cast back to float32 once, so the
folded layer matches ``bn(conv(x))`` to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import torch.nn as nn

from dian.errors import UnsupportedOpError

BatchNorm = nn.BatchNorm1d | nn.BatchNorm2d


def bn_affine(bn: BatchNorm, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(scale, shift)`` with ``bn(x) == x * scale + shift`` in eval mode.

    BN without running statistics normalizes with the batch's own statistics
    even in eval mode, which is not a fixed affine map and cannot be folded.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise UnsupportedOpError(
            f"{type(bn).__name__} at {where} has track_running_stats=False, so it normalizes with "
            f"batch statistics even in eval mode; dian folds only batch norms with running statistics "
            f"(the default)."
        )
    mean = bn.running_mean.detach().double().numpy()
    var = bn.running_var.detach().double().numpy()
    gamma = bn.weight.detach().double().numpy() if bn.weight is not None else None
    beta = bn.bias.detach().double().numpy() if bn.bias is not None else None
    return affine_from_stats(mean, var, gamma, beta, bn.eps)


def affine_from_stats(
    mean: np.ndarray, var: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` of an inference batch norm given as arrays (torch.export's
    ``aten.batch_norm``, ONNX's BatchNormalization), in float64; no ``gamma``/``beta`` means 1/0."""
    mean, var = np.asarray(mean, np.float64).reshape(-1), np.asarray(var, np.float64).reshape(-1)
    g = np.ones_like(mean) if gamma is None else np.asarray(gamma, np.float64).reshape(-1)
    b = np.zeros_like(mean) if beta is None else np.asarray(beta, np.float64).reshape(-1)
    scale = g / np.sqrt(var + float(eps))
    return scale, b - mean * scale


def fold_into(weight: np.ndarray, bias: np.ndarray | None, bn: BatchNorm, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Weights/bias of ``bn(layer(x))`` for a conv ([K, ...] weight) or linear ([out, in])."""
    scale, shift = bn_affine(bn, where)
    w = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    b = shift if bias is None else bias.astype(np.float64) * scale + shift
    return w.astype(np.float32), b.astype(np.float32)


def standalone(bn: BatchNorm, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Weight/bias of the layer that replaces a BN with no foldable producer:
    a depthwise 1x1 conv ([C, 1, 1, 1]) for BatchNorm2d, a diagonal linear
    ([C, C]) for BatchNorm1d."""
    scale, shift = bn_affine(bn, where)
    w = scale.reshape(-1, 1, 1, 1) if isinstance(bn, nn.BatchNorm2d) else np.diag(scale)
    return w.astype(np.float32), shift.astype(np.float32)
