"""The host's side of a run: what happens before and after the integer graph
executes, shared by `dian run`, `dian simulate` and the co-search's int8
accuracy. The host only checks and quantizes the float input and dequantizes
the outputs; every operator runs in the graph.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dian.errors import InputShapeError, OutputDirError
from dian.ir import Graph

from .reference import dequantize_output, quantize_input, run_graph


def run_compiled_outputs(graph: Graph, x: np.ndarray, where: str = "the compiled model") -> dict[str, np.ndarray]:
    """The host's whole run of an integer graph on the reference simulator: ``x`` checked and
    quantized (:func:`quantize_for`), the graph run, every output dequantized (in the graph's
    output order). `dian run` and `dian.api.run_model_outputs` call it per input."""
    name, q = quantize_for(graph, x, where)
    return dequantize_outputs(graph, run_graph(graph, {name: q}))


def run_compiled(graph: Graph, x: np.ndarray, where: str = "the compiled model") -> np.ndarray:
    """:func:`run_compiled_outputs` of a graph with one output: that output. nas/ calls it on a
    batched graph, `dian.api.run_model` per input."""
    return single_output(run_compiled_outputs(graph, x, where), where)


def dequantize_outputs(graph: Graph, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph outputs among int8 ``values`` as float32, each with its own scale."""
    return {o: dequantize_output(values[o], graph.tensors[o].quant.scale[0]) for o in graph.outputs}  # type: ignore[union-attr]


def single_output(outputs: Mapping[str, np.ndarray], where: str) -> np.ndarray:
    """The one value of ``outputs``, or a clear error naming them when a model has several."""
    if len(outputs) != 1:
        raise OutputDirError(
            f"{where} has {len(outputs)} outputs ({', '.join(outputs)}); take them all with "
            f"dian.api.run_model_outputs (on the command line: --output Y.npz)."
        )
    return next(iter(outputs.values()))


def quantize_for(graph: Graph, x: np.ndarray, where: str) -> tuple[str, np.ndarray]:
    """The host's part before a run: check the float input ``x`` against the graph's one input and
    quantize it with that input's scale. Returns the input's name and the int8 array."""
    if len(graph.inputs) != 1:
        raise OutputDirError(f"{where}: dian runs graphs with one input; this one has inputs {list(graph.inputs)}.")
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


__all__ = ["dequantize_outputs", "quantize_for", "run_compiled", "run_compiled_outputs", "single_output"]
