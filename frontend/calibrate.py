"""Calibration: the range of every activation of the float graph on
representative inputs, measured by running the float graph in the reference
simulator — the same interpreter that defines the integer arithmetic, so the
ranges describe the graph that is quantized, not a different torch model.
The range is the largest ``|x|`` by default; ``range_methods`` has the others
(a percentile of ``|x|``, the MSE-optimal clipping range).
"""

from __future__ import annotations

import math

import numpy as np

from dian.errors import InputShapeError
from dian.ir import Graph
from dian.limits import check_memory
from dian.sim.reference import run_graph

from .range_methods import DEFAULT_PERCENTILE, AbsHistogram, CalibMethod, choose_range
from .rebatch import with_batch

DEFAULT_CHUNK = 16  # samples per simulator call: bounds memory with keep_all on big models


def calibrate(
    float_graph: Graph,
    batches: np.ndarray,
    chunk: int = DEFAULT_CHUNK,
    method: CalibMethod = CalibMethod.MAX,
    percentile: float = DEFAULT_PERCENTILE,
) -> dict[str, float]:
    """The range of every activation tensor (graph inputs included) over all samples of
    ``batches`` ([num_samples, *input_shape[1:]], float): its max-abs, or what ``method``
    picks from a histogram of its magnitudes. A tensor that took inf/NaN keeps that as its
    range whatever the method, and quantize rejects it."""
    if float_graph.is_quantized or len(float_graph.inputs) != 1:
        raise InputShapeError(
            f"calibrate takes a float graph with one input; graph '{float_graph.name}' "
            f"has inputs {list(float_graph.inputs)} (quantized: {float_graph.is_quantized})."
        )
    name = float_graph.inputs[0]
    sample_shape = float_graph.tensors[name].shape[1:]
    x = np.asarray(batches, dtype=np.float32)
    if x.ndim != len(sample_shape) + 1 or x.shape[1:] != sample_shape or x.shape[0] < 1:
        raise InputShapeError(
            f"calibration data has shape {list(x.shape)}; graph '{float_graph.name}' takes "
            f"samples of shape {list(sample_shape)}, so it must be [num_samples, "
            f"{', '.join(map(str, sample_shape))}] with num_samples >= 1."
        )
    per_sample = sum(math.prod(t.shape) // max(t.shape[0], 1) for t in float_graph.activations())
    at_once = min(chunk, x.shape[0])
    check_memory(
        4 * per_sample * at_once,
        f"calibrating graph '{float_graph.name}' would hold {at_once} samples' activations at a time "
        f"({per_sample:,} float32 values per sample)",
        "give a smaller --input-shape",
    )
    ranges = {t.name: 0.0 for t in float_graph.activations()}
    hists = {t: AbsHistogram() for t in ranges} if method is not CalibMethod.MAX else {}
    graphs: dict[int, Graph] = {}
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk]
        g = graphs.get(len(part)) or graphs.setdefault(len(part), with_batch(float_graph, len(part)))
        for tensor, value in run_graph(g, {name: part}, keep_all=True).items():
            if value.size:
                m = float(np.maximum(value.max(), -value.min()))  # max |x| without an |x| copy; NaN propagates
                ranges[tensor] = m if np.isnan(m) else max(ranges[tensor], m)  # NaN sticks; quantize rejects it
                if tensor in hists and math.isfinite(m):
                    hists[tensor].add(value)
    if method is CalibMethod.MAX:
        return ranges
    return {t: choose_range(hists[t], method, percentile) if math.isfinite(r) else r for t, r in ranges.items()}
