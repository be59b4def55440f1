"""calibrate (ranges via the reference simulator) against torch's own
activations, and calibration_samples' sources and determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn as nn
from frontend_helpers import Net, sample

from dian.errors import InputShapeError, ModelLoadError
from dian.frontend import calibrate, calibration_samples, load_model, trace
from dian.frontend.zoo.digits import load_split


def _model() -> nn.Module:
    torch.manual_seed(0)
    return Net(lambda s, x: s.fc(torch.flatten(torch.relu(s.c(x)), 1)), c=nn.Conv2d(2, 3, 3), fc=nn.Linear(12, 4))


def test_ranges_match_torch_activations() -> None:
    model = _model().eval()
    x = sample((10, 2, 4, 4))
    ranges = calibrate(trace(model, (1, 2, 4, 4), "m"), x)
    with torch.no_grad():
        t = torch.from_numpy(x)
        c = model.c(t)
        r = torch.relu(c)
        f = torch.flatten(r, 1)
        out = model.fc(f)
    want = {"x": t, "c": c, "relu": r, "flatten": f, "fc": out}
    assert set(ranges) == set(want)
    for name, value in want.items():
        assert ranges[name] == pytest.approx(float(value.abs().max()), rel=1e-5)


def test_chunking_does_not_change_ranges() -> None:
    g = trace(_model(), (1, 2, 4, 4), "m")
    x = sample((7, 2, 4, 4), seed=3)
    assert calibrate(g, x, chunk=3) == pytest.approx(calibrate(g, x, chunk=100))


@pytest.mark.parametrize("shape", [(5, 2, 4, 5), (2, 4, 4), (0, 2, 4, 4)])
def test_calibration_data_of_the_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(InputShapeError, match="calibration data has shape"):
        calibrate(trace(_model(), (1, 2, 4, 4), "m"), np.zeros(shape, np.float32))


def test_default_samples_are_seeded_standard_normal() -> None:
    m = load_model("zoo:resnet_small")
    a = calibration_samples(m, None, 8, seed=5)
    assert a.shape == (8, 3, 32, 32) and a.dtype == np.float32
    np.testing.assert_array_equal(a, np.random.default_rng(5).standard_normal((8, 3, 32, 32)).astype(np.float32))
    assert not np.array_equal(a, calibration_samples(m, None, 8, seed=6))
    assert calibration_samples(m, (1, 3, 16, 16), 2).shape == (2, 3, 16, 16)


def test_lenet_calibrates_on_digits_training_images() -> None:
    m = load_model("zoo:lenet")
    a = calibration_samples(m, None, 20, seed=1)
    np.testing.assert_array_equal(a, calibration_samples(m, None, 20, seed=1))
    train = load_split().x_train.reshape(len(load_split().x_train), -1)
    rows = {r.tobytes() for r in train}
    assert a.shape == (20, 1, 8, 8) and all(s.reshape(-1).tobytes() in rows for s in a)


def test_model_calibration_function_is_checked() -> None:
    m = load_model("zoo:resnet_small")
    bad_shape = replace(m, calibration_fn=lambda n, rng: np.zeros((n, 3, 8, 8), np.float32))
    with pytest.raises(InputShapeError, match="expected \\[4, 3, 32, 32\\]"):
        calibration_samples(bad_shape, None, 4)
    not_array = replace(m, calibration_fn=lambda n, rng: [0.0] * n)
    with pytest.raises(ModelLoadError, match="returned list"):
        calibration_samples(not_array, None, 4)


def test_no_shape_anywhere_is_an_input_shape_error() -> None:
    m = replace(load_model("zoo:resnet_small"), default_input_shape=None)
    with pytest.raises(InputShapeError, match="no default input shape"):
        calibration_samples(m, None, 4)


def test_a_shape_the_models_own_data_does_not_fit_names_the_shape_it_does_fit() -> None:
    m = load_model("zoo:lenet")  # calibrates on 8x8 digits
    with pytest.raises(InputShapeError, match="shaped for input 1,1,8,8; compile with --input-shape 1,1,8,8"):
        calibration_samples(m, (1, 1, 9, 9), 4)
