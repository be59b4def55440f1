"""Host-side packing of shallow first-layer inputs (hwgen/lower/input_packing.py):
the packed conv computes torch's conv exactly, the rewrite happens only where
it saves weight blocks, and lowered graphs with a packed input stay bit-exact
with sim/reference on the machine simulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from int_layers import ConvSpec, conv_graph, random_mac_params
from machine_cases import check_machine

from dian.errors import InputShapeError
from dian.hwgen.lower import input_packing
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.input_packing import InputPacking, pack_shallow_inputs
from dian.hwgen.lower.scheduler import plan_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Add, Graph, verify
from dian.sim.reference import run_graph

DEFAULT, TINY = PRESETS["default"], PRESETS["tiny"]


@pytest.mark.parametrize(
    "n, c, h, w, k, fy, fx, stride, padding, dilation",
    [
        (1, 3, 23, 23, 4, 7, 7, (2, 2), (3, 3), (1, 1)),  # ResNet's stem, odd size
        (2, 2, 9, 10, 3, 3, 5, (1, 3), (0, 2), (2, 1)),  # unequal strides, x dilation 1
        (1, 1, 8, 8, 2, 3, 3, (1, 1), (1, 1), (1, 2)),  # dilated along x
        (1, 4, 5, 6, 2, 2, 4, (2, 1), (1, 3), (1, 1)),  # more padding than the image has columns to spare
    ],
)
def test_packed_conv_equals_torch_conv(n, c, h, w, k, fy, fx, stride, padding, dilation) -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (n, c, h, w)).astype(np.int8)
    wt = rng.integers(-128, 128, (k, c, fy, fx)).astype(np.int8)

    def conv(a: np.ndarray, b: np.ndarray, **kw) -> np.ndarray:
        return torch.nn.functional.conv2d(
            torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), **kw
        ).numpy()

    want = conv(x, wt, stride=stride, padding=padding, dilation=dilation)
    p = InputPacking("x", (n, c, h, w), fx, stride[1], dilation[1], padding[1], want.shape[3])
    packed = p.apply(x)
    assert packed.shape == p.packed_shape == (n, c * fx, h, want.shape[3]) and packed.dtype == np.int8
    w2 = wt.transpose(0, 1, 3, 2).reshape(k, c * fx, fy, 1)
    got = conv(packed, w2, stride=(stride[0], 1), padding=(padding[0], 0), dilation=(dilation[0], 1))
    np.testing.assert_array_equal(got, want)
    assert InputPacking.from_json(p.to_json()) == p


def _stem(c: int = 3, k: int = 8, fx: int = 7) -> Graph:
    spec = ConvSpec(1, c, k, 19, 17, 7, fx, stride=(2, 2), padding=(3, fx // 2), relu=True)
    return conv_graph(spec, random_mac_params(np.random.default_rng(3), spec.w_shape))


def test_stem_is_packed_and_runs_in_fewer_cycles(monkeypatch: pytest.MonkeyPatch) -> None:
    g = _stem()
    packed, packings = pack_shallow_inputs(g, DEFAULT)
    assert list(packings) == ["x"] and packings["x"].packed_shape == (1, 21, 19, 9)
    op = packed.ops[0]
    assert op.stride == (2, 1) and op.padding == (3, 0) and packed.constants[op.weight].shape == (8, 21, 7, 1)
    verify(packed)
    # The rewritten graph is the same function (sim/reference on both; the input packed for the rewrite).
    x = np.random.default_rng(0).integers(-128, 128, (1, 3, 19, 17)).astype(np.int8)
    np.testing.assert_array_equal(
        run_graph(packed, {"x": packings["x"].apply(x)})[g.outputs[0]], run_graph(g, {"x": x})[g.outputs[0]]
    )
    plan = plan_graph(g, DEFAULT)[0]
    assert "input packed by the host: 3 channels x 7 kernel columns -> 21 channels" in plan.schedule.format()
    cycles = check_machine(g, DEFAULT).counters.cycles
    monkeypatch.setattr(input_packing, "_packable", lambda *a: False)
    assert not lower_graph(g, DEFAULT).packings
    unpacked = check_machine(g, DEFAULT).counters.cycles
    # 2 blocks x 7 kernel rows a pixel instead of 1 block x 49 taps (start-up and stores aside).
    assert cycles < unpacked / 2, (cycles, unpacked)


def test_packed_first_layer_is_bit_exact_on_the_machine() -> None:
    for cfg in (TINY, PRESETS["small"], DEFAULT):
        for fx in (3, 7):
            g = _stem(fx=fx)
            if pack_shallow_inputs(g, cfg)[1]:
                check_machine(g, cfg)


def test_packing_needs_a_gain_and_a_graph_input_read_by_one_conv() -> None:
    assert pack_shallow_inputs(_stem(c=16), DEFAULT)[1] == {}  # 16 channels already fill the rows
    assert pack_shallow_inputs(_stem(fx=1), DEFAULT)[1] == {}  # no kernel columns to fold
    assert pack_shallow_inputs(_stem(c=3, fx=3), TINY)[1] == {}  # 3 x 3 = 9 channels: 3 blocks x 3 rows = 9 taps
    g = _stem()
    add = Add("twice", (g.inputs[0], g.inputs[0]), "y2")  # a second reader of x
    tensors = [*g.tensors.values(), dataclasses.replace(g.tensors[g.inputs[0]], name="y2")]
    g2 = Graph.build("two_readers", tensors, dict(g.constants), [*g.ops, add], list(g.inputs), [*g.outputs, "y2"])
    assert pack_shallow_inputs(g2, DEFAULT)[1] == {}


def test_packed_input_is_given_in_its_own_shape() -> None:
    low = lower_graph(_stem(), DEFAULT)
    dram = np.frombuffer(low.image, dtype=np.uint8).copy()
    with pytest.raises(InputShapeError, match=r"input 'x' must be int8 of shape \[1, 3, 19, 17\]"):
        low.write_inputs(dram, {"x": np.zeros((1, 21, 19, 9), np.int8)})
