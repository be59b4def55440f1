"""The pointwise op in the IR: the table rule on hand-computed cases, the JSON form,
and the verifier's checks of functions, parameters and tables.

The sample graph (ir_samples.py) carries a per-channel PReLU (``act1``), so the
round-trip, printer and shape tests of the other files cover it too.
"""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest
from ir_samples import SLOPES, every_op_graph

from dian.errors import IRFormatError, IRValidationError
from dian.ir import DType, Graph, Pointwise, Tensor, graph_from_json, graph_to_json, verify
from dian.ir.pointwise import FUNCTIONS, build_table

INT = every_op_graph(integer=True)
FLOAT = every_op_graph(integer=False)


def with_act1(g: Graph, data: np.ndarray | None = None, **changes: object) -> Graph:
    """``g`` with act1's fields changed and, given ``data``, its table replaced."""
    ops = tuple(dataclasses.replace(op, **changes) if op.name == "act1" else op for op in g.ops)  # type: ignore[arg-type]
    consts = dict(g.constants)
    tensors = dict(g.tensors)
    if data is not None:
        consts["t1"] = data
        tensors["t1"] = dataclasses.replace(tensors["t1"], shape=data.shape)
    return Graph.build(g.name, tensors, consts, ops, g.inputs, g.outputs)


# -- the table rule, worked out by hand -------------------------------------------------------


def test_table_rounds_half_to_even_and_saturates() -> None:
    # leaky_relu(0.5) with s_in = s_out = 1: q < 0 gives q / 2, exact ties at every odd q
    t = build_table("leaky_relu", (0.5,), 1.0, 1.0)[0]
    assert t.shape == (256,) and t.dtype == np.int8
    at = {q: int(t[q + 128]) for q in (-128, -5, -3, -1, 0, 1, 127)}
    assert at == {-128: -64, -5: -2, -3: -2, -1: 0, 0: 0, 1: 1, 127: 127}  # -2.5 -> -2, -1.5 -> -2, -0.5 -> 0
    # s_out half of s_in doubles every value: saturation at both ends
    t = build_table("leaky_relu", (1.0,), 1.0, 0.5)[0]
    assert int(t[0]) == -128 and int(t[255]) == 127 and int(t[128 + 30]) == 60


def test_hardswish_table_by_hand() -> None:
    # s_in = 1/16, s_out = 1/32: hardswish(-3) = 0, hardswish(3) = 3, hardswish(1) = 1 * 4 / 6
    t = build_table("hardswish", (), 1 / 16, 1 / 32)[0]
    assert int(t[128 - 48]) == 0 and int(t[128 + 48]) == 96 and int(t[128 + 16]) == round(32 * 4 / 6)
    assert int(t[128 - 24]) == round(-1.5 * 1.5 / 6 * 32)  # x = -1.5: -0.375 -> -12


def test_prelu_has_one_row_per_channel() -> None:
    t = build_table("prelu", (0.5, 2.0), 1.0, 1.0)
    assert t.shape == (2, 256)
    assert int(t[0, 128 - 10]) == -5 and int(t[1, 128 - 10]) == -20 and int(t[1, 128 + 10]) == 10


def test_every_function_is_finite_over_the_int8_range() -> None:
    for name, spec in FUNCTIONS.items():
        params = {0: (), 1: (0.1,), 2: (1.0, 20.0)}[len(spec.params)]
        with np.errstate(all="raise"):  # no overflow, no invalid value anywhere in the int8 range
            t = build_table(name, params, 0.2, 0.05)
        assert t.shape == (1, 256), name


# -- JSON and the printer -----------------------------------------------------------------------


def test_round_trip_keeps_function_params_and_table() -> None:
    back = graph_from_json(graph_to_json(INT))
    op = back.op("act1")
    assert isinstance(op, Pointwise) and op.fn == "prelu" and op.params == SLOPES and op.table == "t1"
    assert np.array_equal(back.constants["t1"], INT.constants["t1"]) and back.constants["t1"].shape == (8, 256)


def test_an_edited_table_is_refused_at_load() -> None:
    doc = json.loads(graph_to_json(INT))
    table = INT.constants["t1"].copy()
    table[3, 200] = np.int8(int(table[3, 200]) - 5 if table[3, 200] > -100 else 0)
    doc["constants"]["t1"] = base64.b64encode(table.tobytes()).decode()
    with pytest.raises(IRFormatError, match=r"pointwise op 'act1': table row 3 entry 200 \(q = 72\)"):
        graph_from_json(json.dumps(doc))


# -- the verifier -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: with_act1(FLOAT, fn="swish"), r"pointwise op 'act1': function 'swish' is not known; known functions"),
        (lambda: with_act1(FLOAT, params=(0.1, 0.2)), r"prelu has 2 parameters for an input with 8 channels"),
        (lambda: with_act1(FLOAT, fn="silu", params=(1.0,)), r"silu has 1 parameters; it takes 0 \(none\)"),
        (lambda: with_act1(FLOAT, fn="elu", params=()), r"elu has 0 parameters; it takes 1 \(alpha\)"),
        (lambda: with_act1(FLOAT, params=(float("nan"),) * 8), r"parameters must be finite"),
        (lambda: with_act1(INT, table=None), r"pointwise op 'act1': has no table"),
        (
            lambda: with_act1(INT, INT.constants["t1"][:1]),
            r"table has shape \[1, 256\]; prelu\(8 slopes\) needs \[8, 256\]",
        ),
        (
            lambda: with_act1(INT, INT.constants["t1"][:, :255]),
            r"table has shape \[8, 255\]; prelu\(8 slopes\) needs \[8, 256\]",
        ),
        (
            lambda: with_act1(INT, fn="silu", params=()),
            r"table has shape \[8, 256\]; silu needs \[1, 256\]",
        ),
        (
            lambda: with_act1(INT, params=tuple(-s for s in SLOPES)),
            r"pointwise op 'act1': table row \d+ entry \d+ .* but prelu between the scales 0.15 and 0.11 gives",
        ),
    ],
)
def test_verifier_rejects(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IRValidationError, match=message):
        verify(build())


def test_float_graph_takes_no_table() -> None:
    g = FLOAT
    tensors = dict(g.tensors) | {"t1": Tensor("t1", (8, 256), DType.FLOAT32)}
    consts = dict(g.constants) | {"t1": INT.constants["t1"].astype(np.float32)}
    ops = tuple(dataclasses.replace(op, table="t1") if op.name == "act1" else op for op in g.ops)
    with pytest.raises(IRValidationError, match=r"pointwise op 'act1': has a table in a float graph"):
        verify(Graph.build(g.name, tensors, consts, ops, g.inputs, g.outputs))


def test_table_within_one_lsb_is_accepted() -> None:
    table = INT.constants["t1"].astype(np.int16)
    table[:, 1:-1] += np.where(np.arange(254) % 2, 1, -1)  # every inner entry off by one, none saturated past int8
    assert verify(with_act1(INT, np.clip(table, -128, 127).astype(np.int8))) is not None
