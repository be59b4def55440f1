"""The IR verifier: structure, shapes, dtypes, quantization fields, overflow.

Every pass ends by calling :func:`verify`; a Graph that passes can be executed
by the reference simulator without further checks. Errors name the op (or
tensor), what was wrong and what is allowed.
"""

from __future__ import annotations

import math

import numpy as np

from dian.errors import IRValidationError

from . import pointwise
from .graph import Graph
from .ops import (
    CLAMPED_OPS,
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Interleave,
    Linear,
    Mul,
    Op,
    Pointwise,
    Requant,
)
from .shapes import infer_shape
from .tensor import DType, Tensor

DEFAULT_ACC_BITS = 32


def verify(graph: Graph, acc_bits: int = DEFAULT_ACC_BITS) -> Graph:
    """Check ``graph``; return it unchanged or raise :class:`IRValidationError`."""
    _verify_structure(graph)
    _verify_shapes(graph)
    if graph.is_quantized:
        _verify_integer(graph, acc_bits)
    else:
        _verify_float(graph)
    return graph


def _err(where: str, what: str, allowed: str) -> IRValidationError:
    return IRValidationError(f"{where}: {what}; {allowed}.")


def _where(op: Op) -> str:
    return f"{op.kind.value} op '{op.name}'"


def _verify_structure(graph: Graph) -> None:
    for name, t in graph.tensors.items():
        if name != t.name:
            raise _err(f"tensor '{name}'", f"is declared under the name '{t.name}'", "names must match")
    for name, data in graph.constants.items():
        decl = graph.tensors.get(name)
        if decl is None:
            raise _err(f"constant '{name}'", "has data but no tensor declaration", "every constant needs a Tensor")
        if tuple(data.shape) != decl.shape or str(data.dtype) != decl.dtype.value:
            raise _err(
                f"constant '{name}'",
                f"data is {data.dtype}{list(data.shape)}, declared {decl.dtype.value}{list(decl.shape)}",
                "data must match its declaration",
            )
    if not graph.inputs or not graph.outputs:
        raise _err(f"graph '{graph.name}'", "has no inputs or no outputs", "a graph needs at least one of each")
    defined = set(graph.inputs)
    for n in graph.inputs:
        if n not in graph.tensors or n in graph.constants:
            raise _err(
                f"graph input '{n}'", "is not a declared activation", "inputs must be declared, non-constant tensors"
            )
    names: set[str] = set()
    for op in graph.ops:
        if op.name in names:
            raise _err(_where(op), "reuses an op name", "op names must be unique")
        names.add(op.name)
        for i in op.inputs:
            if i not in defined:
                raise _err(
                    _where(op),
                    f"reads '{i}' before it is produced",
                    "ops must be in topological order and read only graph inputs or earlier outputs",
                )
        if op.output in defined or op.output in graph.constants:
            raise _err(_where(op), f"writes '{op.output}', which already has a value", "each tensor is produced once")
        if op.output not in graph.tensors:
            raise _err(_where(op), f"writes undeclared tensor '{op.output}'", "every output needs a Tensor declaration")
        defined.add(op.output)
    for n in graph.outputs:
        if n not in defined:
            raise _err(f"graph output '{n}'", "is never produced", "outputs must be graph inputs or op outputs")


def _verify_shapes(graph: Graph) -> None:
    const_shapes = {n: graph.tensors[n].shape for n in graph.constants}
    for op in graph.ops:
        shape = infer_shape(op, [graph.tensors[i].shape for i in op.inputs], const_shapes)
        declared = graph.tensors[op.output].shape
        if shape != declared:
            raise _err(
                _where(op),
                f"output '{op.output}' is declared {list(declared)} but the op produces {list(shape)}",
                "declared shapes must match shape inference",
            )


def _verify_float(graph: Graph) -> None:
    for t in graph.tensors.values():
        if t.dtype is not DType.FLOAT32:
            raise _err(
                f"tensor '{t.name}'", f"is {t.dtype.value} in a float graph", "a float graph holds only float32 tensors"
            )
    for op in graph.ops:
        if getattr(op, "requant", None) is not None or getattr(op, "out_min", None) is not None:
            raise _err(_where(op), "has requantization fields in a float graph", "only the integer graph carries them")
        if isinstance(op, Pointwise) and op.table is not None:
            raise _err(_where(op), "has a table in a float graph", "only the integer graph carries tables")


def _act_scale(graph: Graph, name: str, op: Op) -> float:
    t = graph.tensors[name]
    if t.dtype is not DType.INT8 or t.quant is None or t.quant.per_channel or len(t.quant.scale) != 1:
        raise _err(
            _where(op),
            f"activation '{name}' is {t.dtype.value} with quant {t.quant}",
            "integer activations must be int8 with one per-tensor scale",
        )
    scale = t.quant.scale[0]
    if not (scale > 0 and math.isfinite(scale)):
        raise _err(f"tensor '{name}'", f"has scale {scale}", "scales must be positive and finite")
    return scale


def _check_const(graph: Graph, op: Op, name: str, dtype: DType) -> Tensor:
    t = graph.tensors[name]
    if t.dtype is not dtype:
        raise _err(_where(op), f"constant '{name}' is {t.dtype.value}", f"it must be {dtype.value}")
    return t


def _weight_scales(graph: Graph, op: Conv2d | Linear) -> np.ndarray:
    w = _check_const(graph, op, op.weight, DType.INT8)
    k = w.shape[0]
    q = w.quant
    if q is None or len(q.scale) != (1 if q.axis is None else k) or q.axis not in (None, 0):
        raise _err(
            _where(op),
            f"weight '{op.weight}' has quant {q}",
            f"weights need one scale (per tensor) or {k} scales along axis 0 (per output channel)",
        )
    if not all(s > 0 and math.isfinite(s) for s in q.scale):
        raise _err(_where(op), f"weight '{op.weight}' has a non-positive scale", "scales must be positive and finite")
    return np.broadcast_to(np.asarray(q.scale, dtype=np.float64), (k,))


def _check_requant(op: Op, rq: Requant | None, expected: list[float], one_shift: bool = False) -> None:
    if rq is None:
        raise _err(_where(op), "has no requantization parameters", "integer ops that rescale need `requant`")
    n = len(expected)
    n_shift = 1 if one_shift else n
    if len(rq.multiplier) not in (1, n) or len(rq.shift) != (len(rq.multiplier) if not one_shift else 1):
        raise _err(
            _where(op),
            f"requant has {len(rq.multiplier)} multipliers and {len(rq.shift)} shifts",
            f"it needs 1 or {n} multipliers and {n_shift if not one_shift else 1} matching shift(s)",
        )
    if one_shift and len(rq.multiplier) != n:
        raise _err(_where(op), f"requant has {len(rq.multiplier)} multipliers", f"it needs exactly {n}")
    for m, s in zip(rq.multiplier, rq.shift * len(rq.multiplier) if one_shift else rq.shift, strict=True):
        if not 0 <= m < 2**Requant.MULTIPLIER_BITS or not 0 <= s <= Requant.MAX_SHIFT:  # before int64 arrays
            raise _err(
                _where(op),
                f"requant multiplier {m} / shift {s}",
                f"multipliers must be in [0, 2^{Requant.MULTIPLIER_BITS}) and shifts in [0, {Requant.MAX_SHIFT}]",
            )
    mults = np.broadcast_to(np.asarray(rq.multiplier, dtype=np.int64), (n,))
    shifts = np.broadcast_to(np.asarray(rq.shift, dtype=np.int64), (n,))
    for m, s, real in zip(mults.tolist(), shifts.tolist(), expected, strict=True):
        if abs(m - real * 2.0**s) > 1.0:
            raise _err(
                _where(op),
                f"requant {m} / 2^{s} = {m / 2.0**s:.6g} does not match the scales, which give {real:.6g}",
                "the multiplier must be the scale ratio rounded to an integer at that shift",
            )


def _check_out_clamp(op: Conv2d | Linear | Add | Mul) -> None:
    lo, hi = op.out_min, op.out_max
    if lo is None or hi is None or not -128 <= lo <= hi <= 127:
        raise _err(_where(op), f"output clamp [{lo}, {hi}]", "integer ops need out_min <= out_max within [-128, 127]")


def _check_accumulator(graph: Graph, op: Conv2d | Linear, acc_bits: int) -> None:
    """Prove |acc| < 2^(acc_bits-1) for every output channel and any int8 input."""
    w = graph.constants[op.weight].astype(np.int64)
    bound = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1) * 128
    if op.bias is not None:
        bound = bound + np.abs(graph.constants[op.bias].astype(np.int64))
    limit = 2 ** (acc_bits - 1) - 1
    worst = int(bound.max())
    if worst > limit:
        k = int(bound.argmax())
        raise _err(
            _where(op),
            f"output channel {k} can reach |acc| = {worst} with int8 inputs",
            f"the {acc_bits}-bit accumulator holds at most {limit}",
        )


def _check_table(graph: Graph, op: Pointwise, in_scale: float, out_scale: float) -> None:
    if op.table is None:
        raise _err(_where(op), "has no table", "an integer pointwise op looks its function up in an int8 table")
    _check_const(graph, op, op.table, DType.INT8)
    bad = pointwise.table_problem(graph.constants[op.table], op.fn, op.params, in_scale, out_scale)
    if bad is not None:
        raise _err(_where(op), *bad)


def _verify_integer(graph: Graph, acc_bits: int) -> None:
    for op in graph.ops:
        out_scale = _act_scale(graph, op.output, op)
        in_scales = [_act_scale(graph, i, op) for i in op.inputs]
        if isinstance(op, (Conv2d, Linear)):
            w_scales = _weight_scales(graph, op)
            if op.bias is not None:
                _check_const(graph, op, op.bias, DType.INT32)
            _check_requant(op, op.requant, list(in_scales[0] * w_scales / out_scale))
            _check_accumulator(graph, op, acc_bits)
        elif isinstance(op, Add):
            _check_requant(op, op.requant, [s / out_scale for s in in_scales], one_shift=True)
        elif isinstance(op, Mul):
            _check_requant(op, op.requant, [in_scales[0] * in_scales[1] / out_scale])
            if len(op.requant.multiplier) != 1:  # type: ignore[union-attr]
                raise _err(_where(op), "requant is per channel", "mul uses one per-tensor requant")
        elif isinstance(op, (Concat, Interleave)):
            _check_requant(op, op.requant, [s / out_scale for s in in_scales])
            if len(op.requant.multiplier) != len(op.inputs):  # type: ignore[union-attr]
                raise _err(
                    _where(op), "requant does not have one entry per input", f"{op.kind.value} rescales each input"
                )
        elif isinstance(op, (AvgPool2d, GlobalAvgPool)):
            shape = graph.tensors[op.inputs[0]].shape
            window = op.kernel[0] * op.kernel[1] if isinstance(op, AvgPool2d) else shape[2] * shape[3]
            _check_requant(op, op.requant, [in_scales[0] / (out_scale * window)])
            if len(op.requant.multiplier) != 1:  # type: ignore[union-attr]
                raise _err(_where(op), "requant is per channel", "pooling uses one per-tensor requant")
        elif isinstance(op, Pointwise):
            _check_table(graph, op, in_scales[0], out_scale)
        else:
            if in_scales[0] != out_scale:
                raise _err(
                    _where(op),
                    f"input scale {in_scales[0]} differs from output scale {out_scale}",
                    f"{op.kind.value} moves values without rescaling, so the scales must be equal",
                )
            if isinstance(op, Clamp):
                for v in (op.min_value, op.max_value):
                    if v is not None and (not isinstance(v, int) or not -128 <= v <= 127):
                        raise _err(_where(op), f"bound {v!r}", "integer clamps take int bounds in [-128, 127] or None")
        if isinstance(op, CLAMPED_OPS):
            _check_out_clamp(op)
