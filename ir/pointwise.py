"""Pointwise functions of one tensor: their float64 definitions and their int8 tables.

A :class:`~dian.ir.ops.Pointwise` op names its function (``fn``) and the
function's parameters; this module is the one registry of those functions.
It lives in ``ir/`` because three layers need the same definitions: the
reference simulator runs the float graph with them (and so calibrates it), the
quantizer builds the integer graph's tables from them, and the verifier checks
a loaded table against them. Everything here is numpy in float64; torch never
enters (the frontend maps torch's modules onto these names, and the tests
compare the two).

The table rule (docs/arithmetic.md), for each int8 input ``q`` in -128..127::

    x = q * s_in                         (float64)
    y = f(x)                             (float64, the formulas below)
    table[q + 128] = clip(rint(y / s_out), -128, 127)   (rint: round half to even)

A per-channel function (PReLU) has one parameter per channel and one table row
per channel; every other function has one row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
TABLE_SIZE = 256  # one entry per int8 value, indexed by q + 128


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e: np.ndarray = np.exp(-np.abs(x))  # never overflows: each branch uses the form that stays in (0, 1]
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    bx = beta * x
    return np.where(bx > threshold, x, np.logaddexp(0.0, bx) / beta)  # torch reverts to x above the threshold


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # deferred: only GELU needs scipy, and importing it costs time

    return np.asarray(erf(x), dtype=np.float64)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _leaky_relu(x: np.ndarray, slope: float | np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, slope * x)


def _elu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


@dataclass(frozen=True)
class PointwiseFn:
    """One registered function: ``impl(x, *params)`` on a float64 array.

    ``params`` names the parameters in their order in the op's ``params``
    field. A ``per_channel`` function has one parameter that takes one value
    per channel (dimension 1 of the input) or a single shared value.
    ``formula`` is the definition in words, for a reader of this registry.
    """

    name: str
    impl: Callable[..., np.ndarray]
    params: tuple[str, ...] = ()
    per_channel: bool = False
    formula: str = ""


FUNCTIONS: Mapping[str, PointwiseFn] = MappingProxyType(
    {
        f.name: f
        for f in (
            PointwiseFn("sigmoid", _sigmoid, formula="1 / (1 + exp(-x))"),
            PointwiseFn("tanh", np.tanh, formula="tanh(x)"),
            PointwiseFn("silu", lambda x: x * _sigmoid(x), formula="x * sigmoid(x)"),
            PointwiseFn("hardswish", lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0, formula="x * relu6(x + 3) / 6"),
            PointwiseFn("hardsigmoid", lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0, formula="relu6(x + 3) / 6"),
            PointwiseFn("gelu", _gelu, formula="x / 2 * (1 + erf(x / sqrt(2)))"),
            PointwiseFn("gelu_tanh", _gelu_tanh, formula="x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))"),
            PointwiseFn("mish", lambda x: x * np.tanh(_softplus(x)), formula="x * tanh(softplus(x))"),
            PointwiseFn(
                "softplus",
                _softplus,
                ("beta", "threshold"),
                formula="log(1 + exp(beta x)) / beta, x where beta x > threshold",
            ),
            PointwiseFn("leaky_relu", _leaky_relu, ("slope",), formula="x if x >= 0 else slope * x"),
            PointwiseFn("elu", _elu, ("alpha",), formula="x if x > 0 else alpha * (exp(x) - 1)"),
            PointwiseFn("affine", lambda x, a, b: a * x + b, ("scale", "offset"), formula="scale * x + offset"),
            PointwiseFn("prelu", _leaky_relu, ("slope",), per_channel=True, formula="x if x >= 0 else slope[c] * x"),
        )
    }
)


def problem(fn: str, params: tuple[float, ...], channels: int) -> tuple[str, str] | None:
    """What is wrong with ``fn``/``params`` on an input with ``channels`` channels,
    as ``(what, allowed)`` for an error message, or None when they are valid."""
    spec = FUNCTIONS.get(fn)
    if spec is None:
        return f"function {fn!r} is not known", f"known functions are {', '.join(sorted(FUNCTIONS))}"
    if not all(math.isfinite(p) for p in params):
        return f"{fn} has parameters {list(params)}", "parameters must be finite numbers"
    if spec.per_channel:
        if len(params) not in (1, channels):
            return (
                f"{fn} has {len(params)} parameters for an input with {channels} channels",
                f"it takes one {spec.params[0]} per channel (dimension 1) or one shared",
            )
    elif len(params) != len(spec.params):
        names = ", ".join(spec.params) if spec.params else "none"
        return f"{fn} has {len(params)} parameters", f"it takes {len(spec.params)} ({names})"
    return None


def evaluate(fn: str, params: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    """``fn`` applied to ``x`` in float64; a per-channel function's parameters
    run along dimension 1 of ``x``."""
    spec = FUNCTIONS[fn]
    x = np.asarray(x, dtype=np.float64)
    if spec.per_channel and len(params) > 1:
        shape = [1] * x.ndim
        shape[1] = len(params)
        return spec.impl(x, np.asarray(params, dtype=np.float64).reshape(shape))
    return spec.impl(x, *params)


def table_rows(fn: str, params: tuple[float, ...]) -> int:
    """Rows of ``fn``'s table: one per channel for a per-channel function, else one."""
    return len(params) if FUNCTIONS[fn].per_channel else 1


def build_table(fn: str, params: tuple[float, ...], in_scale: float, out_scale: float) -> np.ndarray:
    """The int8 table ``[rows, 256]`` of ``fn`` from input scale ``in_scale`` to
    output scale ``out_scale``, by the rule in this module's docstring."""
    spec = FUNCTIONS[fn]
    x = np.arange(INT8_MIN, INT8_MAX + 1, dtype=np.float64) * float(in_scale)
    rows = [(p,) for p in params] if spec.per_channel else [params]
    y = np.stack([spec.impl(x, *row) for row in rows])
    return np.clip(np.rint(y / float(out_scale)), INT8_MIN, INT8_MAX).astype(np.int8)


def table_problem(
    table: np.ndarray, fn: str, params: tuple[float, ...], in_scale: float, out_scale: float
) -> tuple[str, str] | None:
    """Does ``table`` hold ``fn`` between the two scales? ``(what, allowed)`` if not.

    Entries may differ from :func:`build_table` by 1: ``f`` is float64 math
    whose last bit may differ between machines, which can move a value that
    lies next to a rounding tie (as the requantization check allows its
    multiplier to be off by one)."""
    rows = table_rows(fn, params)
    if table.shape != (rows, TABLE_SIZE):
        return (
            f"table has shape {list(table.shape)}",
            f"{label(fn, params)} needs [{rows}, {TABLE_SIZE}] (one row, or one per channel for PReLU)",
        )
    want = build_table(fn, params, in_scale, out_scale)
    diff = np.abs(table.astype(np.int16) - want.astype(np.int16))
    if diff.max() > 1:
        r, i = np.unravel_index(int(diff.argmax()), diff.shape)
        return (
            f"table row {r} entry {i} (q = {i - 128}) is {int(table[r, i])}, but {fn} between the scales "
            f"{in_scale:.6g} and {out_scale:.6g} gives {int(want[r, i])}",
            "a table must be the function's, rounded as docs/arithmetic.md says, to within 1",
        )
    return None


def label(fn: str, params: tuple[float, ...]) -> str:
    """Short text for tables and messages: ``silu``, ``leaky_relu(0.01)``, ``prelu(16 slopes)``."""
    spec = FUNCTIONS.get(fn)
    if spec is not None and spec.per_channel and len(params) > 1:
        return f"{fn}({len(params)} {spec.params[0]}s)"
    return f"{fn}({', '.join(f'{p:g}' for p in params)})" if params else fn
