"""Quantization-aware-trained models: compile with the activation ranges training learned.

A model prepared with torch.ao's FX flow (``prepare_qat_fx(model, qconfig_mapping, example)``),
trained and handed to dian *un-converted* keeps its fake-quant modules: each holds the scale and
zero point its tensor was trained to live with. :func:`strip_qat` turns such a model into a float
model dian can trace, keeping that knowledge:

* every fake-quant module becomes a :class:`LearnedRange` marker (the identity in torch) holding
  the float range ``[lo, hi] = [s (qmin - z), s (qmax - z)]`` of its ``calculate_qparams()`` ``(s,
  z)``, the qparams ``convert_fx`` would use; the tracer keeps markers as nodes and
  :func:`lower_marker` records the range on the IR tensor it watches (graph metadata
  ``qat_ranges``) and emits no op, so the fake-quant nodes are skipped;
* every QAT layer (``torch.ao.nn.qat`` / ``torch.ao.nn.intrinsic.qat``: Conv2d, ConvBn2d,
  ConvBnReLU2d, ConvReLU2d, Linear, LinearReLU, LinearBn1d) becomes its float form through its own
  ``to_float()``, which folds a BatchNorm with its running statistics as ``convert_fx`` does; its
  weight fake-quant's learned scales (symmetric, per channel or per tensor) are kept for the
  quantizer, which uses them in place of ``max|w_k| / 127`` (a weight at torch's -128 saturates to
  dian's -127). Weights trained on torch's grid stay on it: re-deriving the scales from the
  weights would round every trained weight again.

dian's activations are int8 with one scale and zero point 0 (docs/arithmetic.md), so a learned
range maps to the smallest scale ``d`` whose int8 range ``[-128 d, 127 d]`` holds ``[lo, hi]``:
``d = max(hi / 127, -lo / 128)`` (:func:`dian_range` returns ``127 d``, the calibrated range
``scales.activation_scale`` takes). Whenever torch's range fits int8 with its own step, that is
torch's own scale, ``d = s``: a zero point of 0 with ``qmax <= 127`` (x86/fbgemm's 7-bit unsigned
activations, symmetric int8), or the affine int8 zero point ``z = 0``. An asymmetric range (a zero
point inside it, e.g. logits) keeps the clipping point of its longer side and gets a finer step,
so its shorter side clips later than in torch; 8-bit unsigned activations (qnnpack's ``[0, 255 s]``)
get twice torch's step. Tensors the quantizer needs and no fake-quant watched fall back to
calibration.

A model already converted (``convert_fx``: quantized modules, ``quantize_per_tensor``) is refused
by model_kinds.py; one prepared for post-training quantization (observers, no fake-quants) here.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
from torch.ao.quantization import FakeQuantizeBase, ObserverBase

from dian.errors import UnsupportedOpError

from .builder import Builder, describe_location, node_module

METADATA_KEY = "qat_ranges"
_QAT_PACKAGES = ("torch.ao.nn.qat", "torch.ao.nn.intrinsic.qat")
_SYMMETRIC = (torch.per_channel_symmetric, torch.per_tensor_symmetric)


class LearnedRange(nn.Module):
    """The identity, standing where a fake-quant module was: ``[lo, hi]`` is the float range that
    module's learned qparams represent; ``origin`` names it for messages."""

    def __init__(self, lo: float, hi: float, origin: str) -> None:
        super().__init__()
        self.lo, self.hi, self.origin = lo, hi, origin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def is_qat(module: nn.Module) -> bool:
    """Whether ``module`` holds fake-quant modules (a QAT-prepared model)."""
    return any(isinstance(m, FakeQuantizeBase) for m in module.modules())


def refuse_observers(module: nn.Module, name: str) -> None:
    """Raise :class:`UnsupportedOpError` for a model prepared for post-training quantization
    (``prepare_fx``: observers, no fake-quants); converted models are model_kinds.py's."""
    observers = [n for n, m in module.named_modules() if isinstance(m, ObserverBase)]
    if observers and not is_qat(module):
        raise UnsupportedOpError(
            f"model '{name}' holds torch.ao observers ({', '.join(observers[:4])}): it is prepared for "
            f"post-training quantization (prepare_fx); dian calibrates by itself: give the float model "
            f"(with --calib-data for its calibration samples)."
        )


def strip_qat(module: nn.Module, name: str) -> tuple[fx.GraphModule, dict[str, np.ndarray]]:
    """A float copy of the FX-prepared QAT ``module`` (fake-quants as :class:`LearnedRange`
    markers, QAT layers in their float form, see the module docstring) and the learned weight
    scales of its conv/linear layers by their module path in the copy."""
    if not isinstance(module, fx.GraphModule):
        raise UnsupportedOpError(
            f"model '{name}' holds fake-quant modules but is not an FX GraphModule (eager-mode QAT, "
            f"torch.ao.quantization.prepare_qat?); dian reads QAT models prepared with "
            f"torch.ao.quantization.quantize_fx.prepare_qat_fx, trained and not converted."
        )
    gm = copy.deepcopy(module).eval()
    for node in gm.graph.nodes:
        sub = gm.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(sub, FakeQuantizeBase):
            lo, hi = _learned(sub, f"module `{node.target}` ({type(sub).__name__})")
            _replace(gm, str(node.target), LearnedRange(lo, hi, str(node.target)))
    weight_scales: dict[str, np.ndarray] = {}
    for path, sub in list(gm.named_modules()):
        if type(sub).__module__.startswith(_QAT_PACKAGES) and hasattr(sub, "to_float"):
            with torch.no_grad():
                float_layer = sub.to_float().eval()
            _replace(gm, path, float_layer)
            scales = _weight_scales(sub)
            if scales is not None:  # a fused float layer (conv + ReLU) is a Sequential, the layer first
                weight_scales[f"{path}.0" if isinstance(float_layer, nn.Sequential) else path] = scales
    left = [p for p, m in gm.named_modules() if isinstance(m, FakeQuantizeBase)]
    if left:
        raise UnsupportedOpError(
            f"model '{name}': fake-quant module(s) {', '.join(left[:4])} sit inside layers dian cannot turn "
            f"back into float ones; dian reads prepare_qat_fx models of Conv2d/Linear layers (with BN, "
            f"ReLU) and float ops it supports."
        )
    return gm, weight_scales


def _weight_scales(layer: nn.Module) -> np.ndarray | None:
    """The per-output-channel scales of a QAT layer's weight fake-quant, when it is symmetric
    (zero point 0); None for anything else (dian then derives the scales from the weights)."""
    fq = getattr(layer, "weight_fake_quant", None)
    if not isinstance(fq, FakeQuantizeBase) or getattr(fq, "qscheme", None) not in _SYMMETRIC:
        return None
    scale, zero_point = fq.calculate_qparams()
    s = scale.detach().double().reshape(-1).numpy()
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor):
        return None
    k = int(weight.shape[0])
    if bool(zero_point.ne(0).any()) or s.size not in (1, k) or not np.all(np.isfinite(s) & (s > 0)):
        return None
    return np.broadcast_to(s, (k,)).copy()


def _learned(fq: FakeQuantizeBase, where: str) -> tuple[float, float]:
    """The float range ``[lo, hi]`` of a fake-quant module's learned per-tensor qparams."""
    observer = getattr(fq, "activation_post_process", None)
    if observer is not None and math.isinf(float(getattr(observer, "min_val", torch.tensor(0.0)).min())):
        raise UnsupportedOpError(
            f"{where} has never seen data (its observer's range is empty); train the prepared model, "
            f"or run it on representative inputs, before compiling it."
        )
    qscheme = getattr(fq, "qscheme", torch.per_tensor_affine)
    if qscheme not in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        raise UnsupportedOpError(
            f"{where} quantizes with {qscheme}; dian's activations have one scale per tensor: use a "
            f"per-tensor activation qconfig."
        )
    scale, zero_point = fq.calculate_qparams()
    s, z = float(scale.reshape(-1)[0]), int(zero_point.reshape(-1)[0])
    qmin, qmax = int(fq.quant_min), int(fq.quant_max)  # type: ignore[arg-type]
    if not (math.isfinite(s) and s > 0) or qmin >= qmax:
        raise UnsupportedOpError(f"{where} has scale {s!r} and range [{qmin}, {qmax}]; dian needs a positive scale.")
    return s * (qmin - z), s * (qmax - z)


def _replace(root: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


def lower_marker(b: Builder, node: fx.Node) -> str:
    """Record a marker's range on the IR tensor it watches; the marker itself emits nothing."""
    tensor = b.tensor(node.args[0], node, "input")
    m = node_module(b, node)
    assert isinstance(m, LearnedRange), describe_location(node)
    lo, hi = b.learned.get(tensor, (m.lo, m.hi))
    b.learned[tensor] = (min(lo, m.lo), max(hi, m.hi))
    return tensor


def metadata(learned: Mapping[str, tuple[float, float]]) -> dict[str, str]:
    """Graph metadata recording the learned ranges (none for a model without fake-quants)."""
    if not learned:
        return {}
    return {METADATA_KEY: json.dumps({t: [lo, hi] for t, (lo, hi) in learned.items()}, sort_keys=True)}


def dian_range(lo: float, hi: float) -> float:
    """The calibrated range (``127 * scale``) of the smallest dian scale whose int8 range holds ``[lo, hi]``."""
    return max(hi, -lo * 127 / 128, 0.0)


def learned_ranges(graph_metadata: Mapping[str, str]) -> dict[str, float]:
    """Tensor -> dian range for every tensor a fake-quant watched (empty for other models)."""
    text = graph_metadata.get(METADATA_KEY)
    if text is None:
        return {}
    return {t: dian_range(float(lo), float(hi)) for t, (lo, hi) in json.loads(text).items()}
