"""One model to its float and integer graphs: trace, calibrate, quantize — with the learned
ranges of a QAT model (frontend/qat.py) in place of calibrated ones where it has them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch.nn as nn

from dian.ir import DEFAULT_ACC_BITS, Conv2d, Graph, Linear

from . import qat
from .calibrate import calibrate
from .importers import float_graph
from .quantize import quantize
from .range_methods import DEFAULT_PERCENTILE, CalibMethod


def _by_op(graph: Graph, by_path: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weight scales by IR op name: fx names a module's node after its path (``a.0.conv`` ->
    ``a_0_conv``); a scale whose op is missing or of another size is dropped (dian's own then)."""
    ops = {op.name: op for op in graph.ops if isinstance(op, (Conv2d, Linear))}
    out = {}
    for path, scales in by_path.items():
        op = ops.get(path.replace(".", "_"))
        if op is not None and graph.tensors[op.weight].shape[0] == len(scales):
            out[op.name] = scales
    return out


@dataclass(frozen=True)
class Lowered:
    """The graphs, and where the activation scales came from: ``learned`` names the tensors
    whose scale a QAT fake-quant set, ``calibrated`` those measured on the calibration data."""

    float_graph: Graph
    int_graph: Graph
    learned: tuple[str, ...] = ()
    calibrated: tuple[str, ...] = ()


class _ReadLog(Mapping[str, float]):
    """The ranges, remembering which ones the quantizer read (the tensors that got a scale of
    their own; the others inherit their input's)."""

    def __init__(self, ranges: dict[str, float]) -> None:
        self.ranges = ranges
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> float:
        self.read.add(key)
        return self.ranges[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ranges)

    def __len__(self) -> int:
        return len(self.ranges)


def lower_model(
    module: Any,
    input_shape: tuple[int, ...],
    calib: np.ndarray,
    name: str,
    method: CalibMethod = CalibMethod.MAX,
    percentile: float = DEFAULT_PERCENTILE,
    acc_bits: int = DEFAULT_ACC_BITS,
) -> Lowered:
    """Lower ``module`` (an nn.Module, an ExportedProgram or an ONNX model, importers.py) for
    ``input_shape``, calibrated on ``calib`` by ``method``; a QAT-prepared module keeps its learned
    ranges and weight scales; an already converted one is refused (model_kinds.py), and so is one
    prepared for post-training quantization."""
    weight_scales: dict[str, np.ndarray] = {}
    if isinstance(module, nn.Module):
        qat.refuse_observers(module, name)
        if qat.is_qat(module):
            module, weight_scales = qat.strip_qat(module, name)
    fg = float_graph(module, input_shape, name)
    learned = qat.learned_ranges(fg.metadata)
    ranges = _ReadLog(calibrate(fg, calib, method=method, percentile=percentile) | learned)
    int_graph = quantize(fg, ranges, acc_bits, _by_op(fg, weight_scales))
    return Lowered(
        fg,
        int_graph,
        tuple(sorted(ranges.read & learned.keys())),
        tuple(sorted(ranges.read - learned.keys())),
    )
