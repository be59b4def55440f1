"""The host's side of a run: what happens before and after the integer graph
executes, shared by `dian run`, `dian simulate` and the co-search's int8
accuracy. The host only checks and quantizes the float input and dequantizes
the output; every operator runs in the graph.
"""

from __future__ import annotations

import numpy as np

from dian.errors import InputShapeError, OutputDirError
from dian.ir import Graph

from .reference import dequantize_output, quantize_input, run_graph


def run_compiled(graph: Graph, x: np.ndarray, where: str = "the compiled model") -> np.ndarray:
    """The host's whole run of an integer graph on the reference simulator: ``x`` checked and
    quantized (:func:`quantize_for`), the graph run, its one output dequantized. `dian run` and
    `dian.api.run_model` call it per input; nas/ calls it on a batched graph."""
    name, q = quantize_for(graph, x, where)
    out_name = graph.outputs[0]
    q_out = run_graph(graph, {name: q})[out_name]
    return dequantize_output(q_out, graph.tensors[out_name].quant.scale[0])  # type: ignore[union-attr]


def quantize_for(graph: Graph, x: np.ndarray, where: str) -> tuple[str, np.ndarray]:
    """The host's part before a run: check the float input ``x`` against the graph's one input and
    quantize it with that input's scale. Returns the input's name and the int8 array."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise OutputDirError(
            f"{where}: dian runs graphs with one input and one output; "
            f"this one has inputs {list(graph.inputs)} and outputs {list(graph.outputs)}."
        )
    (name,) = graph.inputs
    spec = graph.tensors[name]
    x = np.asarray(x)
    if tuple(x.shape) != spec.shape:
        raise InputShapeError(
            f"the input has shape {list(x.shape)} but {where} was compiled for "
            f"{list(spec.shape)} (input '{name}'); reshape the data or recompile with that --input-shape."
        )
    if x.dtype.kind not in "fiu":
        raise InputShapeError(f"the input is {x.dtype}; give real numbers (float32) of shape {list(spec.shape)}.")
    if not np.isfinite(x).all():
        raise InputShapeError("the input holds NaN or infinite values; give finite float32 data.")
    return name, quantize_input(x, spec.quant.scale[0])  # type: ignore[union-attr]


__all__ = ["quantize_for", "run_compiled"]
