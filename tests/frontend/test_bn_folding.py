"""Batch-norm folding matches torch's eval-mode conv/linear + BN, and folds
only when it may."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from frontend_helpers import Net, assert_close_to_torch, randomize_bn, sample

from dian.errors import UnsupportedOpError
from dian.frontend import trace
from dian.frontend.bn_fold import bn_affine
from dian.ir import Conv2d, Linear, OpKind


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("groups", [1, 4])
def test_conv_bn_folds_and_matches_torch(bias: bool, groups: int) -> None:
    torch.manual_seed(1)
    model = randomize_bn(
        nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=groups, bias=bias), nn.BatchNorm2d(8))
    )
    g = trace(model, (2, 4, 7, 7), "m")
    assert [op.kind for op in g.ops] == [OpKind.CONV2D]
    assert g.ops[0].bias is not None  # type: ignore[attr-defined]
    assert_close_to_torch(g, model, sample((2, 4, 7, 7)))


def test_linear_bn1d_folds_and_matches_torch() -> None:
    torch.manual_seed(2)
    model = randomize_bn(nn.Sequential(nn.Linear(10, 6), nn.BatchNorm1d(6), nn.ReLU()))
    g = trace(model, (3, 10), "m")
    assert [op.kind for op in g.ops] == [OpKind.LINEAR, OpKind.CLAMP]
    assert_close_to_torch(g, model, sample((3, 10)))


def test_standalone_bn2d_is_a_depthwise_1x1_conv() -> None:
    torch.manual_seed(3)
    model = randomize_bn(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(5)))
    g = trace(model, (1, 5, 3, 4), "m")
    op = g.ops[1]
    assert isinstance(op, Conv2d) and op.groups == 5 and g.tensors[op.weight].shape == (5, 1, 1, 1)
    assert_close_to_torch(g, model, sample((1, 5, 3, 4)))


def test_standalone_bn1d_is_a_diagonal_linear() -> None:
    model = randomize_bn(nn.Sequential(nn.BatchNorm1d(4)))
    g = trace(model, (2, 4), "m")
    assert isinstance(g.ops[0], Linear)
    assert_close_to_torch(g, model, sample((2, 4)))


def test_bn_is_not_folded_when_the_conv_output_is_also_used_elsewhere() -> None:
    torch.manual_seed(4)
    model = randomize_bn(Net(_two_users, c=nn.Conv2d(2, 3, 1), bn=nn.BatchNorm2d(3)))
    g = trace(model, (1, 2, 4, 4), "m")
    convs = [op for op in g.ops if isinstance(op, Conv2d)]
    assert len(convs) == 2 and convs[1].groups == 3  # conv, then BN as its own depthwise layer
    assert_close_to_torch(g, model, sample((1, 2, 4, 4)))


def _two_users(s: nn.Module, x: torch.Tensor) -> torch.Tensor:
    y = s.c(x)
    return s.bn(y) + F.relu(y)


def test_bn_affine_by_hand() -> None:
    bn = nn.BatchNorm2d(2, eps=0.0)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([1.0, -2.0]))
        bn.running_var.copy_(torch.tensor([4.0, 0.25]))
        bn.weight.copy_(torch.tensor([2.0, 3.0]))
        bn.bias.copy_(torch.tensor([0.5, -1.0]))
    scale, shift = bn_affine(bn, "bn")
    np.testing.assert_allclose(scale, [1.0, 6.0])  # gamma / sqrt(var)
    np.testing.assert_allclose(shift, [-0.5, 11.0])  # beta - mean * scale


def test_bn_without_running_stats_is_rejected() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    with pytest.raises(UnsupportedOpError, match="track_running_stats"):
        trace(model, (1, 1, 3, 3), "m")
