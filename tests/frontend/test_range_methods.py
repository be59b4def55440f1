"""Calibration methods (frontend/range_methods.py, calibrate's ``method``) against numpy on
hand-made values: percentiles against ``np.percentile``, the MSE range against the quantization
error measured by actually quantizing the values, max against ``np.abs(x).max()``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from frontend_helpers import Net, sample

from dian.errors import QuantizationError
from dian.frontend import CalibMethod, calib_method, calibrate, check_percentile, lower, lower_model, quantize, trace
from dian.frontend.range_methods import BINS, AbsHistogram, choose_range
from dian.ir import graph_to_json


def _hist(*chunks: np.ndarray) -> AbsHistogram:
    h = AbsHistogram()
    for c in chunks:
        h.add(c)
    return h


def _true_mse(values: np.ndarray, r: float) -> float:
    """Mean squared error of int8 symmetric quantization with range r (step r/127), by quantizing."""
    step = r / 127
    q = np.clip(np.rint(values / step), -128, 127) * step
    return float(np.mean((values - q) ** 2))


@pytest.mark.parametrize("p", [50.0, 90.0, 99.0, 99.9, 99.99, 100.0])
def test_percentile_matches_numpy_within_a_bin(p: float) -> None:
    x = np.random.default_rng(0).standard_normal(200_000) * 3.0
    h = _hist(x)
    want = np.percentile(np.abs(x), p)
    assert h.percentile(p) == pytest.approx(want, abs=h.top / BINS)
    assert h.top / BINS <= 2 * np.abs(x).max() / BINS  # the resolution the docstring promises


def test_percentile_of_a_hand_made_tensor() -> None:
    # 9,999 values of magnitude <= 1 and one outlier of 1000: the 99.99th percentile ignores the outlier
    x = np.concatenate([np.linspace(-1.0, 1.0, 9_999), [1000.0]])
    h = _hist(x)
    assert h.max == 1000.0 and choose_range(h, CalibMethod.MAX) == 1000.0
    assert choose_range(h, CalibMethod.PERCENTILE, 99.99) == pytest.approx(np.percentile(np.abs(x), 99.99), abs=0.5)
    assert choose_range(h, CalibMethod.PERCENTILE, 99.0) == pytest.approx(np.percentile(np.abs(x), 99.0), abs=0.5)


def test_growing_the_histogram_keeps_every_count() -> None:
    rng = np.random.default_rng(1)
    small, big = rng.uniform(-0.3, 0.3, 5000), rng.uniform(-40, 40, 5000)
    one, two = _hist(small, big), _hist(np.concatenate([small, big]))
    assert one.total == two.total == 10_000 and one.top == two.top == 64.0 and one.counts.size == BINS
    np.testing.assert_array_equal(one.counts, two.counts)  # merging bin pairs is exact
    assert one.percentile(75) == pytest.approx(np.percentile(np.abs(np.concatenate([small, big])), 75), abs=64 / BINS)


@pytest.mark.parametrize("dist", ["laplace", "normal", "normal with heavy outliers"])
def test_mse_range_is_the_measured_optimum(dist: str) -> None:
    rng = np.random.default_rng(2)
    x = {
        "laplace": lambda: rng.laplace(0, 1.0, 100_000),
        "normal": lambda: rng.standard_normal(100_000),
        "normal with heavy outliers": lambda: np.concatenate([rng.standard_normal(100_000), rng.normal(0, 30, 200)]),
    }[dist]()
    r = _hist(x).mse_range()
    grid = np.abs(x).max() * np.arange(1, 513) / 512
    measured = np.array([_true_mse(x, g) for g in grid])
    assert r < 0.9 * np.abs(x).max()  # clipping the tail pays
    assert _true_mse(x, r) <= 1.01 * measured.min()
    assert _true_mse(x, r) < 0.85 * _true_mse(x, float(np.abs(x).max()))


def test_mse_keeps_the_max_when_nothing_is_worth_clipping() -> None:
    x = np.linspace(-1.0, 1.0, 4001)  # uniform: every clip costs more than it saves
    r = _hist(x).mse_range()
    assert r == pytest.approx(1.0, rel=0.02)


def test_exact_zeros_cost_nothing() -> None:
    # a ReLU output: mostly exact zeros, which int8 holds exactly whatever the step
    x = np.concatenate([np.zeros(90_000), np.random.default_rng(3).uniform(0, 4.0, 10_000)])
    h = _hist(x)
    assert h.zeros == 90_000
    assert h.mse_range() == pytest.approx(4.0, rel=0.02)


def test_all_zero_tensor_has_range_zero() -> None:
    h = _hist(np.zeros(100))
    assert h.total == 100 and h.top == 0
    assert [choose_range(h, m) for m in CalibMethod] == [0.0, 0.0, 0.0]


def _model() -> nn.Module:
    torch.manual_seed(0)
    return Net(lambda s, x: s.fc(torch.flatten(torch.relu(s.c(x)), 1)), c=nn.Conv2d(2, 3, 3), fc=nn.Linear(12, 4))


def _torch_activations(model: nn.Module, x: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        t = torch.from_numpy(x)
        c = model.c(t)
        r = torch.relu(c)
        f = torch.flatten(r, 1)
        return {"x": x, "c": c.numpy(), "relu": r.numpy(), "flatten": f.numpy(), "fc": model.fc(f).numpy()}


def test_calibrate_percentile_against_torch_activations() -> None:
    model = _model().eval()
    x = sample((40, 2, 4, 4))
    ranges = calibrate(trace(model, (1, 2, 4, 4), "m"), x, chunk=7, method=CalibMethod.PERCENTILE, percentile=90.0)
    for name, value in _torch_activations(model, x).items():
        v = np.sort(np.abs(value).ravel())
        width = 2 * v[-1] / BINS
        # few values (160 for fc): the percentile lies between the two order statistics around 90 % of them
        k = 0.9 * v.size
        lo, hi = v[max(int(np.floor(k)) - 1, 0)], v[min(int(np.ceil(k)), v.size - 1)]
        assert lo - width <= ranges[name] <= hi + width, name


def test_calibrate_default_is_max_abs_bit_for_bit() -> None:
    model = _model().eval()
    x = sample((10, 2, 4, 4), seed=4)
    g = trace(model, (1, 2, 4, 4), "m")
    ranges = calibrate(g, x)
    assert ranges == calibrate(g, x, method=CalibMethod.MAX)
    for name, value in _torch_activations(model, x).items():
        assert ranges[name] == pytest.approx(float(np.abs(value).max()), rel=1e-6)


def test_default_lowering_changes_nothing() -> None:
    """``lower_model``'s default is the pipeline as it was: trace, max-abs calibrate, quantize."""
    model, x = _model().eval(), sample((10, 2, 4, 4), seed=5)
    g = trace(model, (1, 2, 4, 4), "m")
    old = graph_to_json(quantize(g, calibrate(g, x)))
    new = lower_model(model, (1, 2, 4, 4), x, "m")
    assert graph_to_json(new.int_graph) == old == graph_to_json(lower(model, (1, 2, 4, 4), x, "m")[1])
    assert new.learned == () and set(new.calibrated) == {"x", "relu", "fc"}  # the tensors with a scale of their own
    mse = lower_model(model, (1, 2, 4, 4), x, "m", CalibMethod.MSE).int_graph
    assert mse.tensors["relu"].quant != new.int_graph.tensors["relu"].quant  # the method reaches the scales


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_inf_stays_inf_with_every_method() -> None:
    model = Net(lambda s, x: s.fc(x), fc=nn.Linear(2, 2)).eval()
    g = trace(model, (1, 2), "m")
    x = np.array([[1.0, 2.0], [np.inf, 0.0]], np.float32)
    for method in CalibMethod:
        assert calibrate(g, x, method=method)["x"] == np.inf


def test_method_names_and_percentiles_are_checked() -> None:
    assert calib_method("mse") is CalibMethod.MSE
    with pytest.raises(QuantizationError, match="the methods are max, percentile, mse"):
        calib_method("entropy")
    assert check_percentile(99.9) == 99.9
    for bad in (0, 100.5, -1, float("nan"), True):
        with pytest.raises(QuantizationError, match=r"not in \(0, 100\]"):
            check_percentile(bad)  # type: ignore[arg-type]


def test_cli_method_names_are_the_frontends() -> None:
    from dian.compile_front import CALIB_METHODS

    assert tuple(m.value for m in CalibMethod) == CALIB_METHODS
