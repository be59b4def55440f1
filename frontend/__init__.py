"""dian.frontend: PyTorch model in, float and integer layer-IR Graphs out.

``load_model`` (file, zoo or ONNX) -> ``float_graph`` (torch.fx trace, torch.export or ONNX
import; BN folding) ->
``calibrate`` (ranges from the reference simulator) -> ``quantize`` (int8,
the arithmetic contract of ir/ops.py). ``lower`` does the last three at once;
``lower_model`` too, with a calibration method and a QAT model's learned ranges.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dian.ir import DEFAULT_ACC_BITS, Graph

from .calib_source import CalibSet, calibration_set
from .calibrate import calibrate
from .calibration_data import calibration_samples
from .importers import float_graph
from .loader import LoadedModel, load_model
from .lowering import Lowered, lower_model
from .quantize import quantize
from .range_methods import DEFAULT_PERCENTILE, CalibMethod, calib_method, check_percentile
from .rebatch import with_batch
from .trace import trace


def lower(
    module: Any, input_shape: tuple[int, ...], calib: np.ndarray, name: str, acc_bits: int = DEFAULT_ACC_BITS
) -> tuple[Graph, Graph]:
    """``(float_graph, int_graph)`` of ``module`` (an nn.Module, an ExportedProgram or an ONNX model)
    for ``input_shape``, calibrated on ``calib`` (max-abs)."""
    lowered = lower_model(module, input_shape, calib, name, acc_bits=acc_bits)
    return lowered.float_graph, lowered.int_graph


__all__ = [
    "DEFAULT_PERCENTILE",
    "CalibMethod",
    "CalibSet",
    "LoadedModel",
    "Lowered",
    "calib_method",
    "calibrate",
    "calibration_samples",
    "calibration_set",
    "check_percentile",
    "float_graph",
    "load_model",
    "lower",
    "lower_model",
    "quantize",
    "trace",
    "with_batch",
]
