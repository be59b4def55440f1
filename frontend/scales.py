"""Scales and integer values of activations, weights and biases.

Activations: int8, per-tensor symmetric, ``scale = max_abs / 127``. A tensor
that was all zeros on the calibration data (a dead ReLU, say) has no range to
measure; its range is floored at :data:`MIN_ACT_RANGE` so the scale stays
positive and the ratios that involve it stay finite.

Weights: int8, per output channel symmetric, ``scale_k = max|w_k| / 127``,
``q = clip(round_half_even(w / scale_k), -127, 127)`` (-128 is never used, so
the range is symmetric). Given scales (a QAT model's learned weight scales,
frontend/qat.py) replace ``max|w_k| / 127``; weights beyond ``127 * scale_k``
saturate. An all-zero row represents nothing whatever its
scale; its scale only sets the unit of that channel's bias
(``s_in * scale_k``), so it takes the smallest scale of the layer's other rows
(1/127 if every row is zero).

Bias: int32, ``round_half_even(b / (s_in * scale_k))``. The accumulator must
provably fit ``acc_bits`` for any int8 input: ``128 * sum|q_k| + |bias_k| <
2**(acc_bits-1)``. When a bias is too large for the room the weights leave
(e.g. a BN-folded channel with tiny weights and a large shift) that channel's
weight scale is widened until the bias fits — the adjustment TFLite's
quantizer makes — and if even that cannot work the layer is rejected.
"""

from __future__ import annotations

import math

import numpy as np

from dian.errors import QuantizationError

QMAX = 127
MIN_ACT_RANGE = 2.0**-20  # floor on a calibrated max-abs (about 1e-6)


def activation_scale(max_abs: float, tensor: str) -> float:
    """Per-tensor scale from a calibrated max-abs value."""
    if not math.isfinite(max_abs) or max_abs < 0:
        raise QuantizationError(
            f"tensor '{tensor}' has calibrated range {max_abs!r}; ranges must be finite "
            f"(the float model produced inf/NaN on the calibration data)."
        )
    return max(float(max_abs), MIN_ACT_RANGE) / QMAX


def quantize_round(x: np.ndarray) -> np.ndarray:
    """Round half to even (``np.rint``), the rounding of ``torch.quantize_per_tensor``."""
    return np.rint(x)


def quantize_weights(
    weight: np.ndarray,
    bias: np.ndarray | None,
    in_scale: float,
    acc_bits: int,
    layer: str,
    given: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(q_weight int8, scales float64[K], q_bias int32 | None)`` for a conv/linear
    whose input has scale ``in_scale`` (weight scales ``given``, or from the weights);
    raises QuantizationError when the ``acc_bits`` accumulator cannot be proven safe."""
    w = weight.astype(np.float64).reshape(weight.shape[0], -1)
    scales = np.abs(w).max(axis=1) / QMAX if given is None else np.array(given, dtype=np.float64)
    nonzero = scales > 0
    scales[~nonzero] = scales[nonzero].min() if nonzero.any() else 1.0 / QMAX
    q = np.clip(quantize_round(w / scales[:, None]), -QMAX, QMAX)
    limit = 2 ** (acc_bits - 1) - 1
    qb = None
    if bias is not None:
        b = bias.astype(np.float64)
        budget = limit - 128 * np.abs(q).sum(axis=1)  # room the worst-case weight sum leaves for the bias
        too_big = np.abs(quantize_round(b / (in_scale * scales))) > budget - 1
        for k in np.flatnonzero(too_big):
            if budget[k] <= 2:
                break  # nothing left for the bias: reported by the proof below
            scales[k] = abs(b[k]) / (in_scale * (budget[k] - 2))
            q[k] = np.clip(quantize_round(w[k] / scales[k]), -QMAX, QMAX)
        qb = quantize_round(b / (in_scale * scales))
    bound = 128 * np.abs(q).sum(axis=1) + (np.abs(qb) if qb is not None else 0)
    if bound.max() > limit:
        worst = int(bound.argmax())
        raise QuantizationError(
            f"layer '{layer}': output channel {worst} can reach |acc| = {int(bound[worst])} with int8 inputs "
            f"({w.shape[1]} inputs per output), but a {acc_bits}-bit accumulator holds at most {limit}; "
            f"use a wider accumulator (acc_bits) or a layer with fewer inputs per output."
        )
    q_weight = q.reshape(weight.shape).astype(np.int8)
    return q_weight, scales, None if qb is None else qb.astype(np.int32)
