"""Pointwise functions (SiLU, sigmoid, GELU, PReLU, ...) against torch.

* The float graph in the reference simulator against the torch module, for every module,
  function and method spelling the frontend lowers.
* The int8 table, built by the quantizer and run by the reference simulator on all 256
  int8 values, against a torch.ao-style reference: dequantize with ``s_in``, apply the torch
  function in float32, ``torch.quantize_per_tensor(y, s_out, 0, torch.qint8)``.
* The same table against torch's own quantized kernels (qnnpack) where they exist.

Every entry must be within 1 LSB. The entries that differ are all rounding ties: the exact
value ``f(q * s_in) / s_out`` (torch, float64) lies within 1e-4 of ``n + 1/2``; dian decides
the tie on its float64 value, torch on a float32 one whose last bit may go either way. Only
the piecewise-linear functions meet exact ties, because their value is a rational multiple
of the scales (``hardsigmoid = x/6 + 1/2`` with ``s_out = 1/127`` gives ``q * r_in / 6 + 63.5``,
a tie for half the ``q`` when ``r_in = 3``). Measured (torch 2.13, 4 input ranges x 4
channels x 256 values = 4,096 entries per function), ao-style: hardsigmoid 544 differ,
leaky_relu 44, prelu (one shared slope) 84, prelu (per channel) 4, hardswish 4, every other
function 0; torch's own kernels: hardswish 4, leaky_relu 12, the rest 0. Run with ``-s``
to see them.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.ao.nn.quantized.functional as qF
import torch.nn.functional as F
from pointwise_cases import CALLS, CHANNELS, MODULES, Case, all_int8, int_graph, table_output
from torch_witness import quantized_engine, to_quint8

from dian.frontend import lower, trace
from dian.ir import Pointwise
from dian.sim.reference import run_graph

pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions.*:UserWarning")

IN_RANGES = (1.0, 3.0, 6.0, 12.0)  # max |x| of the input: s_in = range / 127
#: How close to n + 1/2 the exact value must be for a difference to count as a tie: a few float32
#: ulps of values up to 128 (the ties are exact only in real numbers: s_out comes from a float32
#: range, so a tie sits within ~1e-5 of n + 1/2); a difference that is no tie lies ~0.25 away.
TIE = 1e-4


# -- the float graph ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODULES) + sorted(CALLS))
def test_float_graph_matches_torch(name: str) -> None:
    case = {**MODULES, **CALLS}[name]
    module = case.module().eval()
    graph = trace(module, (2, CHANNELS, 5, 6), name)
    (op,) = graph.ops
    assert isinstance(op, Pointwise) and (op.fn, op.params) == (case.fn, case.params), op
    x = (np.random.default_rng(0).standard_normal((2, CHANNELS, 5, 6)) * 4).astype(np.float32)
    got = run_graph(graph, {graph.inputs[0]: x})[graph.outputs[0]]
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


# -- the int8 table --------------------------------------------------------------------------------


def _exact(case: Case, q: np.ndarray, s_in: float, s_out: float) -> np.ndarray:
    """``f(q * s_in) / s_out`` by torch in float64: where the ties are."""
    module = copy.deepcopy(case.module()).double().eval()
    with torch.no_grad():
        return module(torch.from_numpy(q.astype(np.float64) * s_in)).numpy().reshape(CHANNELS, 256) / s_out


def _compare(label: str, case: Case, ours: np.ndarray, theirs: np.ndarray, s_in: float, s_out: float) -> int:
    """Assert ``ours`` within 1 of ``theirs`` and every difference at a tie; return how many differ."""
    diff = np.abs(ours.astype(np.int64) - theirs.astype(np.int64))
    assert diff.max() <= 1, f"{label}: max |diff| {diff.max()}"
    exact = _exact(case, all_int8(), s_in, s_out)
    off_tie = np.abs(np.abs(exact - np.floor(exact)) - 0.5) > TIE
    bad = np.argwhere((diff > 0) & off_tie)
    assert not bad.size, f"{label}: entries {[(int(c), int(i) - 128) for c, i in bad[:5]]} differ but are no tie"
    return int((diff > 0).sum())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_table_matches_torch_ao_style_reference(name: str) -> None:
    case = MODULES[name]
    module = case.module().eval()
    q = all_int8()
    differing = 0
    for r_in in IN_RANGES:
        s_in = r_in / 127
        x = torch._make_per_tensor_quantized_tensor(torch.from_numpy(q), s_in, 0).dequantize()
        with torch.no_grad():
            y = module(x)
        g = int_graph(module, r_in, float(y.abs().max()))  # the output range calibration would measure
        s_out = g.tensors[g.outputs[0]].quant.scale[0]  # type: ignore[union-attr]
        theirs = torch.quantize_per_tensor(y, s_out, 0, torch.qint8).int_repr().numpy().reshape(CHANNELS, 256)
        differing += _compare(f"{name} r_in {r_in}", case, table_output(g), theirs, s_in, s_out)
    print(f"{name}: {differing} of {len(IN_RANGES) * CHANNELS * 256} entries differ from the ao-style reference")


#: torch's quantized kernels: the call on a quint8 input and output scale s_out, and the output
#: scale the kernel fixes by itself (sigmoid, hardsigmoid, tanh; "in": it keeps the input's).
KERNELS = {
    "hardswish": (lambda qx, s: qF.hardswish(qx, s, 128), None),
    "elu": (lambda qx, s: qF.elu(qx, s, 128, alpha=0.7), None),
    "leaky_relu": (lambda qx, s: qF.leaky_relu(qx, 0.1, scale=s, zero_point=128), None),
    "sigmoid": (lambda qx, s: torch.sigmoid(qx), 1 / 256),
    "hardsigmoid": (lambda qx, s: qF.hardsigmoid(qx), 1 / 256),
    "tanh": (lambda qx, s: torch.tanh(qx), 1 / 128),
    "gelu": (lambda qx, s: F.gelu(qx), "in"),
    "gelu_tanh": (lambda qx, s: F.gelu(qx, approximate="tanh"), "in"),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_table_matches_torch_quantized_kernel(name: str) -> None:
    case, (call, fixed) = MODULES[name], KERNELS[name]
    module = case.module().eval()
    q = all_int8()
    differing = 0
    with quantized_engine():
        for r_in in IN_RANGES:
            s_in = r_in / 127
            with torch.no_grad():
                r_out = float(module(torch.from_numpy(q.astype(np.float32)) * s_in).abs().max())
            r_out = r_in if fixed == "in" else r_out if fixed is None else 127 * fixed
            g = int_graph(module, r_in, r_out)
            s_out = g.tensors[g.outputs[0]].quant.scale[0]  # type: ignore[union-attr]
            y = call(to_quint8(q, s_in), s_out)
            assert y.q_scale() == pytest.approx(s_out, rel=1e-6), "the kernel's output scale is not dian's"
            # quint8 with zero point z holds u - z; dian's int8 saturates that at [-128, 127]
            theirs = np.clip(y.int_repr().numpy().astype(np.int64) - y.q_zero_point(), -128, 127)
            differing += _compare(
                f"{name} r_in {r_in}", case, table_output(g), theirs.reshape(CHANNELS, 256), s_in, s_out
            )
    print(f"{name}: {differing} of {len(IN_RANGES) * CHANNELS * 256} entries differ from torch's quantized kernel")


def test_relu_family_stays_a_fused_clamp() -> None:
    """ReLU, ReLU6 and Hardtanh remain clamps fused into the conv's output range, not tables."""
    torch.manual_seed(0)
    calib = np.random.default_rng(0).standard_normal((8, 2, 3, 3)).astype(np.float32)
    for act, lowest in ((torch.nn.ReLU(), 0), (torch.nn.ReLU6(), 0), (torch.nn.Hardtanh(-0.5, 0.5), -127)):
        _, g = lower(torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), act), (1, 2, 3, 3), calib, "m")
        assert [op.kind.value for op in g.ops] == ["conv2d"], act
        assert g.ops[0].out_min == lowest, act  # type: ignore[attr-defined]
