"""Elementwise arithmetic (``a * b``, squeeze-excite's ``x * gate``, ``a - b``, and an activation
with a Python number: ``x * c``, ``x / c``, ``x + c``, ``c - x``, ``-x``) against torch.

* The float graph in the reference simulator against the torch module (every spelling the
  frontend lowers: operators, ``torch.`` functions, tensor methods).
* The int8 graph against the float model: cosine >= 0.99 on inputs from the calibration's
  distribution.
* The integer ``Mul`` against a torch.ao-style reference computed here in float64 from the
  scales alone: ``clip(rint(a * b * s_a * s_b / s_out))``. dian rescales with an integer
  multiplier and rounds half up, so an entry may differ by 1 where the exact value is within
  one multiplier step of a tie; the test allows 1 LSB and requires 99 % to be equal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn as nn

from dian.frontend import lower
from dian.ir import Add, Mul, Pointwise
from dian.sim.reference import quantize_input, run_graph

SHAPE = (1, 4, 6, 6)


class Two(nn.Module):
    """Two conv branches of the input combined by ``f(a, b)``."""

    def __init__(self, f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], gate: bool = False) -> None:
        super().__init__()
        self.f, self.gate = f, gate
        self.ca, self.cb = nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(4, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.ca(x), self.cb(x)
        if self.gate:  # squeeze-excite: a per-channel gate in (0, 1)
            b = torch.sigmoid(b.mean((2, 3), keepdim=True))
        return self.f(a, b)


CASES: dict[str, tuple[Callable[..., torch.Tensor], bool, type, str]] = {
    "a*b": (lambda a, b: a * b, False, Mul, ""),
    "torch.mul": (lambda a, b: torch.mul(a, b), False, Mul, ""),
    "x*gate": (lambda a, g: a * g, True, Mul, ""),
    "gate*x": (lambda a, g: g * a, True, Mul, ""),
    "a.mul(gate)": (lambda a, g: a.mul(g), True, Mul, ""),
    "a-b": (lambda a, b: a - b, False, Add, "subtract"),
    "torch.sub": (lambda a, b: torch.sub(a, b), False, Add, "subtract"),
    "a.sub(b)": (lambda a, b: a.sub(b), False, Add, "subtract"),
    "x*0.5": (lambda a, b: a * 0.5, False, Pointwise, "affine"),
    "2*x": (lambda a, b: 2 * a, False, Pointwise, "affine"),
    "x/3": (lambda a, b: a / 3, False, Pointwise, "affine"),
    "x+1": (lambda a, b: a + 1, False, Pointwise, "affine"),
    "1-x": (lambda a, b: 1 - a, False, Pointwise, "affine"),
    "-x": (lambda a, b: -a, False, Pointwise, "affine"),
    "x.div(4)": (lambda a, b: a.div(4), False, Pointwise, "affine"),
}


def _model(case: str) -> nn.Module:
    torch.manual_seed(0)
    f, gate, _, _ = CASES[case]
    return Two(f, gate).eval()


def _data(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *SHAPE[1:])).astype(np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_float_graph_is_torch(case: str) -> None:
    m = _model(case)
    float_graph, _ = lower(m, SHAPE, _data(32, 0), case)
    _, _, cls, flag = CASES[case]
    ops = [op for op in float_graph.ops if isinstance(op, cls)]
    assert ops, [op.kind for op in float_graph.ops]
    if flag == "subtract":
        assert ops[0].subtract  # type: ignore[attr-defined]
    if flag == "affine":
        assert ops[0].fn == "affine"  # type: ignore[attr-defined]
    x = _data(1, 1)
    want = m(torch.from_numpy(x)).detach().numpy()
    got = run_graph(float_graph, {float_graph.inputs[0]: x})[float_graph.outputs[0]]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_int8_graph_is_close_to_float(case: str) -> None:
    m = _model(case)
    _, g = lower(m, SHAPE, _data(64, 0), case)
    xs = _data(16, 2)
    cos = []
    for x in xs:
        x = x[None]
        q = quantize_input(x, g.tensors[g.inputs[0]].quant.scale[0])
        out = run_graph(g, {g.inputs[0]: q})[g.outputs[0]].astype(np.float64) * g.tensors[g.outputs[0]].quant.scale[0]
        want = m(torch.from_numpy(x)).detach().numpy().astype(np.float64)
        cos.append(float(out.ravel() @ want.ravel() / (np.linalg.norm(out) * np.linalg.norm(want))))
    assert min(cos) >= 0.99, (case, min(cos))


@pytest.mark.parametrize("gate", [False, True])
def test_integer_mul_is_the_rounded_product(gate: bool) -> None:
    _, g = lower(_model("x*gate" if gate else "a*b"), SHAPE, _data(64, 0), "mul")
    op = next(o for o in g.ops if isinstance(o, Mul))
    env = run_graph(
        g, {g.inputs[0]: np.random.default_rng(3).integers(-128, 128, SHAPE).astype(np.int8)}, keep_all=True
    )
    a, b, y = (env[n].astype(np.float64) for n in (*op.inputs, op.output))
    sa, sb, sy = (g.tensors[n].quant.scale[0] for n in (*op.inputs, op.output))
    want = np.clip(np.rint(a * b * sa * sb / sy), op.out_min, op.out_max)
    diff = np.abs(y - want)
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (diff.max(), (diff != 0).sum())
    assert len(np.unique(y)) > 20  # not all saturated or zero
