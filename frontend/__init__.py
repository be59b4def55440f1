"""dian.frontend: PyTorch model in, float and integer layer-IR Graphs out.

``load_model`` (file or zoo) -> ``trace`` (torch.fx, BN folding) ->
``calibrate`` (ranges from the reference simulator) -> ``quantize`` (int8,
the arithmetic contract of ir/ops.py). ``lower`` does the last three at once.
"""

from __future__ import annotations

import numpy as np
import torch.nn as nn

from dian.ir import DEFAULT_ACC_BITS, Graph

from .calibrate import calibrate
from .calibration_data import calibration_samples
from .loader import LoadedModel, load_model
from .quantize import quantize
from .rebatch import with_batch
from .trace import trace


def lower(
    module: nn.Module, input_shape: tuple[int, ...], calib: np.ndarray, name: str, acc_bits: int = DEFAULT_ACC_BITS
) -> tuple[Graph, Graph]:
    """``(float_graph, int_graph)`` of ``module`` for ``input_shape``, calibrated on ``calib``."""
    float_graph = trace(module, input_shape, name)
    return float_graph, quantize(float_graph, calibrate(float_graph, calib), acc_bits)


__all__ = ["LoadedModel", "calibrate", "calibration_samples", "load_model", "lower", "quantize", "trace", "with_batch"]
