"""The arithmetic contract on small cases worked out by hand.

Scales are chosen as powers of two (or simple fractions) so that every
expected value below can be checked with pencil and paper; the comment next
to each expectation shows the exact real value before rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
from int_layers import act, pool_graph, single_op_graph

from dian.errors import InputShapeError, IRValidationError
from dian.ir import (
    Add,
    Clamp,
    Concat,
    DType,
    GlobalAvgPool,
    Graph,
    Linear,
    QuantParams,
    Requant,
    Tensor,
    verify,
)
from dian.sim.reference import dequantize_output, quantize_input, round_shift, run_graph

# -- round_shift: floor((x + 2^(s-1)) / 2^s), ties go up ---------------------------------


@pytest.mark.parametrize(
    "x, s, expected",
    [
        (5, 1, 3),  # 2.5 -> 3
        (7, 1, 4),  # 3.5 -> 4
        (-5, 1, -2),  # -2.5 -> -2 (half *up*, not away from zero)
        (-7, 1, -3),  # -3.5 -> -3
        (-3, 1, -1),  # -1.5 -> -1
        (-1, 1, 0),  # -0.5 -> 0
        (6, 2, 2),  # 1.5 -> 2
        (-10, 2, -2),  # -2.5 -> -2
        (-11, 2, -3),  # -2.75 -> -3
        (-9, 2, -2),  # -2.25 -> -2
        (9, 2, 2),  # 2.25 -> 2
        (13, 0, 13),  # s = 0: identity
        (-13, 0, -13),
        (2**61, 62, 1),  # 0.5 -> 1 at the largest shift
        (-(2**61), 62, 0),  # -0.5 -> 0
        (3 * 2**60, 62, 1),  # 0.75 -> 1
        ((2**31 - 1) * (2**31 - 1), 62, 1),  # largest product (just under 2^62) / 2^62 = 0.99999... -> 1
    ],
)
def test_round_shift_half_up(x: int, s: int, expected: int) -> None:
    got = round_shift(np.array([x], dtype=np.int64), s)
    assert got.dtype == np.int64 and int(got[0]) == expected


def test_round_shift_per_element_shifts() -> None:
    x = np.array([5, 5, 5, -5], dtype=np.int64)
    s = np.array([0, 1, 2, 2], dtype=np.int64)
    # 5, 2.5 -> 3, 1.25 -> 1, -1.25 -> -1
    assert round_shift(x, s).tolist() == [5, 3, 1, -1]


# -- linear: per-channel requant, fused ReLU / ReLU6 clamps --------------------------------

# x scale 0.5, weight scales [0.25, 0.75] (per output channel), output scale 1:
# ratio 0.125 = 2^30 / 2^33 for channel 0 and 0.375 = (3 * 2^29) / 2^32 for channel 1.
_W = np.array([[1, 2], [4, -1]], dtype=np.int8)
_B = np.array([-13, -13], dtype=np.int32)
_RQ = Requant((2**30, 3 * 2**29), (33, 32))


def _linear_graph(out_min: int, out_max: int) -> Graph:
    tensors = [
        act("x", (2, 2), 0.5),
        act("y", (2, 2), 1.0),
        Tensor("w", (2, 2), DType.INT8, QuantParams((0.25, 0.75), 0)),
        Tensor("b", (2,), DType.INT32),
    ]
    op = Linear("fc", ("x",), "y", weight="w", bias="b", requant=_RQ, out_min=out_min, out_max=out_max)
    return single_op_graph(op, tensors, {"w": _W, "b": _B})


_X = np.array([[3, -5], [127, 127]], dtype=np.int8)
# row 0: acc0 = 3*1 - 5*2 - 13 = -20 -> -20 * 0.125 = -2.5 -> -2
#        acc1 = 3*4 + 5*1 - 13 =   4 ->   4 * 0.375 =  1.5 ->  2
# row 1: acc0 = 127 + 254 - 13 = 368 -> 46.0 -> 46
#        acc1 = 508 - 127 - 13 = 368 -> 138.0 -> saturates to 127


def test_requantize_per_channel_by_hand() -> None:
    assert run_graph(_linear_graph(-128, 127), {"x": _X})["y"].tolist() == [[-2, 2], [46, 127]]


def test_fused_relu_and_relu6_are_clamps() -> None:
    assert run_graph(_linear_graph(0, 127), {"x": _X})["y"].tolist() == [[0, 2], [46, 127]]
    # ReLU6 at output scale 1: clamp to [0, 6]
    assert run_graph(_linear_graph(0, 6), {"x": _X})["y"].tolist() == [[0, 2], [6, 6]]


def test_clamp_op_integer_bounds() -> None:
    x = np.array([[-128, -1, 0, 5, 6, 7, 127]], dtype=np.int8)
    relu = single_op_graph(Clamp("r", ("x",), "y", min_value=0), [act("x", (1, 7), 0.1), act("y", (1, 7), 0.1)], {})
    relu6 = single_op_graph(
        Clamp("r", ("x",), "y", min_value=0, max_value=6), [act("x", (1, 7), 1.0), act("y", (1, 7), 1.0)], {}
    )
    assert run_graph(relu, {"x": x})["y"].tolist() == [[0, 0, 0, 5, 6, 7, 127]]
    out = run_graph(relu6, {"x": x})["y"]
    assert out.dtype == np.int8 and out.tolist() == [[0, 0, 0, 5, 6, 6, 6]]


# -- add: both inputs rescaled, then ONE rounding with a shared shift -----------------------


def _add_graph(lo: int = -128) -> Graph:
    # sa 0.5, sb 0.75, so 1: ratios 0.5 and 0.75 at shift 31 -> Ma = 2^30, Mb = 3 * 2^29
    rq = Requant((2**30, 3 * 2**29), (31,))
    op = Add("add", ("a", "b"), "y", requant=rq, out_min=lo, out_max=127)
    return single_op_graph(op, [act("a", (1, 9), 0.5), act("b", (1, 9), 0.75), act("y", (1, 9), 1.0)], {})


_A = np.array([[3, 1, 1, -3, 1, -1, -5, 127, -128]], dtype=np.int8)
_B2 = np.array([[1, 1, 2, 0, -2, -2, 1, 127, -128]], dtype=np.int8)
# real sums 0.5a + 0.75b:
#   2.25 -> 2 (rounding each term first would give 2 + 1 = 3)
#   1.25 -> 1 (each term first: 1 + 1 = 2)
#   2.0 -> 2;  -1.5 -> -1;  -1.0 -> -1;  -2.0 -> -2;  -1.75 -> -2
#   158.75 -> 127 (saturate);  -160 -> -128 (saturate)
_ADD_EXPECTED = [2, 1, 2, -1, -1, -2, -2, 127, -128]


def test_add_one_rounding_with_shared_shift() -> None:
    assert run_graph(_add_graph(), {"a": _A, "b": _B2})["y"].tolist() == [_ADD_EXPECTED]


def test_add_relu() -> None:
    assert run_graph(_add_graph(lo=0), {"a": _A, "b": _B2})["y"].tolist() == [[max(v, 0) for v in _ADD_EXPECTED]]


# -- pooling ---------------------------------------------------------------------------------


def test_avgpool_divides_with_half_up_rounding() -> None:
    # 2x2 windows, stride 2, same scale in and out: M / 2^s = 2^30 / 2^32 = 1/4 exactly
    x = np.array([[[[1, 2, -1, -2, 0, 1], [3, 4, -3, -4, 1, 0]]]], dtype=np.int8)
    g = pool_graph("avg", x.shape, (2, 2), (2, 2), (0, 0), 0.1)
    assert g.ops[0].requant == Requant((2**30,), (32,))
    # sums 10, -10, 2 -> 2.5 -> 3, -2.5 -> -2, 0.5 -> 1
    assert run_graph(g, {"x": x})["y"].tolist() == [[[[3, -2, 1]]]]


def test_avgpool_counts_padding_in_divisor() -> None:
    # 3x3 window, pad 1 on a 1x1 input: the divisor is 9 (count_include_pad), not 1.
    # 1/9 = (8/9) * 2^-3 -> M = round(8/9 * 2^31) = 1908874354, shift 34.
    x4, x5, xm = (np.array([[[[v]]]], dtype=np.int8) for v in (4, 5, -5))
    g = pool_graph("avg", (1, 1, 1, 1), (3, 3), (1, 1), (1, 1), 0.1)
    assert g.ops[0].requant == Requant((1908874354,), (34,))
    assert run_graph(g, {"x": x4})["y"].item() == 0  # 4/9 = 0.44 -> 0
    assert run_graph(g, {"x": x5})["y"].item() == 1  # 5/9 = 0.56 -> 1
    assert run_graph(g, {"x": xm})["y"].item() == -1  # -5/9 = -0.56 -> -1


def test_global_avgpool_rounding_follows_the_multiplier() -> None:
    # 2x3 plane, same scale: 1/6 = (2/3) * 2^-2 -> M = round(2/3 * 2^31) = 1431655765 (rounded *down*), shift 33.
    op = GlobalAvgPool("gap", ("x",), "y", requant=Requant((1431655765,), (33,)))
    g = single_op_graph(op, [act("x", (1, 2, 2, 3), 0.1), act("y", (1, 2, 1, 1), 0.1)], {})
    x = np.array([[[[1, 2, 3], [4, 5, 6]], [[7, 7, 7], [7, 7, -3]]]], dtype=np.int8)
    # channel 0: 21/6 = 3.5; channel 1: 32/6 = 5.33 -> 5.
    # 21 is an exact tie: (21 * 1431655765 + 2^32) >> 33 = 3, because M < 2^33 / 6 puts the product
    # just below 3.5. The contract is "round_shift(sum * M, s)", not "sum / 6 rounded half up".
    assert run_graph(g, {"x": x})["y"].reshape(-1).tolist() == [3, 5]


def test_maxpool_padding_never_wins() -> None:
    x = np.array([[[[-100, -120], [-90, -128]]]], dtype=np.int8)
    g = pool_graph("max", x.shape, (2, 2), (1, 1), (1, 1), 0.1)
    # 3x3 output; corner windows see one real element and three padded ones
    assert run_graph(g, {"x": x})["y"][0, 0].tolist() == [[-100, -100, -120], [-90, -90, -120], [-90, -90, -128]]


# -- concat: each input rescaled to the output scale -------------------------------------------


def test_concat_rescales_each_input() -> None:
    # sa 0.5 -> ratio 0.5 = 2^30/2^31; sb 0.25 -> 0.25 = 2^30/2^32; sc 2 -> 2 = 2^30/2^29; so 1
    rq = Requant((2**30, 2**30, 2**30), (31, 32, 29))
    op = Concat("cat", ("a", "b", "c"), "y", axis=1, requant=rq)
    g = single_op_graph(
        op, [act("a", (1, 4), 0.5), act("b", (1, 4), 0.25), act("c", (1, 2), 2.0), act("y", (1, 10), 1.0)], {}
    )
    a = np.array([[3, -3, 127, -128]], dtype=np.int8)  # 1.5 -> 2, -1.5 -> -1, 63.5 -> 64, -64
    b = np.array([[6, -6, 2, -128]], dtype=np.int8)  # 1.5 -> 2, -1.5 -> -1, 0.5 -> 1, -32
    c = np.array([[100, -100]], dtype=np.int8)  # 200 -> 127, -200 -> -128 (saturate)
    assert run_graph(g, {"a": a, "b": b, "c": c})["y"].tolist() == [[2, -1, 64, -64, 2, -1, 1, -32, 127, -128]]


# -- host-side quantize / dequantize ---------------------------------------------------------


def test_quantize_input_round_half_even_and_saturate() -> None:
    x = np.array([0.25, 0.75, -0.25, -0.75, 1.25, 0.3, 63.75, 100.0, -64.25, -1000.0])
    # x / 0.5 = 0.5 -> 0, 1.5 -> 2, -0.5 -> 0, -1.5 -> -2, 2.5 -> 2, 0.6 -> 1,
    #           127.5 -> 128 -> 127, 200 -> 127, -128.5 -> -128, -2000 -> -128
    q = quantize_input(x, 0.5)
    assert q.dtype == np.int8
    assert q.tolist() == [0, 2, 0, -2, 2, 1, 127, 127, -128, -128]


def test_dequantize_output() -> None:
    y = dequantize_output(np.array([-128, -1, 0, 1, 127], dtype=np.int8), 0.125)
    assert y.dtype == np.float32
    assert y.tolist() == [-16.0, -0.125, 0.0, 0.125, 15.875]


# -- accumulator overflow ----------------------------------------------------------------------


def _tiny_linear(w: np.ndarray, b: np.ndarray, check: bool) -> Graph:
    k, n = w.shape
    ratio_rq = Requant((2**30,), (31,))  # 0.5 with scales 1, 0.5, 1
    tensors = [
        act("x", (1, n), 1.0),
        act("y", (1, k), 1.0),
        Tensor("w", w.shape, DType.INT8, QuantParams.per_tensor(0.5)),
        Tensor("b", (k,), DType.INT32),
    ]
    op = Linear("fc", ("x",), "y", weight="w", bias="b", requant=ratio_rq, out_min=-128, out_max=127)
    g = Graph.build("g", tensors, {"w": w, "b": b}, [op], ["x"], ["y"])
    return verify(g) if check else g


def test_run_time_accumulator_overflow_raises() -> None:
    # bias 2^31 - 2 plus x*w = 1*1 = 2^31 - 1 still fits; 2*1 gives 2^31, which does not.
    g = _tiny_linear(np.array([[1]], dtype=np.int8), np.array([2**31 - 2], dtype=np.int32), check=False)
    assert run_graph(g, {"x": np.array([[1]], dtype=np.int8)})["y"].item() == 127
    with pytest.raises(IRValidationError, match=r"linear op 'fc'.*2147483648.*32-bit accumulator"):
        run_graph(g, {"x": np.array([[2]], dtype=np.int8)})
    # negative: acc = -1 + (-2^31 + 1) = -2^31 fits a two's-complement register, but the contract is
    # symmetric (|acc| < 2^31, as the verifier's bound), so it is an overflow too
    g = _tiny_linear(np.array([[1]], dtype=np.int8), np.array([-(2**31) + 1], dtype=np.int32), check=False)
    with pytest.raises(IRValidationError, match="linear op 'fc'"):
        run_graph(g, {"x": np.array([[-1]], dtype=np.int8)})


def test_run_time_overflow_with_narrow_accumulator() -> None:
    w = np.full((1, 4), 100, dtype=np.int8)
    g = _tiny_linear(w, np.zeros(1, dtype=np.int32), check=True)
    ok = np.array([[80, 1, 0, 0]], dtype=np.int8)  # acc 8100 < 2^15
    bad = np.array([[100, 100, 100, 28]], dtype=np.int8)  # acc 32800 >= 2^15
    run_graph(g, {"x": ok}, acc_bits=16)
    with pytest.raises(IRValidationError, match="16-bit accumulator"):
        run_graph(g, {"x": bad}, acc_bits=16)


def test_verifier_rejects_static_overflow_naming_the_op() -> None:
    # 140,000 weights of 127: 140000 * 127 * 128 = 2,275,840,000 > 2^31 - 1
    with pytest.raises(IRValidationError, match=r"linear op 'fc'.*2275840000.*32-bit accumulator"):
        _tiny_linear(np.full((1, 140_000), 127, dtype=np.int8), np.zeros(1, dtype=np.int32), check=True)
    # a bias near the limit: 128 * 1 + (2^31 - 100) > 2^31 - 1
    with pytest.raises(IRValidationError, match="linear op 'fc'"):
        _tiny_linear(np.array([[1]], dtype=np.int8), np.array([2**31 - 100], dtype=np.int32), check=True)
    # the channel that overflows is named; acc_bits narrows the limit: 4 * 100 * 128 = 51200 >= 2^15
    w = np.array([[1, 1, 1, 1], [100, 100, 100, 100]], dtype=np.int8)
    _tiny_linear(w, np.zeros(2, dtype=np.int32), check=True)  # fine at 32 bits
    with pytest.raises(IRValidationError, match=r"output channel 1 can reach \|acc\| = 51200.*16-bit"):
        verify(_tiny_linear(w, np.zeros(2, dtype=np.int32), check=False), acc_bits=16)


# -- input checks ------------------------------------------------------------------------------


def test_wrong_input_shape_dtype_or_name() -> None:
    g = _linear_graph(-128, 127)
    with pytest.raises(InputShapeError, match=r"shape \[2, 3\].*\[2, 2\]"):
        run_graph(g, {"x": np.zeros((2, 3), dtype=np.int8)})
    with pytest.raises(InputShapeError, match=r"float32.*int8"):
        run_graph(g, {"x": np.zeros((2, 2), dtype=np.float32)})
    with pytest.raises(InputShapeError, match="int16"):
        run_graph(g, {"x": np.zeros((2, 2), dtype=np.int16)})
    with pytest.raises(InputShapeError, match="needs input 'x'"):
        run_graph(g, {"image": np.zeros((2, 2), dtype=np.int8)})
