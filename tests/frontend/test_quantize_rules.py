"""Quantization on hand-computed cases: weights, bias, scales, fused clamps,
add/concat/pool requantization, guards and errors. Every result also passes
dian.ir.verify inside quantize()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from frontend_helpers import Net

from dian.errors import QuantizationError
from dian.frontend import quantize, trace
from dian.frontend.scales import MIN_ACT_RANGE
from dian.ir import Add, AvgPool2d, Clamp, Concat, Conv2d, DType, GlobalAvgPool, Linear
from dian.sim.reference import run_graph


def _linear(weight: list[list[float]], bias: list[float] | None) -> nn.Module:
    lin = nn.Linear(len(weight[0]), len(weight), bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(weight))
        if bias is not None:
            lin.bias.copy_(torch.tensor(bias))
    return Net(lambda s, x: s.l(x), l=lin)


def _scale(graph, name: str) -> float:  # type: ignore[no-untyped-def]
    return graph.tensors[name].quant.scale[0]


def test_linear_weights_bias_and_requant_by_hand() -> None:
    g = trace(_linear([[0.3, -1.0], [0.0, 0.0]], [0.1, 0.2]), (1, 2), "m")
    q = quantize(g, {"x": 1.27, "l": 2.54})  # s_in = 0.01, s_out = 0.02
    op = q.ops[0]
    assert isinstance(op, Linear)
    w = q.constants[op.weight]
    assert w.dtype == np.int8 and w.tolist() == [[38, -127], [0, 0]]  # 0.3 * 127 = 38.1
    wq = q.tensors[op.weight].quant
    assert wq.axis == 0 and wq.scale == pytest.approx((1 / 127, 1 / 127))  # zero row: smallest other scale
    b = q.constants[op.bias]
    assert b.dtype == np.int32 and b.tolist() == [1270, 2540]  # 0.1 / (0.01 / 127), 0.2 / (0.01 / 127)
    # ratio 0.01 * (1/127) / 0.02 = 1/254 = (128/254) * 2^-7
    assert op.requant.multiplier == (round(2**38 / 254),) * 2 and op.requant.shift == (38, 38)
    assert (op.out_min, op.out_max) == (-128, 127)
    assert _scale(q, "x") == pytest.approx(0.01) and _scale(q, "l") == pytest.approx(0.02)
    # x = [1.0, -0.5] -> q_in [100, -50]; acc0 = 38*100 + 127*50 + 1270 = 11420 -> /254 = 44.96 -> 45
    out = run_graph(q, {"x": np.array([[100, -50]], dtype=np.int8)})["l"]
    assert out.tolist() == [[45, 10]]  # float: 0.9 / 0.02 = 45 and 0.2 / 0.02 = 10


def test_weight_rounding_is_half_to_even_and_symmetric() -> None:
    g = trace(_linear([[127.0, 2.5, 3.5, -2.5, -127.0]], None), (1, 5), "m")  # scale exactly 127/127 = 1
    q = quantize(g, {"x": 1.0, "l": 1.0})
    assert q.tensors[q.ops[0].weight].quant.scale == (1.0,)
    assert q.constants[q.ops[0].weight].tolist() == [[127, 2, 4, -2, -127]]  # ties to even, never -128


def _conv_then(act: nn.Module) -> nn.Module:
    conv = nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
        conv.bias.zero_()
    return Net(lambda s, x: s.a(s.c(x)), c=conv, a=act)


@pytest.mark.parametrize(
    "act, bounds",
    [
        (nn.ReLU(), (0, 127)),
        (nn.Hardtanh(-0.5, 1.0), (-25, 50)),  # bounds / 0.02
        (nn.ReLU6(), (0, 127)),  # 6 / 0.02 = 300 -> saturates at 127
        (nn.Hardtanh(-9.0, 9.0), (-128, 127)),
    ],
)
def test_clamp_fuses_into_producer(act: nn.Module, bounds: tuple[int, int]) -> None:
    g = trace(_conv_then(act), (1, 1, 2, 2), "m")
    q = quantize(g, {"x": 1.27, "c": 5.0, "a": 2.54})
    assert len(q.ops) == 1 and isinstance(q.ops[0], Conv2d)
    op = q.ops[0]
    assert op.name == "c" and op.output == "a" and "c" not in q.tensors
    assert (op.out_min, op.out_max) == bounds
    assert _scale(q, "a") == pytest.approx(0.02)  # the clamp output's scale


def test_clamp_chain_fuses_with_intersected_bounds() -> None:
    model = Net(lambda s, x: torch.clamp(F.relu(s.c(x)), max=1.0), c=nn.Conv2d(1, 1, 1))
    g = trace(model, (1, 1, 2, 2), "m")
    q = quantize(g, {"x": 1.0, "c": 1.0, "relu": 1.0, "clamp": 2.54})
    assert len(q.ops) == 1 and (q.ops[0].out_min, q.ops[0].out_max) == (0, 50)


def test_clamp_stays_standalone_when_producer_output_is_shared() -> None:
    model = Net(_shared, c=nn.Conv2d(1, 1, 1))
    g = trace(model, (1, 1, 2, 2), "m")
    q = quantize(g, {"x": 1.0, "c": 1.27, "clamp": 1.0, "cat": 1.27})
    clamp = next(op for op in q.ops if isinstance(op, Clamp))
    assert (clamp.min_value, clamp.max_value) == (-50, 100)  # bounds / the input scale 0.01
    assert _scale(q, "clamp") == _scale(q, "c")
    assert next(op for op in q.ops if isinstance(op, Conv2d)).out_max == 127


def _shared(s: nn.Module, x: torch.Tensor) -> torch.Tensor:
    y = s.c(x)
    return torch.cat([y.clamp(-0.5, 1.0), y], 1)


def test_standalone_relu_gets_integer_bounds() -> None:
    q = quantize(trace(Net(lambda s, x: F.relu(x)), (1, 3), "m"), {"x": 1.0, "relu": 1.0})
    op = q.ops[0]
    assert isinstance(op, Clamp) and (op.min_value, op.max_value) == (0, None)


def test_add_shares_one_shift() -> None:
    model = Net(lambda s, x: s.a(x) + s.b(x), a=nn.Conv2d(1, 1, 1), b=nn.Conv2d(1, 1, 1))
    q = quantize(trace(model, (1, 1, 2, 2), "m"), {"x": 1.0, "a": 1.27, "b": 2.54, "add": 5.08})
    add = next(op for op in q.ops if isinstance(op, Add))
    assert add.requant.multiplier == (2**29, 2**30) and add.requant.shift == (31,)  # 0.25, 0.5


def test_concat_takes_the_largest_input_scale() -> None:
    model = Net(lambda s, x: torch.cat([s.a(x), s.b(x)], 1), a=nn.Conv2d(1, 1, 1), b=nn.Conv2d(1, 1, 1))
    q = quantize(trace(model, (1, 1, 2, 2), "m"), {"x": 1.0, "a": 1.27, "b": 2.54, "cat": 99.0})
    cat = next(op for op in q.ops if isinstance(op, Concat))
    assert _scale(q, "cat") == pytest.approx(0.02)
    assert cat.requant.multiplier == (2**30, 2**30) and cat.requant.shift == (31, 30)  # 0.5, 1.0


def test_pools_keep_scale_and_divide_by_the_window() -> None:
    model = Net(lambda s, x: (F.avg_pool2d(x, 2), F.max_pool2d(x, 2), x.mean((2, 3)), torch.flatten(x, 1)))
    g = trace(model, (1, 1, 3, 3), "m")
    q = quantize(g, {t.name: 1.27 for t in g.activations()})
    for t in q.activations():
        assert _scale(q, t.name) == _scale(q, "x")
    avg = next(op for op in q.ops if isinstance(op, AvgPool2d))
    gap = next(op for op in q.ops if isinstance(op, GlobalAvgPool))
    assert avg.requant.multiplier == (2**30,) and avg.requant.shift == (32,)  # 1/4
    assert gap.requant.multiplier == (round(8 / 9 * 2**31),) and gap.requant.shift == (34,)  # 1/9 = (8/9) 2^-3


def test_zero_range_uses_the_documented_floor() -> None:
    q = quantize(trace(Net(lambda s, x: F.relu(x)), (1, 3), "m"), {"x": 0.0, "relu": 0.0})
    assert _scale(q, "x") == MIN_ACT_RANGE / 127


def test_all_activations_int8_constants_int8_int32() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2, 3))
    g = trace(model, (1, 1, 3, 3), "m")
    q = quantize(g, {t.name: 1.0 for t in g.activations()})
    assert q.is_quantized
    assert {q.tensors[t.name].dtype for t in q.activations()} == {DType.INT8}
    assert {str(a.dtype) for a in q.constants.values()} == {"int8", "int32"}


def test_accumulator_overflow_names_the_layer() -> None:
    g = trace(_linear([[1.0] * 4], [0.0]), (1, 4), "m")  # 4 * 127 * 128 = 65024 > 2^15 - 1
    with pytest.raises(QuantizationError, match=r"layer 'l'.*16-bit"):
        quantize(g, {"x": 1.0, "l": 1.0}, acc_bits=16)
    quantize(g, {"x": 1.0, "l": 1.0}, acc_bits=32)


def test_oversized_bias_widens_the_weight_scale() -> None:
    g = trace(_linear([[1e-6, -1e-6]], [1.0]), (1, 2), "m")  # bias / (s_in * s_w) would be ~1.3e10
    q = quantize(g, {"x": 1.27, "l": 1.27})
    op = q.ops[0]
    bias = int(q.constants[op.bias][0])
    assert 0 < bias < 2**31 - 1 - 128 * 127 * 2
    out = run_graph(q, {"x": np.array([[127, -128]], dtype=np.int8)})["l"]
    assert out.tolist() == [[100]]  # 1.0 / 0.01: the bias survives


@pytest.mark.parametrize(
    "ranges, words", [({"x": 1.0}, "'l' has no calibrated range"), ({"x": 1.0, "l": float("nan")}, "finite")]
)
def test_bad_ranges(ranges: dict[str, float], words: str) -> None:
    with pytest.raises(QuantizationError, match=words):
        quantize(trace(_linear([[1.0]], None), (1, 1), "m"), ranges)


def test_quantizing_twice_is_rejected() -> None:
    q = quantize(trace(Net(lambda s, x: F.relu(x)), (1, 3), "m"), {"x": 1.0, "relu": 1.0})
    with pytest.raises(QuantizationError, match="already quantized"):
        quantize(q, {"x": 1.0, "relu": 1.0})
