"""dian: a hardware-generating compiler for neural networks.

The public Python API lives in :mod:`dian.api` (``compile_model``,
``run_model``, ``model_info``, ``simulate_model``, ``synth_model``), re-exported here on first use; this module
stays light so that ``import dian.ir`` does not pull in torch.
"""

from typing import Any

from .errors import DianError
from .version import __version__

_API = ("CompileResult", "compile_model", "model_info", "run_model", "simulate_model", "synth_model")


def __getattr__(name: str) -> Any:
    if name in _API:  # imported lazily: dian.api imports dian.ir, which imports dian.errors
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'dian' has no attribute {name!r}")


__all__ = ["DianError", "__version__", *_API]
