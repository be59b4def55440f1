"""The printed table: op names, kinds, shapes, and MAC / parameter counts
worked out by hand for the sample graph (tests/ir/ir_samples.py)."""

from __future__ import annotations

import dataclasses

import pytest
from ir_samples import every_op_graph

from dian.ir import Graph, format_graph, graph_macs, graph_params, op_macs, verify

# MACs = N * K * OY * OX * (C / groups) * FY * FX, or out * in for linear:
#   conv1  1*8*9*11 * 3*3*3 = 792 * 27 = 21,384   params 8*3*3*3 + 8 = 224
#   dw     1*8*5*6  * 1*3*3 = 240 * 9  =  2,160   params 8*1*3*3     =  72 (no bias)
#   pw     1*4*4*5  * 8*1*1 =  80 * 8  =    640   params 4*8 + 4     =  36
#   fc     1 * 5 * 12                  =     60   params 5*12 + 5    =  65
#   total                                 24,244                        397
#   act1 (PReLU, 8 channels): no params in the float graph, its 8 x 256 table in the integer one
MACS = {"conv1": 21_384, "dw": 2_160, "pw": 640, "fc": 60}
PARAMS = {"conv1": 224, "dw": 72, "pw": 36, "fc": 65}


@pytest.fixture(params=[False, True], ids=["float", "int"])
def graph(request):
    return verify(every_op_graph(integer=request.param))


def test_mac_counts_by_hand(graph) -> None:
    for op in graph.ops:
        assert op_macs(graph, op) == MACS.get(op.name, 0), op.name
    assert graph_macs(graph) == 24_244
    assert graph_params(graph) == 397 + (8 * 256 if graph.is_quantized else 0)


def _row(text: str, name: str) -> str:
    rows = [line for line in text.splitlines() if line.split() and line.split()[0] == name]
    assert len(rows) == 1, (name, text)
    return rows[0]


def test_table_names_ops_kinds_shapes_and_counts(graph) -> None:
    text = format_graph(graph)
    kind = "int8" if graph.is_quantized else "float"
    params = 397 + (8 * 256 if graph.is_quantized else 0)
    assert text.splitlines()[0] == f"graph {graph.name} ({kind}): 16 ops, inputs x 1x3x9x11, outputs y 1x5"
    assert text.splitlines()[-1] == f"total 24,244 MACs, {params:,} parameters"
    for op in graph.ops:
        row = _row(text, op.name)
        assert op.kind.value in row
        assert "x".join(map(str, graph.tensors[op.output].shape)) in row
        for i in op.inputs:
            assert "x".join(map(str, graph.tensors[i].shape)) in row
    for name, macs in MACS.items():
        row = _row(text, name)
        assert f"{macs:,}" in row.split() and f"{PARAMS[name]:,}" in row.split()
    assert "g8" in _row(text, "dw") and "k3,3 s2,2 p1,1" in _row(text, "pool1") and "axis 1" in _row(text, "cat1")
    assert "prelu(8 slopes)" in _row(text, "act1")


def test_int_table_shows_scales_and_fused_clamp() -> None:
    g = every_op_graph(integer=True)
    ops = tuple(dataclasses.replace(op, out_min=0) if op.name == "conv1" else op for op in g.ops)
    text = format_graph(verify(Graph.build(g.name, dict(g.tensors), dict(g.constants), ops, g.inputs, g.outputs)))
    assert "conv2d clamp[0,127]" in _row(text, "conv1")
    assert "0.2 (w " in _row(text, "fc")  # output scale, then the weight scale range
    assert "0.09" in _row(text, "gap")
