"""Change a Graph's batch size.

A traced Graph has the concrete batch size it was traced with (shapes in the
IR are explicit). Calibration and accuracy runs want many samples per call of
the reference simulator, so this rewrites dimension 0 of every activation
(and of every Reshape target); constants and all other fields are unchanged.
"""

from __future__ import annotations

from dataclasses import replace

from dian.ir import Graph, Reshape, verify


def with_batch(graph: Graph, batch: int) -> Graph:
    """``graph`` for inputs with ``batch`` samples; verified."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    tensors = {
        n: t if n in graph.constants else replace(t, shape=(batch, *t.shape[1:])) for n, t in graph.tensors.items()
    }
    ops = [replace(op, shape=(batch, *op.shape[1:])) if isinstance(op, Reshape) else op for op in graph.ops]
    return verify(
        Graph.build(graph.name, tensors, dict(graph.constants), ops, graph.inputs, graph.outputs, graph.metadata)
    )
