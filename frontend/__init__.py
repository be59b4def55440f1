"""dian.frontend: PyTorch model in, float and integer layer-IR Graphs out.

``load_model`` (file, zoo or ONNX) -> ``float_graph`` (torch.fx trace, torch.export or ONNX
import; BN folding) ->
``calibrate`` (ranges from the reference simulator) -> ``quantize`` (int8,
the arithmetic contract of ir/ops.py). ``lower`` does the last three at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dian.ir import DEFAULT_ACC_BITS, Graph

from .calibrate import calibrate
from .calibration_data import calibration_samples
from .importers import float_graph
from .loader import LoadedModel, load_model
from .quantize import quantize
from .rebatch import with_batch
from .trace import trace


def lower(
    module: Any, input_shape: tuple[int, ...], calib: np.ndarray, name: str, acc_bits: int = DEFAULT_ACC_BITS
) -> tuple[Graph, Graph]:
    """``(float_graph, int_graph)`` of ``module`` (an nn.Module, an ExportedProgram or an ONNX model)
    for ``input_shape``, calibrated on ``calib``."""
    fg = float_graph(module, input_shape, name)
    return fg, quantize(fg, calibrate(fg, calib), acc_bits)


__all__ = [
    "LoadedModel",
    "calibrate",
    "calibration_samples",
    "float_graph",
    "load_model",
    "lower",
    "quantize",
    "trace",
    "with_batch",
]
