"""What kind of model a factory returned or a path names, and the clear refusals of the kinds dian
does not import.

dian imports three kinds: an eager ``nn.Module`` (traced with torch.fx), a ``torch.export``
``ExportedProgram`` or the ``.module()`` of one (aten ops), and an ONNX file. Two kinds look like
models but are refused by name, before any tracing, so the error names them rather than a
failure deep in dian's own tracer:

* TorchScript (``torch.jit.script``/``trace`` output, or a ``.pt`` archive written by
  ``torch.jit.save``): its graph is TorchScript IR, not Python dian can trace;
* an already-quantized model (torch.ao ``convert``/``convert_fx``/``convert_pt2e`` output,
  modules of ``torch.ao.nn.quantized``, quantized tensors): dian quantizes by its own arithmetic
  contract, so it needs the float model (or a QAT-prepared one, whose fake-quant modules carry
  the float weights).

Checkpoint files are never unpickled: a pickle can run code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
import torch.nn as nn

from dian.errors import ModelLoadError

TORCHSCRIPT_REFUSAL = "TorchScript is not supported; give the eager nn.Module, an ExportedProgram, or an ONNX file"
QUANTIZED_REFUSAL = (
    "dian quantizes the model itself (int8, its own arithmetic contract), so it takes the float model "
    "(or a QAT-prepared one), not one already converted to quantized modules or tensors; give the model "
    "from before torch.ao's convert / convert_fx / convert_pt2e"
)
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized", "torch.nn.quantized")
_QUANTIZE_OPS = ("quantize_per_tensor", "quantize_per_channel", "dequantize")


def is_aten_graph(model: Any) -> bool:
    """A GraphModule of aten ops: ``ExportedProgram.module()`` (or make_fx output)."""
    return isinstance(model, fx.GraphModule) and any(
        n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload) for n in model.graph.nodes
    )


def refuse_unimportable(model: Any, what: str) -> None:
    """Raise ModelLoadError when ``model`` (described as ``what``) is TorchScript or already quantized."""
    if isinstance(model, torch.jit.ScriptModule | torch.jit.ScriptFunction):
        raise ModelLoadError(f"{what} is a TorchScript {type(model).__name__}: {TORCHSCRIPT_REFUSAL}.")
    found = _quantized_part(model)
    if found:
        raise ModelLoadError(f"{what} is already quantized ({found}): {QUANTIZED_REFUSAL}.")


def _quantized_part(model: Any) -> str | None:
    """The first quantized module, tensor or op of ``model``, described; None for a float model."""
    if isinstance(model, torch.export.ExportedProgram):
        tensors = list(model.state_dict.values()) + list(model.constants.values())
        graph_module: Any = model.graph_module
    elif isinstance(model, nn.Module):
        for path, m in model.named_modules():
            if type(m).__module__.startswith(_QUANTIZED_PACKAGES):
                return f"module `{path or type(m).__name__}` is {type(m).__module__}.{type(m).__name__}"
        tensors = [*model.parameters(), *model.buffers()]
        graph_module = model if isinstance(model, fx.GraphModule) else None
    else:
        return None
    if any(isinstance(t, torch.Tensor) and t.is_quantized for t in tensors):
        return "it holds quantized tensors"
    for n in graph_module.graph.nodes if graph_module is not None else ():
        name = getattr(n.target, "__name__", str(n.target))
        quantizing = any(q in name for q in _QUANTIZE_OPS) and "fake_quant" not in name  # QAT's fake quant is fine
        if n.op in ("call_function", "call_method") and quantizing:
            return f"its graph calls {name} at node `{n.name}`"
    return None


def refuse_checkpoint_file(path: Path) -> None:
    """A ``.pt``/``.pth``/``.pt2`` path given as the model: say what it is and what to give instead
    (the file is sniffed as a zip, never unpickled)."""
    if not path.is_file():
        raise ModelLoadError(
            f"model file '{path}' does not exist (or is not a file); and a {path.suffix} file is not a model "
            f"source dian reads: give `path/to/file.py:factory`, `zoo:NAME` or `path/to/model.onnx`."
        )
    kind = "a PyTorch checkpoint"
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any("/code/" in n or n.endswith("/constants.pkl") for n in names):
            kind = "a TorchScript archive (torch.jit.save)"
        elif any(n.endswith("/serialized_exported_program.json") or "/models/" in n for n in names):
            kind = "a torch.export archive (torch.export.save)"
    except (OSError, zipfile.BadZipFile):
        pass
    if kind.startswith("a TorchScript"):
        advice = TORCHSCRIPT_REFUSAL
    elif kind.startswith("a torch.export"):
        advice = (
            "load it in a model file whose factory returns it, e.g. `def net(): return torch.export.load('m.pt2')` "
            "and give `file.py:net` (loading it runs as your code)"
        )
    else:
        advice = (
            "dian never unpickles a file (a pickle can run code); give `file.py:factory` whose factory builds "
            "the eager nn.Module (and loads the weights), an ExportedProgram, or an ONNX file"
        )
    raise ModelLoadError(f"model '{path}' is {kind}, not a model source dian reads: {advice}.")
