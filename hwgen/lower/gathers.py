"""Channel moves the array does as GEMMs: every :class:`~dian.ir.SelectChannels` (slices,
chunk/split pieces, channel shuffles) and every concat whose inputs do not start on a lane
block become 1x1 convolutions (linear layers on [N, C] tensors) with one-hot int8 weights.

Why a GEMM: the array already reads any channel of a pixel into any lane, so moving channels
across lanes needs no new datapath, no instruction and no host work, and it is bit-exact by
construction: each output is one product ``1 * x`` requantized as the op says.

* A gather's requantization is the identity, ``round_shift(x * 2^30, 30) = x``.
* A ragged concat (an input other than the last with a channel count that is not a multiple of
  the lanes: v1's COPY writes whole channel blocks) becomes one conv per input that places it at
  its channel offset of the full output with the concat's own per-input requantization
  (``clamp(round_shift(x * M_i, s_i))``, exactly the concat's arithmetic) and zeros elsewhere,
  then identity adds that sum the disjoint parts.

A gather costs ``C_in x C_out`` MACs a pixel, small next to the convolutions around a channel
split or shuffle. The rewrite runs where lowering starts (scheduler and lowering alike), so
schedules, programs and the exact cost model see the same convs; the IR and the reference
simulator keep the gather and the concat.
"""

from __future__ import annotations

import numpy as np

from dian.ir import Add, Concat, Conv2d, DType, Graph, Linear, Op, QuantParams, Requant, SelectChannels, Tensor

from ..accel_config import AccelConfig
from .input_packing import InputPacking, pack_shallow_inputs

IDENTITY_SHIFT = 30  # multiplier 2^30 and shift 30: exactly x, within Requant's 31-bit range
IDENTITY = (2**IDENTITY_SHIFT, IDENTITY_SHIFT)


def one_hot_weights(rows: list[int | None], in_channels: int, rank: int) -> np.ndarray:
    """int8 [K, C(, 1, 1)]: row k has a single 1 at column ``rows[k]`` (all zeros for None)."""
    w = np.zeros((len(rows), in_channels), np.int8)
    for k, c in enumerate(rows):
        if c is not None:
            w[k, c] = 1
    return w.reshape(w.shape + (1, 1) * (rank == 4))


class _Rewriter:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.tensors, self.constants = dict(graph.tensors), dict(graph.constants)

    def fresh(self, base: str) -> str:
        name = base
        while name in self.tensors:
            name += "_"
        return name

    def gemm(self, name: str, x: str, out: str, rows: list[int | None], rq: list[tuple[int, int]]) -> Op:
        """A one-hot conv/linear ``name`` reading ``x`` into ``out`` with per-row requantization."""
        rank = len(self.tensors[x].shape)
        wname = self.fresh(f"{name}.weight")
        self.constants[wname] = one_hot_weights(rows, self.tensors[x].shape[1], rank)
        self.tensors[wname] = Tensor(
            wname, tuple(self.constants[wname].shape), DType.INT8, QuantParams((1.0,) * len(rows), 0)
        )
        requant = Requant(tuple(m for m, _ in rq), tuple(s for _, s in rq))
        if rank == 4:
            return Conv2d(name, (x,), out, weight=wname, requant=requant, out_min=-128, out_max=127)
        return Linear(name, (x,), out, weight=wname, requant=requant, out_min=-128, out_max=127)

    def select(self, op: SelectChannels) -> list[Op]:
        return [self.gemm(op.name, op.inputs[0], op.output, list(op.channels), [IDENTITY] * len(op.channels))]

    def concat(self, op: Concat) -> list[Op]:
        assert op.requant is not None
        out = self.tensors[op.output]
        total, ops, parts, offset = out.shape[1], [], [], 0
        for i, x in enumerate(op.inputs):
            c = self.tensors[x].shape[1]
            rows = [k - offset if offset <= k < offset + c else None for k in range(total)]
            rq = (op.requant.multiplier[i], op.requant.shift[i])
            part = self.fresh(f"{op.name}__part{i}")
            self.tensors[part] = Tensor(part, out.shape, DType.INT8, out.quant)
            ops.append(self.gemm(part, x, part, rows, [rq if r is not None else (0, 0) for r in rows]))
            parts.append(part)
            offset += c
        acc = parts[0]
        for i, part in enumerate(parts[1:], 1):
            last = i == len(parts) - 1
            name = op.name if last else self.fresh(f"{op.name}__sum{i}")
            if not last:
                self.tensors[name] = Tensor(name, out.shape, DType.INT8, out.quant)
            sums = Requant((IDENTITY[0], IDENTITY[0]), (IDENTITY_SHIFT,))
            out_name = op.output if last else name
            ops.append(Add(name, (acc, part), out_name, requant=sums, out_min=-128, out_max=127))
            acc = out_name
        return ops


def ragged_concat(graph: Graph, op: Op, lanes: int) -> bool:
    """Does concat ``op`` have an input other than the last that ends inside a lane block?"""
    return isinstance(op, Concat) and op.axis == 1 and any(graph.tensors[x].shape[1] % lanes for x in op.inputs[:-1])


def as_gemms(graph: Graph, lanes: int) -> Graph:
    """``graph`` with each channel gather and each ragged concat of an integer graph as one-hot
    GEMMs; ``graph`` itself when it has none (or is a float graph, which no accelerator runs)."""
    moved = [op for op in graph.ops if isinstance(op, SelectChannels) or ragged_concat(graph, op, lanes)]
    if not moved or not graph.is_quantized:
        return graph
    r = _Rewriter(graph)
    ops: list[Op] = []
    for op in graph.ops:
        if isinstance(op, SelectChannels):
            ops += r.select(op)
        elif op in moved:
            ops += r.concat(op)  # type: ignore[arg-type]
        else:
            ops.append(op)
    return Graph.build(graph.name, r.tensors, r.constants, ops, graph.inputs, graph.outputs, graph.metadata)


def accelerator_form(graph: Graph, cfg: AccelConfig) -> tuple[Graph, dict[str, InputPacking]]:
    """The graph every lowering step sees: gathers and ragged concats as GEMMs, then shallow first
    convs on host-packed inputs (input_packing.py); and how the host packs those inputs."""
    return pack_shallow_inputs(as_gemms(graph, cfg.lanes), cfg)
