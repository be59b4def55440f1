"""1-D layers (Conv1d with BatchNorm1d folded or standalone, 1-D max/average pooling, adaptive
average pooling to 1, x.mean(-1)) against torch: the float graph in the reference simulator
equals the torch module to float rounding, and the int8 graph stays within 0.99 cosine of it on
inputs from the calibration's distribution. Unsupported variants are refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from pointwise_nets import SequenceNet

from dian.errors import UnsupportedOpError
from dian.frontend import lower
from dian.frontend.trace import trace
from dian.ir import Conv2d
from dian.sim.reference import dequantize_output, quantize_input, run_graph

SHAPE = (4, 3, 16)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class MeanNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv1d(3, 6, 3, stride=2, dilation=2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.c(x)).mean(-1)


@pytest.mark.parametrize("net", [SequenceNet, MeanNet])
def test_float_and_int8_against_torch(net: type[nn.Module]) -> None:
    torch.manual_seed(0)
    m = net().eval()
    x = torch.randn(SHAPE)
    want = m(x).detach().numpy()
    g = trace(m, SHAPE, net.__name__)
    assert np.allclose(run_graph(g, {g.inputs[0]: x.numpy()})[g.outputs[0]], want, atol=1e-5)
    calib = np.random.default_rng(0).standard_normal((32, *SHAPE[1:])).astype(np.float32)
    gi = lower(m, SHAPE, calib, net.__name__)[1]
    xin, out = gi.inputs[0], gi.outputs[0]
    q = run_graph(gi, {xin: quantize_input(x.numpy(), gi.tensors[xin].quant.scale[0])})[out]
    assert _cosine(dequantize_output(q, gi.tensors[out].quant.scale[0]), want) >= 0.99
    if net is SequenceNet:  # BatchNorm1d after c1 folded (no op of its own), bn2 a depthwise 1x1 conv
        convs = {op.name: op for op in g.ops if isinstance(op, Conv2d)}
        assert sorted(convs) == ["bn2_2d", "c1_2d", "dw_2d"] and convs["bn2_2d"].groups == 8
        assert convs["dw_2d"].padding == (0, 1) and g.constants[convs["c1_2d"].weight].shape == (8, 3, 1, 5)


@pytest.mark.parametrize(
    "layer, words",
    [
        (nn.Conv1d(3, 4, 3, padding=1, padding_mode="reflect"), "zero padding only"),
        (nn.AdaptiveAvgPool1d(2), "output size 1"),
        (nn.AvgPool1d(3, ceil_mode=True), "ceil_mode"),
        (nn.Sequential(nn.Flatten(), nn.BatchNorm1d(48)), None),  # [N, C*L] BatchNorm1d: supported
    ],
)
def test_refusals_name_what_is_allowed(layer: nn.Module, words: str | None) -> None:
    if words is None:
        trace(layer.eval(), SHAPE, "ok")
        return
    with pytest.raises(UnsupportedOpError, match=words):
        trace(layer.eval(), SHAPE, "bad")
