"""Activation functions that ONNX exporters write as several nodes, recognized as one.

The legacy exporter has no node for SiLU, Mish or (below opset 20) GELU, and the dynamo exporter
writes softplus's threshold as a comparison; lowered node by node they would be several int8 ops
with a rounding between each (and Erf, Greater and Where have no lowering at all). A match turns
the whole group into one pointwise function of ir/pointwise.py, an exact int8 table:

* ``x * Sigmoid(x)`` is ``silu``;
* ``x * Tanh(Softplus(x))`` is ``mish``;
* ``x * (Erf(x / sqrt 2) + 1) * 0.5`` (or ``x * 1/sqrt 2`` inside) is ``gelu``;
* ``Where(Greater(x, t), x, Softplus(x))`` is ``softplus`` with threshold ``t``.

Every inner node of a group must feed only the group, so nothing else reads a value that the
fused op no longer produces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx


@dataclass(frozen=True)
class Fused:
    """A group rooted at one node: the pointwise ``fn(params)`` of the value ``x``; ``inner``
    are the indices of the group's other nodes, which are not lowered on their own."""

    x: str
    fn: str
    params: tuple[float, ...]
    inner: tuple[int, ...]


class _Index:
    def __init__(self, nodes: list[onnx.NodeProto], consts: Mapping[str, np.ndarray]) -> None:
        self.nodes, self.consts = nodes, consts
        self.producer = {out: i for i, n in enumerate(nodes) for out in n.output if out}
        self.uses: dict[str, int] = {}
        for n in nodes:
            for v in n.input:
                self.uses[v] = self.uses.get(v, 0) + 1

    def inner(self, value: str, op_type: str) -> int | None:
        """The node of ``op_type`` producing ``value``, when ``value`` is read once (by the group)."""
        i = self.producer.get(value)
        if i is None or self.nodes[i].op_type != op_type or self.uses.get(value, 0) != 1:
            return None
        return i

    def number(self, value: str) -> float | None:
        c = self.consts.get(value)
        return float(c.reshape(-1)[0]) if c is not None and c.size == 1 else None

    def close(self, value: str, target: float) -> bool:
        v = self.number(value)
        return v is not None and math.isclose(v, target, rel_tol=1e-6)


def _operands(ix: _Index, node: onnx.NodeProto) -> list[tuple[str, str]]:
    """Both orders of a binary node's two inputs."""
    a, b = node.input[0], node.input[1]
    return [(a, b), (b, a)]


def _silu_or_mish(ix: _Index, node: onnx.NodeProto) -> Fused | None:
    for x, y in _operands(ix, node):
        s = ix.inner(y, "Sigmoid")
        if s is not None and ix.nodes[s].input[0] == x:
            return Fused(x, "silu", (), (s,))
        t = ix.inner(y, "Tanh")
        sp = ix.inner(ix.nodes[t].input[0], "Softplus") if t is not None else None
        if t is not None and sp is not None and ix.nodes[sp].input[0] == x:
            return Fused(x, "mish", (), (t, sp))
    return None


def _gelu(ix: _Index, node: onnx.NodeProto) -> Fused | None:
    """Mul(Mul(x, Add(Erf(x / sqrt2), 1)), 0.5)."""
    for prod, half in _operands(ix, node):
        m = ix.inner(prod, "Mul")
        if m is None or not ix.close(half, 0.5):
            continue
        for x, s in _operands(ix, ix.nodes[m]):
            a = ix.inner(s, "Add")
            if a is None:
                continue
            for e_out, one in _operands(ix, ix.nodes[a]):
                e = ix.inner(e_out, "Erf")
                if e is None or not ix.close(one, 1.0):
                    continue
                d_out = ix.nodes[e].input[0]
                d = ix.inner(d_out, "Div")
                if d is not None and ix.nodes[d].input[0] == x and ix.close(ix.nodes[d].input[1], math.sqrt(2.0)):
                    return Fused(x, "gelu", (), (m, a, e, d))
                d = ix.inner(d_out, "Mul")
                if d is not None and any(
                    v == x and ix.close(c, 1 / math.sqrt(2.0)) for v, c in _operands(ix, ix.nodes[d])
                ):
                    return Fused(x, "gelu", (), (m, a, e, d))
    return None


def _softplus_threshold(ix: _Index, node: onnx.NodeProto) -> Fused | None:
    """Where(Greater(x, t), x, Softplus(x))."""
    cond, x, other = node.input
    g, sp = ix.inner(cond, "Greater"), ix.inner(other, "Softplus")
    if g is None or sp is None or ix.nodes[sp].input[0] != x or ix.nodes[g].input[0] != x:
        return None
    t = ix.number(ix.nodes[g].input[1])
    return Fused(x, "softplus", (1.0, t), (g, sp)) if t is not None else None


def find_fused(nodes: list[onnx.NodeProto], consts: Mapping[str, np.ndarray]) -> dict[int, Fused]:
    """Root node index -> its group, for every group found (groups do not overlap)."""
    ix = _Index(nodes, consts)
    found: dict[int, Fused] = {}
    taken: set[int] = set()
    for i in reversed(range(len(nodes))):  # outermost first: GELU's 0.5 Mul before its inner Mul
        n = nodes[i]
        if i in taken:
            continue
        match = None
        if n.op_type == "Mul" and len(n.input) == 2:
            match = _gelu(ix, n) or _silu_or_mish(ix, n)
        elif n.op_type == "Where" and len(n.input) == 3:
            match = _softplus_threshold(ix, n)
        if match is not None and not taken.intersection(match.inner):
            found[i] = match
            taken.update(match.inner)
    return found
