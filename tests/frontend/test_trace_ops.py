"""Every supported module, function and method lowers, and the float graph run
by the reference simulator matches torch's own forward."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from frontend_helpers import Net, assert_close_to_torch, randomize_bn, sample

from dian.frontend import trace
from dian.ir import OpKind

C = nn.Conv2d
CASES: dict[str, tuple[nn.Module, tuple[int, ...]]] = {
    # -- convolutions: stride, padding forms, dilation, groups, odd shapes ----------------
    "conv_plain": (Net(lambda s, x: s.c(x), c=C(3, 5, 3)), (2, 3, 9, 7)),
    "conv_stride_pad": (Net(lambda s, x: s.c(x), c=C(3, 4, 3, stride=2, padding=1)), (1, 3, 11, 10)),
    "conv_tuple_args": (Net(lambda s, x: s.c(x), c=C(2, 6, (3, 5), stride=(2, 1), padding=(1, 2))), (1, 2, 7, 9)),
    "conv_dilation": (Net(lambda s, x: s.c(x), c=C(3, 4, 3, dilation=2, padding=2)), (1, 3, 10, 10)),
    "conv_groups": (Net(lambda s, x: s.c(x), c=C(6, 9, 3, groups=3, padding=1)), (1, 6, 6, 5)),
    "conv_depthwise": (Net(lambda s, x: s.c(x), c=C(5, 5, 3, groups=5, stride=2, padding=1, bias=False)), (2, 5, 9, 9)),
    "conv_same": (Net(lambda s, x: s.c(x), c=C(3, 4, 5, padding="same")), (1, 3, 8, 6)),
    "conv_valid": (Net(lambda s, x: s.c(x), c=C(3, 4, 3, padding="valid")), (1, 3, 8, 6)),
    "conv_1x1_no_bias": (Net(lambda s, x: s.c(x), c=C(4, 7, 1, bias=False)), (1, 4, 3, 3)),
    # -- linear --------------------------------------------------------------------------
    "linear": (Net(lambda s, x: s.l(x), l=nn.Linear(13, 7)), (3, 13)),
    "linear_no_bias": (Net(lambda s, x: s.l(x), l=nn.Linear(5, 2, bias=False)), (1, 5)),
    # -- activations (modules, functions, methods) ----------------------------------------
    "nn_relu": (nn.ReLU(), (1, 3, 4, 4)),
    "nn_relu6": (nn.ReLU6(), (1, 3, 4, 4)),
    "nn_hardtanh": (nn.Hardtanh(-0.5, 0.75), (1, 3, 4, 4)),
    "f_relu": (Net(lambda s, x: F.relu(x)), (1, 2, 3, 3)),
    "torch_relu": (Net(lambda s, x: torch.relu(x)), (1, 2, 3, 3)),
    "f_relu6": (Net(lambda s, x: F.relu6(x)), (1, 2, 3, 3)),
    "f_hardtanh": (Net(lambda s, x: F.hardtanh(x, -0.3, 0.6)), (1, 2, 3, 3)),
    "torch_clamp_both": (Net(lambda s, x: torch.clamp(x, -0.5, 0.5)), (1, 2, 3, 3)),
    "torch_clamp_min": (Net(lambda s, x: torch.clamp(x, min=0.1)), (1, 2, 3, 3)),
    "torch_clamp_max": (Net(lambda s, x: torch.clamp(x, max=0.2)), (1, 2, 3, 3)),
    "torch_clip": (Net(lambda s, x: torch.clip(x, -1, 1)), (1, 2, 3, 3)),
    "method_relu": (Net(lambda s, x: x.relu()), (1, 2, 3, 3)),
    "method_relu_": (Net(lambda s, x: s.c(x).relu_(), c=C(2, 2, 1)), (1, 2, 3, 3)),
    "method_clamp": (Net(lambda s, x: x.clamp(-0.2, 0.4)), (1, 2, 3, 3)),
    "method_clamp_": (Net(lambda s, x: s.c(x).clamp_(min=0.0), c=C(2, 2, 1)), (1, 2, 3, 3)),
    "method_clip": (Net(lambda s, x: x.clip(max=0.3)), (1, 2, 3, 3)),
    "relu_inplace_module": (Net(lambda s, x: s.r(s.c(x)), c=C(2, 3, 3), r=nn.ReLU(inplace=True)), (1, 2, 5, 5)),
    # -- pooling -------------------------------------------------------------------------
    "nn_maxpool": (nn.MaxPool2d(2), (1, 3, 8, 8)),
    "nn_maxpool_k3s2p1_odd": (nn.MaxPool2d(3, 2, 1), (1, 3, 9, 7)),
    "nn_maxpool_tuple": (nn.MaxPool2d((2, 3), stride=(1, 2)), (1, 2, 5, 7)),
    "f_max_pool2d": (Net(lambda s, x: F.max_pool2d(x, 3, stride=2, padding=1)), (2, 2, 6, 5)),
    "nn_avgpool": (nn.AvgPool2d(2), (1, 3, 8, 8)),
    "nn_avgpool_pad_odd": (nn.AvgPool2d(3, stride=2, padding=1), (1, 3, 9, 7)),
    "f_avg_pool2d": (Net(lambda s, x: F.avg_pool2d(x, (2, 3), stride=(2, 1))), (1, 2, 6, 7)),
    "adaptive_1": (nn.AdaptiveAvgPool2d(1), (2, 4, 5, 3)),
    "adaptive_1x1": (nn.AdaptiveAvgPool2d((1, 1)), (1, 4, 6, 6)),
    "adaptive_identity": (Net(lambda s, x: s.p(x) + x, p=nn.AdaptiveAvgPool2d((4, 5))), (1, 2, 4, 5)),
    "adaptive_divisible": (nn.AdaptiveAvgPool2d((2, 3)), (1, 2, 8, 9)),
    "f_adaptive": (Net(lambda s, x: F.adaptive_avg_pool2d(x, (1, 1))), (1, 3, 4, 4)),
    "mean_keepdim": (Net(lambda s, x: x.mean((2, 3), keepdim=True)), (1, 3, 4, 5)),
    "torch_mean_flat": (Net(lambda s, x: torch.mean(x, dim=(-2, -1))), (2, 3, 4, 5)),
    # -- add / cat -----------------------------------------------------------------------
    "operator_add": (Net(lambda s, x: s.a(x) + s.b(x), a=C(3, 4, 3, padding=1), b=C(3, 4, 1)), (1, 3, 5, 5)),
    "iadd": (Net(lambda s, x: _iadd(s.a(x), x), a=C(3, 3, 3, padding=1)), (1, 3, 5, 5)),
    "torch_add": (Net(lambda s, x: torch.add(x, s.a(x)), a=C(3, 3, 1)), (1, 3, 4, 4)),
    "method_add": (Net(lambda s, x: x.add(s.a(x)), a=C(3, 3, 1)), (1, 3, 4, 4)),
    "method_add_": (Net(lambda s, x: s.a(x).add_(x), a=C(3, 3, 1)), (1, 3, 4, 4)),
    "cat_channels": (
        Net(lambda s, x: torch.cat([s.a(x), x, s.b(x)], 1), a=C(3, 2, 1), b=C(3, 5, 3, padding=1)),
        (1, 3, 4, 4),
    ),
    "cat_width": (Net(lambda s, x: torch.cat((x, s.a(x)), dim=-1), a=C(3, 3, 1)), (1, 3, 4, 2)),
    "cat_linear": (Net(lambda s, x: torch.cat([s.a(x), s.b(x)], dim=1), a=nn.Linear(4, 3), b=nn.Linear(4, 2)), (2, 4)),
    # -- reshapes ------------------------------------------------------------------------
    "view_size": (Net(lambda s, x: s.l(x.view(x.size(0), -1)), l=nn.Linear(24, 3)), (2, 2, 3, 4)),
    "view_shape": (Net(lambda s, x: s.l(x.view(x.shape[0], -1)), l=nn.Linear(24, 3)), (2, 2, 3, 4)),
    "reshape_method": (Net(lambda s, x: x.reshape(x.size(0), 4, 6)), (1, 2, 3, 4)),
    "torch_reshape": (Net(lambda s, x: torch.reshape(x, (1, -1))), (1, 2, 3, 4)),
    "torch_flatten": (Net(lambda s, x: torch.flatten(x, 1)), (2, 2, 3, 4)),
    "method_flatten": (Net(lambda s, x: x.flatten(1)), (2, 2, 3, 4)),
    "nn_flatten": (nn.Flatten(), (2, 2, 3, 4)),
    "squeeze_pooled": (
        Net(lambda s, x: s.l(F.adaptive_avg_pool2d(x, 1).squeeze(-1).squeeze(-1)), l=nn.Linear(2, 3)),
        (2, 2, 3, 4),
    ),
    "torch_squeeze": (Net(lambda s, x: torch.squeeze(x.mean((2, 3), keepdim=True), 3)), (1, 2, 3, 4)),
    "unsqueeze": (Net(lambda s, x: s.c(x.unsqueeze(1)), c=C(1, 2, 1)), (1, 3, 4)),
    "torch_unsqueeze": (Net(lambda s, x: torch.unsqueeze(torch.flatten(x, 1), -1)), (2, 2, 3, 4)),
    "contiguous": (Net(lambda s, x: x.contiguous().relu()), (1, 2, 3, 4)),
    # -- eval identities -----------------------------------------------------------------
    "identity_dropout": (
        nn.Sequential(nn.Identity(), nn.Dropout(0.5), nn.Dropout2d(0.3), nn.Conv2d(2, 2, 1)),
        (1, 2, 3, 3),
    ),
    "f_dropout": (Net(lambda s, x: F.dropout(s.c(x), 0.5, s.training), c=C(2, 2, 1)), (1, 2, 3, 3)),
    # -- several outputs -----------------------------------------------------------------
    "two_outputs": (Net(lambda s, x: (s.c(x), F.relu(x)), c=C(2, 3, 1)), (1, 2, 3, 3)),
}


def _iadd(a: Any, b: Any) -> Any:
    a += b
    return a


@pytest.mark.parametrize("case", sorted(CASES))
def test_float_graph_matches_torch(case: str) -> None:
    torch.manual_seed(0)
    module, shape = CASES[case]
    for p in module.parameters():  # fresh, deterministic weights per case
        torch.nn.init.uniform_(p, -0.5, 0.5)
    graph = trace(module, shape, case)
    assert not graph.is_quantized
    assert_close_to_torch(graph, module, sample(shape))


def test_names_come_from_module_paths_and_are_stable() -> None:
    body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    model = Net(lambda s, x: F.relu(s.body(x)).flatten(1), body=body)
    g1, g2 = trace(model, (1, 3, 5, 5), "m"), trace(model, (1, 3, 5, 5), "m")
    assert [op.name for op in g1.ops] == ["body_0", "body_1", "relu", "flatten"]
    assert g1.ops[0].weight == "body_0.weight"  # type: ignore[attr-defined]
    assert [op.name for op in g1.ops] == [op.name for op in g2.ops]
    assert g1.inputs == ("x",) and g1.outputs == ("flatten",)


def test_identities_and_size_nodes_leave_no_ops() -> None:
    model = Net(lambda s, x: s.d(x).contiguous().view(x.size(0), -1), d=nn.Dropout())
    g = trace(model, (2, 6), "m")  # the view keeps the shape: nothing to do
    assert g.ops == () and g.outputs == g.inputs


def test_module_is_put_in_eval_mode() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Dropout())
    model.train()
    trace(model, (1, 1, 2, 2), "m")
    assert not model.training


def test_kinds_of_a_small_cnn() -> None:
    model = Net(lambda s, x: s.fc(torch.flatten(F.max_pool2d(F.relu(s.c(x)), 2), 1)), c=C(1, 2, 3), fc=nn.Linear(8, 3))
    kinds = [op.kind for op in trace(model, (1, 1, 6, 6), "m").ops]
    assert kinds == [OpKind.CONV2D, OpKind.CLAMP, OpKind.MAXPOOL2D, OpKind.RESHAPE, OpKind.LINEAR]


def test_batchnorm_paths_have_expected_ops() -> None:
    """(BN randomized so folding matters; numerics checked in test_bn_folding.py)."""
    model = randomize_bn(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.BatchNorm2d(3)))
    g = trace(model, (1, 2, 5, 5), "m")
    assert [op.kind for op in g.ops] == [OpKind.CONV2D, OpKind.CLAMP, OpKind.CONV2D]
    assert g.ops[2].groups == 3  # type: ignore[attr-defined]
