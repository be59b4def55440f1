"""Shape inference against PyTorch's own output shapes (an independent reference),
including the odd cases: padding, dilation, strides that do not divide, groups,
windows that do not fit (torch raises exactly when dian does)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from dian.errors import IRValidationError
from dian.ir import AvgPool2d, Concat, Conv2d, GlobalAvgPool, Linear, MaxPool2d, Reshape, infer_shape

SETTINGS = settings(max_examples=300, derandomize=True, deadline=None)
pair = st.tuples


def _torch_shape(fn) -> tuple[int, ...] | None:
    try:
        return tuple(fn().shape)
    except RuntimeError:
        return None


def _ours(op, ins, consts) -> tuple[int, ...] | None:
    try:
        return infer_shape(op, ins, consts)
    except IRValidationError as e:
        assert f"op '{op.name}'" in str(e)
        return None


@SETTINGS
@given(
    n=st.integers(1, 2),
    g=st.integers(1, 3),
    cpg=st.integers(1, 3),
    kpg=st.integers(1, 3),
    h=st.integers(1, 13),
    w=st.integers(1, 13),
    f=pair(st.integers(1, 5), st.integers(1, 5)),
    stride=pair(st.integers(1, 3), st.integers(1, 3)),
    pad=pair(st.integers(0, 2), st.integers(0, 2)),
    dil=pair(st.integers(1, 3), st.integers(1, 3)),
)
def test_conv2d_shape_matches_torch(n, g, cpg, kpg, h, w, f, stride, pad, dil) -> None:
    c, k = g * cpg, g * kpg
    x, wt = (n, c, h, w), (k, cpg, *f)
    op = Conv2d("conv", ("x",), "y", weight="w", bias="b", stride=stride, padding=pad, dilation=dil, groups=g)
    ref = _torch_shape(lambda: F.conv2d(torch.zeros(x), torch.zeros(wt), torch.zeros(k), stride, pad, dil, g))
    assert _ours(op, [x], {"w": wt, "b": (k,)}) == ref


@SETTINGS
@given(
    kind=st.sampled_from(["max", "avg"]),
    n=st.integers(1, 2),
    c=st.integers(1, 4),
    h=st.integers(1, 13),
    w=st.integers(1, 13),
    kernel=pair(st.integers(1, 5), st.integers(1, 5)),
    stride=pair(st.integers(1, 3), st.integers(1, 3)),
    pad=pair(st.integers(0, 2), st.integers(0, 2)),
)
def test_pool_shape_matches_torch(kind, n, c, h, w, kernel, stride, pad) -> None:
    x = (n, c, h, w)
    cls, fn = (MaxPool2d, F.max_pool2d) if kind == "max" else (AvgPool2d, F.avg_pool2d)
    op = cls("pool", ("x",), "y", kernel=kernel, stride=stride, padding=pad)
    ref = _torch_shape(lambda: fn(torch.zeros(x), kernel, stride, pad))
    assert _ours(op, [x], {}) == ref


@pytest.mark.parametrize("x", [(1, 3, 7, 7), (2, 5, 1, 1), (1, 1, 13, 4)])
def test_global_avgpool_shape(x) -> None:
    ref = tuple(F.adaptive_avg_pool2d(torch.zeros(x), 1).shape)
    assert infer_shape(GlobalAvgPool("gap", ("x",), "y"), [x], {}) == ref


@pytest.mark.parametrize("n, fin, fout", [(1, 1, 1), (3, 7, 11), (2, 513, 10)])
def test_linear_shape(n, fin, fout) -> None:
    ref = tuple(F.linear(torch.zeros(n, fin), torch.zeros(fout, fin)).shape)
    assert infer_shape(Linear("fc", ("x",), "y", weight="w"), [(n, fin)], {"w": (fout, fin)}) == ref


@pytest.mark.parametrize(
    "shapes, axis",
    [
        ([(1, 3, 5, 7), (1, 4, 5, 7)], 1),
        ([(2, 3, 5, 7)] * 3, 3),
        ([(2, 3, 5, 7), (2, 3, 1, 7)], 2),
        ([(1, 5), (1, 6)], 1),
    ],
)
def test_concat_shape(shapes, axis) -> None:
    ref = tuple(torch.cat([torch.zeros(s) for s in shapes], axis).shape)
    op = Concat("cat", tuple(f"x{i}" for i in range(len(shapes))), "y", axis=axis)
    assert infer_shape(op, shapes, {}) == ref


@pytest.mark.parametrize("x, target", [((1, 512, 1, 1), (1, 512)), ((2, 3, 5, 7), (2, 105)), ((4, 6), (4, 2, 3, 1))])
def test_reshape_shape(x, target) -> None:
    ref = tuple(torch.zeros(x).reshape(target).shape)
    assert infer_shape(Reshape("r", ("x",), "y", shape=target), [x], {}) == ref


def test_depthwise_with_multiplier_two() -> None:
    # groups == C with K = 2C: 8 -> 16 channels, stride 2, 9x9 -> 5x5 with pad 1
    op = Conv2d("dw", ("x",), "y", weight="w", stride=(2, 2), padding=(1, 1), groups=8)
    ref = tuple(F.conv2d(torch.zeros(1, 8, 9, 9), torch.zeros(16, 1, 3, 3), None, 2, 1, 1, 8).shape)
    assert infer_shape(op, [(1, 8, 9, 9)], {"w": (16, 1, 3, 3)}) == ref == (1, 16, 5, 5)


def test_wrong_input_count_names_the_op() -> None:
    with pytest.raises(IRValidationError, match=r"maxpool2d op 'p': 2 inputs; maxpool2d takes 1"):
        infer_shape(MaxPool2d("p", ("a", "b"), "y"), [(1, 1, 4, 4), (1, 1, 4, 4)], {})
