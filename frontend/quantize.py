"""Post-training quantization: float Graph + calibrated ranges -> integer Graph.

The result follows the arithmetic contract of ir/ops.py exactly and passes
``dian.ir.verify`` (which re-derives every multiplier from the scales):

* activations int8 per tensor (``scales.activation_scale``), weights int8 per
  output channel, bias int32 (``scales.quantize_weights``);
* conv/linear: ``M_k / 2**s_k ≈ s_in * s_w[k] / s_out``;
* a Clamp (ReLU/ReLU6/clamp) that is the only consumer of a conv/linear/add
  output is fused into that op: the op writes the clamp's output, with the
  clamp's calibrated scale, and ``out_min/out_max`` are the clamp bounds
  quantized with that scale (a ReLU gives ``out_min = 0``), intersected with
  [-128, 127]. Clamps of clamps fuse too (bounds intersect);
* max pool, reshape and standalone clamp keep their input's scale (they move
  values without rescaling); a standalone clamp gets integer bounds;
* average pools keep the input scale too and requantize by ``1 / window``;
* add: one shared shift, ``(Ma, Mb)`` from ``s_a/s_out`` and ``s_b/s_out``;
* concat: output scale = the largest input scale, one requant per input;
* pointwise (SiLU, sigmoid, GELU, PReLU, ...): its own calibrated output
  scale and an int8 table ``<op>.table`` built from the function and the two
  scales (ir/pointwise.py ``build_table``). It does not fuse with clamps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from dian.errors import QuantizationError
from dian.ir import (
    DEFAULT_ACC_BITS,
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    DType,
    GlobalAvgPool,
    Graph,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    Pointwise,
    QuantParams,
    Requant,
    Reshape,
    SelectChannels,
    Tensor,
    Upsample,
    verify,
)
from dian.ir.pointwise import build_table

from . import requant_params
from .scales import activation_scale, quantize_weights

INT8_MIN, INT8_MAX = -128, 127


def quantize(float_graph: Graph, act_ranges: Mapping[str, float], acc_bits: int = DEFAULT_ACC_BITS) -> Graph:
    """Integer version of ``float_graph`` given each activation's calibrated
    max-abs (``calibrate``). Raises QuantizationError when a layer cannot meet
    the contract (accumulator overflow, a scale ratio beyond 2**31, a missing
    range)."""
    verify(float_graph)
    if float_graph.is_quantized:
        raise QuantizationError(f"graph '{float_graph.name}' is already quantized; quantize takes the float graph.")
    q = _Quantizer(float_graph, act_ranges, acc_bits)
    for name in float_graph.inputs:
        q.scales[name] = q.measured(name)
    fused = _fusion_plan(float_graph)
    absorbed = {c.name for chain in fused.values() for c in chain}
    for op in float_graph.ops:
        if op.name not in absorbed:
            q.ops.append(q.convert(op, fused.get(op.name, [])))
    tensors = {
        n: Tensor(n, float_graph.tensors[n].shape, DType.INT8, QuantParams.per_tensor(s)) for n, s in q.scales.items()
    }
    tensors.update(q.const_tensors)
    meta = dict(float_graph.metadata) | {
        "quantization": "int8 symmetric, per-channel weights",
        "acc_bits": str(acc_bits),
    }
    graph = Graph.build(float_graph.name, tensors, q.constants, q.ops, float_graph.inputs, float_graph.outputs, meta)
    return verify(graph, acc_bits)


def _fusion_plan(graph: Graph) -> dict[str, list[Clamp]]:
    """conv/linear/add op name -> the chain of clamps fused into it. A clamp
    fuses when it is the only reader of its input and that input is not a
    graph output (otherwise the unclamped value is still needed)."""
    plan: dict[str, list[Clamp]] = {}
    for op in graph.ops:
        if not isinstance(op, (Conv2d, Linear, Add, Mul)):
            continue
        chain: list[Clamp] = []
        out = op.output
        while out not in graph.outputs:
            readers = graph.consumers(out)
            if len(readers) != 1 or not isinstance(readers[0], Clamp) or readers[0].inputs[0] != out:
                break
            chain.append(readers[0])
            out = readers[0].output
        if chain:
            plan[op.name] = chain
    return plan


class _Quantizer:
    """Scales decided so far and the integer ops/constants being built."""

    def __init__(self, graph: Graph, ranges: Mapping[str, float], acc_bits: int) -> None:
        self.graph, self.ranges, self.acc_bits = graph, ranges, acc_bits
        self.scales: dict[str, float] = {}
        self.ops: list[Op] = []
        self.constants: dict[str, np.ndarray] = {}
        self.const_tensors: dict[str, Tensor] = {}
        #: the phases of an interleave (a transposed conv) share one range, so weaving them rescales nothing
        self.phase_groups = {
            i: op.inputs
            for op in graph.ops
            if isinstance(op, Interleave)
            for i in op.inputs
            if graph.consumers(i) == [op] and i not in graph.outputs
        }

    def measured(self, tensor: str) -> float:
        if tensor not in self.ranges:
            raise QuantizationError(
                f"tensor '{tensor}' has no calibrated range; calibrate the same float graph "
                f"(calibrate(graph, batches)) and pass its result."
            )
        group = self.phase_groups.get(tensor, (tensor,))
        return activation_scale(max(float(self.ranges.get(t, self.ranges[tensor])) for t in group), tensor)

    def convert(self, op: Op, clamps: list[Clamp]) -> Op:
        out = clamps[-1].output if clamps else op.output
        fields: dict[str, object] = {"name": op.name, "inputs": op.inputs, "output": out}
        ins = [self.scales[i] for i in op.inputs]
        if isinstance(op, (Conv2d, Linear, Add, Mul)):
            s_out = self.scales[out] = self.measured(out)
            fields["out_min"], fields["out_max"] = _fused_bounds(clamps, s_out)
            if isinstance(op, Mul):
                fields["requant"] = self._requant(op, requant_params.per_channel, [ins[0] * ins[1] / s_out])
            elif isinstance(op, Add):
                fields["requant"] = self._requant(op, requant_params.shared_shift, [s / s_out for s in ins])
            else:
                fields.update(self._weights(op, ins[0], s_out))
        elif isinstance(op, (Concat, Interleave)):
            s_out = self.scales[out] = max(ins)
            fields["requant"] = self._requant(op, requant_params.per_channel, [s / s_out for s in ins])
        elif isinstance(op, (AvgPool2d, GlobalAvgPool)):
            s_out = self.scales[out] = ins[0]
            h, w = self.graph.tensors[op.inputs[0]].shape[2:]
            window = op.kernel[0] * op.kernel[1] if isinstance(op, AvgPool2d) else h * w
            fields["requant"] = self._requant(op, requant_params.per_channel, [ins[0] / (s_out * window)])
        elif isinstance(op, Clamp):
            self.scales[out] = ins[0]
            fields["min_value"] = _int_bound(op.min_value, ins[0])
            fields["max_value"] = _int_bound(op.max_value, ins[0])
        elif isinstance(op, Pointwise):
            s_out = self.scales[out] = self.measured(out)
            table = f"{op.name}.table"
            self.constants[table] = build_table(op.fn, op.params, ins[0], s_out)
            self.const_tensors[table] = Tensor(table, tuple(self.constants[table].shape), DType.INT8)
            fields["table"] = table
        elif isinstance(op, (MaxPool2d, Reshape, SelectChannels, Upsample)):
            self.scales[out] = ins[0]
        else:  # pragma: no cover - every IR op kind is handled above
            raise QuantizationError(f"op '{op.name}' of kind {op.kind.value} has no quantization rule.")
        return replace(op, **fields)  # type: ignore[arg-type]

    def _requant(self, op: Op, make: Callable[[Sequence[float]], Requant], ratios: list[float]) -> Requant:
        try:
            return make(ratios)
        except requant_params.RatioRangeError as e:
            raise QuantizationError(
                f"{op.kind.value} op '{op.name}': {e}; the scales around this layer are "
                f"too far apart (check the calibration ranges)."
            ) from e

    def _weights(self, op: Conv2d | Linear, s_in: float, s_out: float) -> dict[str, object]:
        w = self.graph.constants[op.weight]
        b = self.graph.constants[op.bias] if op.bias is not None else None
        qw, w_scales, qb = quantize_weights(w, b, s_in, self.acc_bits, op.name)
        self._const(op.weight, qw, DType.INT8, QuantParams(tuple(float(s) for s in w_scales), 0))
        if op.bias is not None and qb is not None:
            self._const(op.bias, qb, DType.INT32, QuantParams(tuple(float(s) for s in s_in * w_scales), 0))
        ratios = (s_in * w_scales) / s_out  # the same expression the verifier checks against
        return {"requant": self._requant(op, requant_params.per_channel, list(ratios))}

    def _const(self, name: str, data: np.ndarray, dtype: DType, quant: QuantParams) -> None:
        self.constants[name] = data
        self.const_tensors[name] = Tensor(name, tuple(data.shape), dtype, quant)


def _to_int(value: float, scale: float) -> int:
    return int(min(INT8_MAX, max(INT8_MIN, np.rint(value / scale))))


def _int_bound(value: float | int | None, scale: float) -> int | None:
    return None if value is None else _to_int(float(value), scale)


def _fused_bounds(clamps: list[Clamp], scale: float) -> tuple[int, int]:
    """Integer [out_min, out_max] of an op with ``clamps`` fused in."""
    lo, hi = -math.inf, math.inf
    for c in clamps:
        if c.min_value is not None:
            lo = max(lo, float(c.min_value))
        if c.max_value is not None:
            hi = min(hi, float(c.max_value))
    qlo = INT8_MIN if lo == -math.inf else _to_int(lo, scale)
    qhi = INT8_MAX if hi == math.inf else _to_int(hi, scale)
    return qlo, max(qlo, qhi)
