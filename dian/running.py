"""Running a compiled output folder on the reference simulator, from Python: the host's part
(quantize the input, dequantize the outputs) around the bit-exact integer graph. `dian run`
without ``--on`` is this."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import outdir
from .ir import load_graph
from .sim.host import run_compiled_outputs, single_output


def run_model_outputs(out_dir: str | Path, x: np.ndarray, allow_modified: bool = False) -> dict[str, np.ndarray]:
    """Run the compiled integer graph in ``out_dir`` on the float input ``x`` as the accelerator would,
    and return every output by name, in the graph's order.

    The host quantizes ``x`` with the graph input's scale (round half to even, saturating to int8),
    the reference simulator executes the integer graph bit-exactly, and the host dequantizes each
    int8 output to float32 with its own scale. A folder whose files changed since compile raises
    :class:`~dian.errors.OutputDirError` unless ``allow_modified``.
    """
    path = Path(out_dir)
    manifest = outdir.read_manifest(path)
    graph = load_graph(path / outdir.INT_IR)  # a damaged IR is named as such, before "modified"
    outdir.refuse_modified(path, manifest, allow_modified)
    return run_compiled_outputs(graph, x, str(out_dir))


def run_model(out_dir: str | Path, x: np.ndarray, allow_modified: bool = False) -> np.ndarray:
    """:func:`run_model_outputs` of a model with one output: that output (float32). A model with
    several raises :class:`~dian.errors.OutputDirError` naming them."""
    return single_output(run_model_outputs(out_dir, x, allow_modified), str(out_dir))
