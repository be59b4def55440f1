"""Per-op work counts: multiply-accumulates and parameter counts."""

from __future__ import annotations

from .graph import Graph
from .ops import Conv2d, Linear, Op


def op_macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of one op for the whole batch (0 for ops without MACs)."""
    out = graph.tensors[op.output].shape
    if isinstance(op, Conv2d):
        k, cg, fy, fx = graph.tensors[op.weight].shape
        return out[0] * k * out[2] * out[3] * cg * fy * fx
    if isinstance(op, Linear):
        o, i = graph.tensors[op.weight].shape
        return out[0] * o * i
    return 0


def op_params(graph: Graph, op: Op) -> int:
    """Number of stored parameters an op reads: weights, biases, and the entries of a pointwise op's table."""
    return sum(graph.tensors[c].numel for c in op.constants)


def graph_macs(graph: Graph) -> int:
    return sum(op_macs(graph, op) for op in graph.ops)


def graph_params(graph: Graph) -> int:
    return sum(op_params(graph, op) for op in graph.ops)
