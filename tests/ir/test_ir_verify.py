"""The verifier: one broken invariant at a time on an otherwise valid graph,
each rejected with an IRValidationError that names the op (or tensor) and what
is allowed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from ir_samples import every_op_graph, multiplier

from dian.errors import IRValidationError
from dian.ir import DType, Graph, Linear, QuantParams, Requant, Tensor, verify

INT = every_op_graph(integer=True)
FLOAT = every_op_graph(integer=False)


def with_op(g: Graph, op_name: str, **changes) -> Graph:
    ops = tuple(dataclasses.replace(op, **changes) if op.name == op_name else op for op in g.ops)
    return Graph.build(g.name, dict(g.tensors), dict(g.constants), ops, g.inputs, g.outputs)


def with_tensor(g: Graph, name: str, constant: np.ndarray | None = None, **changes) -> Graph:
    tensors = dict(g.tensors)
    tensors[name] = dataclasses.replace(tensors[name], **changes)
    consts = dict(g.constants)
    if constant is not None:
        consts[name] = constant
    return Graph.build(g.name, tensors, consts, g.ops, g.inputs, g.outputs)


def with_ops(g: Graph, ops) -> Graph:
    return Graph.build(g.name, dict(g.tensors), dict(g.constants), tuple(ops), g.inputs, g.outputs)


def _rq(g: Graph, name: str) -> Requant:
    return g.op(name).requant  # type: ignore[attr-defined]


def test_sample_graphs_are_valid() -> None:
    assert verify(INT) is INT and verify(FLOAT) is FLOAT


CASES: list[tuple[str, Callable[[], Graph], str]] = [
    # shapes
    (
        "bad-declared-shape",
        lambda: with_tensor(INT, "c1", shape=(1, 8, 9, 10)),
        r"conv2d op 'conv1': output 'c1' is declared \[1, 8, 9, 10\] but the op produces \[1, 8, 9, 11\]",
    ),
    (
        "groups-not-dividing",
        lambda: with_op(INT, "dw", groups=3),
        r"conv2d op 'dw': groups=3 with 8 input and 8 output channels; groups must divide both",
    ),
    (
        "groups-vs-weight",
        lambda: with_op(INT, "dw", groups=4),
        r"conv2d op 'dw': weight has 1 input channels per group, input gives 2",
    ),
    (
        "linear-features",
        lambda: with_tensor(INT, "w4", shape=(5, 11), constant=np.zeros((5, 11), np.int8)),
        r"linear op 'fc': input has 12 features, weight expects 11",
    ),
    (
        "add-shapes",
        lambda: with_op(INT, "add1", inputs=("p1", "r1")),
        r"add op 'add1': input shapes \[\[1, 8, 5, 6\], \[1, 8, 9, 11\]\]; add takes two inputs of the same shape",
    ),
    (
        "concat-axis-0",
        lambda: with_op(INT, "cat1", axis=0),
        r"concat op 'cat1': axis 0 for rank-4 inputs; axis must be in 1..3",
    ),
    ("concat-axis-4", lambda: with_op(INT, "cat1", axis=4), r"concat op 'cat1': axis 4 for rank-4 inputs"),
    (
        "concat-other-dims",
        lambda: with_op(INT, "cat1", axis=2),
        r"concat op 'cat1': .*must agree on every dimension except axis 2",
    ),
    (
        "reshape-count",
        lambda: with_op(INT, "flat", shape=(1, 11)),
        r"reshape op 'flat': cannot reshape \[1, 12, 1, 1\] to \[1, 11\]",
    ),
    ("reshape-minus-one", lambda: with_op(INT, "flat", shape=(1, -12)), r"reshape op 'flat': .*explicit \(no -1\)"),
    ("reshape-batch", lambda: with_op(INT, "flat", shape=(2, 6)), r"reshape op 'flat': .*changes the batch size"),
    (
        "pool-padding",
        lambda: with_op(INT, "pool1", padding=(2, 2)),
        r"maxpool2d op 'pool1': padding \[2, 2\] with kernel \[3, 3\]",
    ),
    (
        "window-too-big",
        lambda: with_op(FLOAT, "avg1", kernel=(6, 2)),
        r"avgpool2d op 'avg1': window 6 .* does not fit input height 5",
    ),
    (
        "channel-out-of-range",
        lambda: with_op(INT, "shuffle", channels=(0, 12)),
        r"select_channels op 'shuffle': channels \[0, 12\]; .* channel numbers in \[0, 12\)",
    ),
    (
        "no-channels",
        lambda: with_op(FLOAT, "shuffle", channels=()),
        r"select_channels op 'shuffle': channels \[\]",
    ),
    # structure
    (
        "undeclared-output",
        lambda: with_op(INT, "conv1", output="c9"),
        r"conv2d op 'conv1': writes undeclared tensor 'c9'",
    ),
    (
        "undeclared-input",
        lambda: with_op(INT, "relu1", inputs=("zz",)),
        r"clamp op 'relu1': reads 'zz' before it is produced",
    ),
    (
        "topological-order",
        lambda: with_ops(INT, (INT.ops[1], INT.ops[0], *INT.ops[2:])),
        r"clamp op 'relu1': reads 'c1' before it is produced; ops must be in topological order",
    ),
    ("duplicate-op-name", lambda: with_op(INT, "pool1", name="conv1"), r"maxpool2d op 'conv1': reuses an op name"),
    (
        "tensor-written-twice",
        lambda: with_op(INT, "dw", output="p1"),
        r"conv2d op 'dw': writes 'p1', which already has a value",
    ),
    (
        "undefined-weight",
        lambda: with_op(INT, "conv1", weight="nope"),
        r"conv2d op 'conv1': constant 'nope' is not defined",
    ),
    (
        "output-never-produced",
        lambda: Graph.build("g", dict(INT.tensors), dict(INT.constants), INT.ops, ["x"], ["q"]),
        r"graph output 'q': is never produced",
    ),
    (
        "input-is-constant",
        lambda: Graph.build("g", dict(INT.tensors), dict(INT.constants), INT.ops, ["w1"], ["y"]),
        r"graph input 'w1': is not a declared activation",
    ),
    # dtypes
    (
        "float-weight-in-int-graph",
        lambda: with_tensor(INT, "w1", dtype=DType.FLOAT32, constant=np.zeros((8, 3, 3, 3), np.float32)),
        r"conv2d op 'conv1': constant 'w1' is float32; it must be int8",
    ),
    (
        "int8-bias",
        lambda: with_tensor(INT, "b1", dtype=DType.INT8, constant=np.zeros(8, np.int8)),
        r"conv2d op 'conv1': constant 'b1' is int8; it must be int32",
    ),
    (
        "int32-activation",
        lambda: with_tensor(INT, "c1", dtype=DType.INT32),
        r"conv2d op 'conv1': activation 'c1' is int32 .*; integer activations must be int8 with one per-tensor scale",
    ),
    (
        "int8-in-float-graph",
        lambda: with_tensor(FLOAT, "c1", dtype=DType.INT8),
        r"tensor 'c1': is int8 in a float graph",
    ),
    (
        "constant-data-dtype",
        lambda: with_tensor(INT, "w1", constant=np.zeros((8, 3, 3, 3), np.int16)),
        r"constant 'w1': data is int16\[8, 3, 3, 3\], declared int8\[8, 3, 3, 3\]",
    ),
    (
        "weight-scale-count",
        lambda: with_tensor(INT, "w1", quant=QuantParams((0.1, 0.2, 0.3), 0)),
        r"conv2d op 'conv1': weight 'w1' has quant .*; weights need one scale \(per tensor\) or 8 scales along axis 0",
    ),
    (
        "activation-scale-negative",
        lambda: with_tensor(INT, "x", quant=QuantParams.per_tensor(-0.5)),
        r"tensor 'x': has scale -0.5; scales must be positive",
    ),
    # quantization fields
    (
        "missing-requant-conv",
        lambda: with_op(INT, "conv1", requant=None),
        r"conv2d op 'conv1': has no requantization parameters",
    ),
    (
        "missing-requant-add",
        lambda: with_op(INT, "add1", requant=None),
        r"add op 'add1': has no requantization parameters",
    ),
    (
        "missing-requant-avgpool",
        lambda: with_op(INT, "avg1", requant=None),
        r"avgpool2d op 'avg1': has no requantization",
    ),
    ("missing-requant-concat", lambda: with_op(INT, "cat1", requant=None), r"concat op 'cat1': has no requantization"),
    (
        "missing-requant-gap",
        lambda: with_op(INT, "gap", requant=None),
        r"global_avgpool op 'gap': has no requantization",
    ),
    (
        "requant-off-by-5",
        lambda: with_op(
            INT,
            "conv1",
            requant=Requant(
                (_rq(INT, "conv1").multiplier[0] + 5, *_rq(INT, "conv1").multiplier[1:]), _rq(INT, "conv1").shift
            ),
        ),
        r"conv2d op 'conv1': requant \d+ / 2\^\d+ = .* does not match the scales",
    ),
    (
        "requant-multiplier-31-bits",
        lambda: with_op(INT, "avg1", requant=Requant((2**31,), (30,))),
        r"avgpool2d op 'avg1': requant multiplier 2147483648 / shift 30; multipliers must be in \[0, 2\^31\)",
    ),
    (
        "requant-shift-63",
        lambda: with_op(INT, "gap", requant=Requant((2**30,), (63,))),
        r"global_avgpool op 'gap': .*shifts in \[0, 62\]",
    ),
    (
        "requant-count",
        lambda: with_op(INT, "conv1", requant=Requant((2**30,) * 3, (31,) * 3)),
        r"conv2d op 'conv1': requant has 3 multipliers and 3 shifts; it needs 1 or 8",
    ),
    (
        "add-two-shifts",
        lambda: with_op(INT, "add1", requant=Requant(_rq(INT, "add1").multiplier, _rq(INT, "add1").shift * 2)),
        r"add op 'add1': requant has 2 multipliers and 2 shifts",
    ),
    (
        "concat-one-entry",
        lambda: with_op(INT, "cat1", requant=Requant(_rq(INT, "cat1").multiplier[:1], _rq(INT, "cat1").shift[:1])),
        r"concat op 'cat1': requant",
    ),  # the single entry is broadcast and fails the second input's ratio
    (
        "requant-in-float-graph",
        lambda: with_op(FLOAT, "conv1", requant=_rq(INT, "conv1")),
        r"conv2d op 'conv1': has requantization fields in a float graph",
    ),
    (
        "out-min-above-max",
        lambda: with_op(INT, "conv1", out_min=10, out_max=5),
        r"conv2d op 'conv1': output clamp \[10, 5\]; integer ops need out_min <= out_max within \[-128, 127\]",
    ),
    ("out-min-missing", lambda: with_op(INT, "fc", out_min=None), r"linear op 'fc': output clamp \[None, 127\]"),
    ("out-max-beyond-int8", lambda: with_op(INT, "add1", out_max=128), r"add op 'add1': output clamp \[-128, 128\]"),
    (
        "pool-rescales",
        lambda: with_tensor(INT, "p1", quant=QuantParams.per_tensor(0.2)),
        r"maxpool2d op 'pool1': input scale 0.1 differs from output scale 0.2",
    ),
    (
        "float-clamp-bound",
        lambda: with_op(INT, "relu1", min_value=0.0),
        r"clamp op 'relu1': bound 0.0; integer clamps take int bounds",
    ),
    ("clamp-bound-range", lambda: with_op(INT, "relu1", max_value=300), r"clamp op 'relu1': bound 300"),
]


@pytest.mark.parametrize("build, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invariant_violations(build: Callable[[], Graph], message: str) -> None:
    g = build()
    with pytest.raises(IRValidationError, match=message):
        verify(g)


def test_accumulator_bound_names_op_and_channel() -> None:
    w = np.zeros((8, 3, 3, 3), dtype=np.int8)
    w[5] = 127
    g = with_tensor(INT, "w1", constant=w)
    verify(g)  # 27 * 127 * 128 + |b| fits 32 bits easily
    # 27 * 127 * 128 = 438,912 (+ |bias| <= 5000) fits 20 bits (2^19 - 1 = 524,287) but not 19
    verify(g, acc_bits=20)
    with pytest.raises(
        IRValidationError, match=r"conv2d op 'conv1': output channel 5 can reach \|acc\| = \d+ .*19-bit"
    ):
        verify(g, acc_bits=19)


def test_per_channel_weight_with_one_output_channel_is_valid() -> None:
    # QuantParams: per channel = "one scale per index along that axis"; with K = 1 that is one scale.
    tensors = [
        Tensor("x", (1, 4), DType.INT8, QuantParams.per_tensor(0.1)),
        Tensor("y", (1, 1), DType.INT8, QuantParams.per_tensor(0.2)),
        Tensor("w", (1, 4), DType.INT8, QuantParams((0.01,), 0)),
    ]
    m, s = multiplier(0.1 * 0.01 / 0.2)
    op = Linear("fc", ("x",), "y", weight="w", requant=Requant((m,), (s,)), out_min=-128, out_max=127)
    verify(Graph.build("g", tensors, {"w": np.ones((1, 4), np.int8)}, [op], ["x"], ["y"]))
