"""The one place that knows the kinds of model dian imports and which importer builds each one's
float Graph: an eager ``nn.Module`` (trace.py, torch.fx), a ``torch.export`` program or its
``.module()`` (export_import.py), an ONNX file (onnx_import.py). TorchScript and already-quantized
models are refused here by name (model_kinds.py), so no importer meets them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from dian.errors import ModelLoadError
from dian.ir import Graph

from .export_import import as_graph_module, exported_input_shape, import_exported
from .model_kinds import is_aten_graph, refuse_unimportable
from .onnx_file import OnnxModel
from .trace import trace

#: What a factory may return, or a path may name, for dian to import.
ACCEPTED = "a torch.nn.Module, a torch.export.ExportedProgram (or its .module()), or an ONNX file"


def is_exported(model: Any) -> bool:
    return isinstance(model, torch.export.ExportedProgram) or is_aten_graph(model)


def float_graph(model: Any, input_shape: tuple[int, ...], name: str) -> Graph:
    """The verified float Graph of ``model`` for inputs of ``input_shape``, by the importer of its kind."""
    if isinstance(model, OnnxModel):
        from .onnx_import import import_onnx  # onnx only for ONNX models (onnx_file.py)

        return import_onnx(model, input_shape, name)
    refuse_unimportable(model, f"model '{name}'")
    if is_exported(model):
        return import_exported(model, input_shape, name)
    if isinstance(model, nn.Module):
        return trace(model, input_shape, name)
    raise ModelLoadError(f"model '{name}' is a {type(model).__name__}; dian imports {ACCEPTED}.")


def own_input_shape(model: Any) -> tuple[int, ...] | None:
    """The input shape a model fixes itself: an exported program's, an ONNX file's declared one."""
    if isinstance(model, OnnxModel):
        from .onnx_import import default_input_shape

        return default_input_shape(model)
    return exported_input_shape(model) if is_exported(model) else None


def run_float(model: Any, x: np.ndarray) -> np.ndarray:
    """The float model's own outputs for ``x``: torch for modules and programs, onnx's reference
    evaluator for ONNX files."""
    x = np.asarray(x, dtype=np.float32)
    if isinstance(model, OnnxModel):
        from onnx.reference import ReferenceEvaluator

        inputs = {t.name for t in model.proto.graph.initializer}
        name = next(v.name for v in model.proto.graph.input if v.name not in inputs)
        outputs: Any = ReferenceEvaluator(model.proto).run(None, {name: x})
        return np.asarray(outputs[0])
    module = as_graph_module(model) if is_exported(model) else model
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()
