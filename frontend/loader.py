"""Model sources: ``path/to/file.py:factory``, ``zoo:NAME`` and ``path/to/model.onnx``.

A model file is imported by path (its directory is on ``sys.path`` while it
runs, so it can import its neighbours) and ``factory()`` is called to build
the network: an ``nn.Module``, or a ``torch.export`` ``ExportedProgram`` (or
its ``.module()``). An ONNX file is read as data (onnx_file.py), never run.
TorchScript, already-quantized models and checkpoint files (``.pt``, never
unpickled) are refused by name (model_kinds.py). The file may also define

* ``calibration_data(num_samples, rng) -> np.ndarray``: representative
  float32 NCHW inputs, used instead of dian's default calibration data;
* ``INPUT_SHAPE``: the default input shape (batch included), e.g. (1, 3, 32, 32).

``source_sha256`` identifies what was loaded (the file's bytes, or the zoo
entry's code and checkpoint) so compile outputs can record their inputs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch.nn as nn

from dian.errors import ModelLoadError

from .importers import is_exported, own_input_shape, run_float
from .model_kinds import refuse_checkpoint_file, refuse_unimportable
from .onnx_file import load_onnx
from .zoo import ZOO

CalibrationFn = Callable[[int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class LoadedModel:
    """``module`` is an nn.Module, an ExportedProgram (or its ``.module()``) or an onnx_file.OnnxModel."""

    name: str
    module: Any
    calibration_fn: CalibrationFn | None
    default_input_shape: tuple[int, ...] | None
    source_sha256: str

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The float model's outputs for the batch ``x`` (no gradients), as numpy."""
        return run_float(self.module, x)


def load_model(source: str) -> LoadedModel:
    """Build the model named by ``source``; raises ModelLoadError saying what
    is wrong with the source and what would be accepted."""
    if source.startswith("zoo:"):
        return _load_zoo(source[len("zoo:") :])
    if source.lower().endswith(".onnx"):
        model, sha = load_onnx(Path(source))
        return LoadedModel(model.name, model, None, own_input_shape(model), sha)
    if source.lower().endswith(CHECKPOINT_SUFFIXES):
        refuse_checkpoint_file(Path(source))
    path, sep, factory = source.rpartition(":")
    if not sep or not path or not factory:
        raise ModelLoadError(
            f"model source '{source}' is neither `path/to/file.py:factory`, `zoo:NAME` nor `path/to/model.onnx`; "
            f"zoo models: {', '.join(sorted(ZOO))}."
        )
    return _load_file(Path(path), factory)


#: Files that hold pickles or TorchScript: refused by name, never opened as Python or unpickled.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".pt2", ".ptl", ".ckpt", ".bin")


def _load_zoo(name: str) -> LoadedModel:
    entry = ZOO.get(name)
    if entry is None:
        listing = "; ".join(f"{n} ({e.description})" for n, e in sorted(ZOO.items()))
        raise ModelLoadError(f"unknown zoo model '{name}'; the zoo has: {listing}.")
    digest = hashlib.sha256()
    for f in entry.files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return LoadedModel(name, entry.factory(), entry.calibration_fn, entry.default_input_shape, digest.hexdigest())


def _load_file(path: Path, factory_name: str) -> LoadedModel:
    if not path.is_file():
        raise ModelLoadError(
            f"model file '{path}' does not exist (or is not a file); give `path/to/file.py:factory` "
            f"with a path relative to the current directory ({Path.cwd()}) or absolute."
        )
    if path.name.lower().endswith(CHECKPOINT_SUFFIXES):
        refuse_checkpoint_file(path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    mod = _import_file(path, sha)
    factory = getattr(mod, factory_name, None)
    if factory is None or not callable(factory):
        defined = _defined_callables(mod)
        what = "is not callable" if factory is not None else "is not defined"
        raise ModelLoadError(
            f"'{factory_name}' {what} in model file '{path}'; the file defines these callables: "
            f"{', '.join(defined) or '(none)'}. Name the function (or nn.Module class) that "
            f"builds the model: `{path}:<factory>`."
        )
    with _on_sys_path(path.parent):
        try:
            module = factory()
        except Exception as e:
            raise ModelLoadError(f"calling {factory_name}() from '{path}' raised {type(e).__name__}: {e}") from e
    if not isinstance(module, nn.Module) and not is_exported(module):
        raise ModelLoadError(
            f"{factory_name}() from '{path}' returned {type(module).__name__}, not a torch.nn.Module or a "
            f"torch.export.ExportedProgram; the factory must build and return the network."
        )
    refuse_unimportable(module, f"the model {factory_name}() from '{path}' returned")
    calib = getattr(mod, "calibration_data", None)
    shape = _input_shape(mod, path) or own_input_shape(module)
    return LoadedModel(factory_name, module, calib if callable(calib) else None, shape, sha)


def _import_file(path: Path, sha: str) -> ModuleType:
    name = f"_dian_model_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}_{sha[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import '{path}' as Python; a model file must be a .py source file.")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses, pickling and fx look modules up by name
    with _on_sys_path(path.parent):
        try:
            spec.loader.exec_module(mod)
        except Exception as e:
            del sys.modules[name]
            raise ModelLoadError(f"importing model file '{path}' raised {type(e).__name__}: {e}") from e
    return mod


class _on_sys_path:
    """Put a directory first on sys.path for the duration of a block."""

    def __init__(self, directory: Path) -> None:
        self.directory = str(directory.resolve())

    def __enter__(self) -> None:
        sys.path.insert(0, self.directory)

    def __exit__(self, *exc: object) -> None:
        if self.directory in sys.path:
            sys.path.remove(self.directory)


def _defined_callables(mod: ModuleType) -> list[str]:
    return sorted(
        n
        for n, v in vars(mod).items()
        if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == mod.__name__
    )


def _input_shape(mod: ModuleType, path: Path) -> tuple[int, ...] | None:
    shape = getattr(mod, "INPUT_SHAPE", None)
    if shape is None:
        return None
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise ModelLoadError(
            f"INPUT_SHAPE in '{path}' is {shape!r}; it must be a tuple of positive integers "
            f"including the batch, e.g. (1, 3, 32, 32)."
        )
    return dims
