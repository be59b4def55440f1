"""nn.ConvTranspose2d as a convolution per output phase woven by an interleave, against torch:
the float graph in the reference simulator equals torch's transposed convolution (to float
rounding) for strides 1 to 3, unequal strides, padding, output_padding, groups, kernels smaller
than the stride (phases that are the bias alone) and a folded BatchNorm2d; the int8 graph stays
within 0.99 cosine; the phases share one scale, so the interleave rescales nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from dian.errors import UnsupportedOpError
from dian.frontend import lower
from dian.frontend.trace import trace
from dian.ir import Conv2d, Interleave
from dian.sim.reference import dequantize_output, quantize_input, run_graph

CASES = {  # kernel, stride, padding, output_padding, groups, input H x W
    "k3s2p1o1": (3, 2, 1, 1, 1, (5, 4)),
    "k4s2p1": (4, 2, 1, 0, 1, (5, 5)),
    "k2s2 (UNet)": (2, 2, 0, 0, 1, (3, 4)),
    "k3s3": (3, 3, 0, 0, 1, (4, 3)),
    "k5s2p2o1g2": (5, 2, 2, 1, 2, (6, 5)),
    "k1s2o1 (bias-only phases)": (1, 2, 0, 1, 1, (3, 3)),
    "k2s3 (bias-only phases)": (2, 3, 0, 0, 1, (3, 3)),
    "k3s1p1": (3, 1, 1, 0, 1, (4, 4)),
    "k3s(2,3)p(1,0)o(1,2)": (3, (2, 3), (1, 0), (1, 2), 1, (4, 5)),
    "k7s2p3o1": (7, 2, 3, 1, 1, (5, 6)),
    "k4s2p3": (4, 2, 3, 0, 1, (6, 6)),
}


def _net(k, s, p, o, g) -> nn.Module:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    m = nn.Sequential(nn.ConvTranspose2d(4, 6, k, stride=s, padding=p, output_padding=o, groups=g), nn.BatchNorm2d(6))
    with torch.no_grad():
        m[1].running_mean.uniform_(-0.3, 0.3)
        m[1].running_var.uniform_(0.5, 1.5)
    return m.eval()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("case", list(CASES))
def test_float_graph_equals_torch(case: str) -> None:
    k, s, p, o, g, hw = CASES[case]
    m = _net(k, s, p, o, g)
    x = torch.randn(2, 4, *hw)
    graph = trace(m, tuple(x.shape), "ct")
    got = run_graph(graph, {graph.inputs[0]: x.numpy()})[graph.outputs[0]]
    want = m(x).detach().numpy()
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-5)
    stride = (s, s) if isinstance(s, int) else s
    convs = [op for op in graph.ops if isinstance(op, Conv2d)]
    assert len(convs) == stride[0] * stride[1]  # one conv a phase, the BatchNorm2d folded into each
    if stride != (1, 1):
        assert [type(op) for op in graph.ops][-1] is Interleave


@pytest.mark.parametrize("case", ["k3s2p1o1", "k3s(2,3)p(1,0)o(1,2)"])
def test_int8_graph_close_to_torch(case: str) -> None:
    k, s, p, o, g, hw = CASES[case]
    m = _net(k, s, p, o, g)
    shape = (1, 4, *hw)
    calib = np.random.default_rng(0).standard_normal((32, *shape[1:])).astype(np.float32)
    gi = lower(m, shape, calib, case)[1]
    x = torch.randn(shape)
    xin, out = gi.inputs[0], gi.outputs[0]
    q = run_graph(gi, {xin: quantize_input(x.numpy(), gi.tensors[xin].quant.scale[0])})[out]
    assert _cosine(dequantize_output(q, gi.tensors[out].quant.scale[0]), m(x).detach().numpy()) >= 0.99
    (weave,) = [op for op in gi.ops if isinstance(op, Interleave)]
    scales = {gi.tensors[i].quant.scale for i in weave.inputs}
    assert len(scales) == 1 and weave.requant.multiplier == (2**30,) * len(weave.inputs)  # identity
    assert weave.requant.shift == (30,) * len(weave.inputs)


@pytest.mark.parametrize(
    "layer, words",
    [
        (nn.ConvTranspose2d(4, 4, 3, 2, dilation=2), "dilation 1"),
        (nn.ConvTranspose2d(4, 4, 3, 2, padding_mode="zeros", dilation=(1, 2)), "dilation 1"),
    ],
)
def test_refusals(layer: nn.Module, words: str) -> None:
    with pytest.raises(UnsupportedOpError, match=words):
        trace(layer.eval(), (1, 4, 4, 4), "bad")
