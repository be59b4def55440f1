"""The frontend half of `dian compile` and `dian explore`: load the model, pick its calibration
samples, trace, calibrate and quantize it, and say what the manifest records about that.

Calibration is what a user controls here (:class:`CalibOptions`, the ``--calib-*`` options):
where the samples come from (``--calib-data`` > the model's ``calibration_data`` hook > synthetic
noise, :mod:`dian.frontend.calib_source`), how many, and how a range is chosen from them
(:mod:`dian.frontend.range_methods`). A QAT model keeps its learned ranges
(:mod:`dian.frontend.qat`). Calibrating on the synthetic default prints a warning on stderr: its
ranges are a guess, not the model's data. torch is imported only when the frontend runs.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputShapeError, ModelLoadError, QuantizationError
from .ir import Graph
from .limits import check_memory

#: The ``--calib-method`` names (dian.frontend.range_methods.CalibMethod's values; a test keeps them equal).
CALIB_METHODS = ("max", "percentile", "mse")
SYNTHETIC_WARNING = "dian: warning: calibrating on synthetic N(0,1) noise; give --calib-data for real accuracy"


@dataclass(frozen=True)
class CalibOptions:
    """How to calibrate: ``samples`` (None: every sample of ``data``, else 64), ``data`` (a .npy file
    or a folder of them), ``method`` (:data:`CALIB_METHODS`) and, for ``percentile``, ``percentile``
    (None: the documented default, 99.99)."""

    samples: int | None = None
    data: str | None = None
    method: str = "max"
    percentile: float | None = None

    def check(self) -> None:
        """Refuse values that are wrong whatever the model, before any slow work."""
        n = self.samples
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise QuantizationError(f"calibration needs at least 1 sample; got calib_samples={n!r}.")
        if self.method not in CALIB_METHODS:
            raise QuantizationError(
                f"unknown calibration method {self.method!r}; the methods are {', '.join(CALIB_METHODS)}."
            )
        if self.percentile is not None and self.method != "percentile":
            raise QuantizationError(
                f"a calibration percentile ({self.percentile!r}) belongs to the percentile method; add "
                f"--calib-method percentile, or leave the percentile out (method {self.method})."
            )
        if self.data is not None and not Path(self.data).exists():
            raise InputShapeError(
                f"--calib-data {self.data} does not exist; give a .npy file of samples (N,C,H,W) or a "
                f"folder of .npy files."
            )


@dataclass(frozen=True)
class Front:
    """The frontend's products for one model: what the output folder is written from."""

    loaded: Any
    shape: tuple[int, ...]
    calib: np.ndarray
    float_graph: Graph
    int_graph: Graph
    manifest: dict[str, Any]


def run_frontend(
    model: str, input_shape: tuple[int, ...] | None, opts: CalibOptions, seed: int, say: Callable[[str], None]
) -> Front:
    """The frontend's products; the model's own code (import, factory, calibration_data, forward)
    calling ``sys.exit`` is a :class:`ModelLoadError`, never a silent exit with nothing written."""
    try:
        return _frontend_steps(model, input_shape, opts, seed, say)
    except SystemExit as e:
        raise ModelLoadError(
            f"the code of model {model} called sys.exit({e.code!r}) (or raised SystemExit) while dian "
            f"was loading, calibrating or tracing it; a model file must define the network and return "
            f"it from its factory, not end the process. Nothing was written."
        ) from None


def _frontend_steps(
    model: str, input_shape: tuple[int, ...] | None, opts: CalibOptions, seed: int, say: Callable[[str], None]
) -> Front:
    from . import frontend  # torch lives behind this import
    from .frontend.calibration_data import DEFAULT_NUM_SAMPLES

    method = frontend.calib_method(opts.method)
    percentile = frontend.DEFAULT_PERCENTILE if opts.percentile is None else frontend.check_percentile(opts.percentile)
    say(f"loading {model}")
    loaded = frontend.load_model(model)
    requested = loaded.default_input_shape if input_shape is None else input_shape
    if requested is None:
        raise InputShapeError(
            f"model {model} declares no input shape; give one, e.g. --input-shape 1,3,32,32 (N,C,H,W)."
        )
    shape = check_shape(requested)
    if opts.data is None:
        n = DEFAULT_NUM_SAMPLES if opts.samples is None else opts.samples
        check_memory(
            4 * n * math.prod(shape[1:]),
            f"calibration would hold {n} samples of {'x'.join(map(str, shape[1:]))} float32",
            "lower --calib-samples or --input-shape",
        )
    say(f"reading calibration samples from {opts.data}" if opts.data else f"drawing calibration samples (seed {seed})")
    cset = frontend.calibration_set(loaded, shape, opts.samples, seed, opts.data)
    say(f"tracing, folding, calibrating ({method.value}, {len(cset.samples)} samples) and quantizing")
    low = frontend.lower_model(loaded.module, shape, cset.samples, loaded.name, method, percentile)
    if cset.synthetic and low.calibrated:
        print(SYNTHETIC_WARNING, file=sys.stderr, flush=True)
    fields: dict[str, Any] = {
        "calib_samples": len(cset.samples),
        "calib_source": cset.source,
        "calib_method": method.value,
    }
    if method is frontend.CalibMethod.PERCENTILE:
        fields["calib_percentile"] = percentile
    if low.learned:  # a QAT model: how many activation scales it brought, how many were calibrated
        fields["qat_scales"], fields["calibrated_scales"] = len(low.learned), len(low.calibrated)
    return Front(loaded, shape, np.asarray(cset.samples), low.float_graph, low.int_graph, fields)


def check_shape(input_shape: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints, or an :class:`InputShapeError`."""
    shape = tuple(input_shape)
    if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in shape):
        raise InputShapeError(
            f"input shape {list(shape)} is not a shape; give positive integers, e.g. 1,1,8,8 (N,C,H,W)."
        )
    return tuple(int(d) for d in shape)
