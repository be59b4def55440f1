"""Test helpers for the ONNX and torch.export importers: small torch models exported with both
ONNX exporters, and onnx's own reference evaluator as the independent source of truth."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from frontend_helpers import Net, randomize_bn
from onnx.reference import ReferenceEvaluator


def export_onnx(module: nn.Module, shape: tuple[int, ...], path: Path, dynamo: bool) -> Path:
    """``module`` exported to ``path`` by torch's legacy (opset 17) or default dynamo exporter."""
    x = torch.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(module.eval(), (x,), str(path), dynamo=True, verbose=False)
        else:
            torch.onnx.export(module.eval(), (x,), str(path), dynamo=False, opset_version=17)
    return path


def onnx_reference(path: Path, x: np.ndarray) -> np.ndarray:
    """The model's output by onnx.reference. Its BatchNormalization takes a missing training_mode
    for training (onnx 1.23.2), so inference nodes get the attribute's documented default, 0."""
    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "BatchNormalization" and not any(a.name == "training_mode" for a in node.attribute):
            node.attribute.append(onnx.helper.make_attribute("training_mode", 0))
    inits = {t.name for t in model.graph.initializer}
    name = next(v.name for v in model.graph.input if v.name not in inits)
    return np.asarray(ReferenceEvaluator(model).run(None, {name: x})[0])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def conv_bn_pool_linear() -> nn.Module:
    """conv, batch norm, ReLU6, ceil-mode max pooling, average pooling, flatten, linear."""
    torch.manual_seed(1)
    return randomize_bn(
        Net(
            lambda s, x: s.fc(torch.flatten(s.avg(s.pool(s.act(s.bn(s.conv(x))))), 1)),
            conv=nn.Conv2d(3, 8, 3, padding=1, stride=1),
            bn=nn.BatchNorm2d(8),
            act=nn.ReLU6(),
            pool=nn.MaxPool2d(2, ceil_mode=True),
            avg=nn.AvgPool2d(2),
            fc=nn.Linear(8 * 2 * 2, 10),
        )
    ).eval()


def hardswish_se() -> nn.Module:
    """Depthwise conv, Hardswish and a squeeze-excite gate: x * hardsigmoid(fc(mean(x)))."""
    torch.manual_seed(2)

    def forward(s: Net, x: torch.Tensor) -> torch.Tensor:
        y = F.hardswish(s.dw(s.conv(x)))
        g = F.hardsigmoid(s.se(F.adaptive_avg_pool2d(y, 1)))
        return torch.sigmoid(y * g) - 0.5

    return Net(
        forward,
        conv=nn.Conv2d(3, 8, 1),
        dw=nn.Conv2d(8, 8, 3, padding=1, groups=8, stride=2),
        se=nn.Conv2d(8, 8, 1),
    ).eval()


def upsample_concat() -> nn.Module:
    """A UNet step: conv, nearest upsampling by 2, concatenation with a skip, a channel slice, a
    dilated conv, LeakyReLU, x / 2."""
    torch.manual_seed(3)

    def forward(s: Net, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(s.down(x))
        up = F.interpolate(s.mid(a), scale_factor=2, mode="nearest")
        return F.leaky_relu(s.out(torch.cat([up, s.skip(x)], 1)[:, 1:]), 0.1) / 2.0

    return Net(
        forward,
        down=nn.Conv2d(3, 4, 3, stride=2, padding=1),
        mid=nn.Conv2d(4, 4, 3, padding=1),
        skip=nn.Conv2d(3, 4, 1),
        out=nn.Conv2d(7, 6, 3, padding=2, dilation=2),
    ).eval()


def activations() -> nn.Module:
    """The pointwise functions an exporter writes as one node or as a group (SiLU, GELU, Mish)."""
    torch.manual_seed(4)

    def forward(s: Net, x: torch.Tensor) -> torch.Tensor:
        y = s.prelu(s.conv(x))
        y = F.silu(F.elu(y)) + F.gelu(y) + F.mish(y) + torch.tanh(y) + F.softplus(y)
        return 1.0 - y * 0.25

    return Net(forward, conv=nn.Conv2d(3, 4, 3, padding=1), prelu=nn.PReLU(4, init=0.1)).eval()


MODELS = {
    "conv_bn_pool_linear": (conv_bn_pool_linear, (2, 3, 8, 8)),
    "hardswish_se": (hardswish_se, (2, 3, 8, 8)),
    "upsample_concat": (upsample_concat, (2, 3, 8, 8)),
    "activations": (activations, (2, 3, 6, 6)),
}
