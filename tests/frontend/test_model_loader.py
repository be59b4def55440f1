"""load_model: file:factory and zoo:NAME sources, and every documented ModelLoadError."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch.nn as nn

from dian.errors import ModelLoadError
from dian.frontend import LoadedModel, load_model
from dian.frontend.zoo import ZOO

GOOD = """
import numpy as np
import torch.nn as nn
from helper_layers import width

INPUT_SHAPE = (1, 2, 4, 4)

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, width(), 3)

    def forward(self, x):
        return self.conv(x)

def build():
    return Tiny()

def calibration_data(num_samples, rng):
    return rng.uniform(0, 1, (num_samples, 2, 4, 4)).astype(np.float32)

def not_a_model():
    return 42

def broken():
    raise RuntimeError("weights file missing")

CONSTANT = 3
"""


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    (tmp_path / "helper_layers.py").write_text("def width():\n    return 5\n")
    path = tmp_path / "tiny_net.py"
    path.write_text(GOOD)
    return path


def test_file_factory(model_file: Path) -> None:
    m = load_model(f"{model_file}:build")
    assert isinstance(m, LoadedModel) and isinstance(m.module, nn.Module)
    assert m.name == "build" and m.module.conv.out_channels == 5  # sibling import worked
    assert m.default_input_shape == (1, 2, 4, 4)
    assert m.source_sha256 == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert m.calibration_fn is not None
    data = m.calibration_fn(3, np.random.default_rng(0))
    assert data.shape == (3, 2, 4, 4)


def test_a_module_class_is_a_factory(model_file: Path) -> None:
    assert isinstance(load_model(f"{model_file}:Tiny").module, nn.Module)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"nowhere\.py.*does not exist"):
        load_model(f"{tmp_path}/nowhere.py:build")


def test_missing_factory_lists_what_the_file_defines(model_file: Path) -> None:
    with pytest.raises(ModelLoadError) as e:
        load_model(f"{model_file}:make_model")
    msg = str(e.value)
    assert "'make_model' is not defined" in msg
    assert "Tiny" in msg and "build" in msg and "calibration_data" in msg
    assert "width" not in msg and "CONSTANT" not in msg  # imported names and non-callables are not listed


def test_non_callable_factory(model_file: Path) -> None:
    with pytest.raises(ModelLoadError, match="'CONSTANT' is not callable"):
        load_model(f"{model_file}:CONSTANT")


def test_factory_raising(model_file: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"broken\(\).*RuntimeError: weights file missing"):
        load_model(f"{model_file}:broken")


def test_factory_not_returning_a_module(model_file: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"returned int, not a torch\.nn\.Module"):
        load_model(f"{model_file}:not_a_model")


def test_file_that_fails_to_import(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("import torch\nraise ValueError('no GPU here')\n")
    with pytest.raises(ModelLoadError, match=r"importing model file.*ValueError: no GPU here"):
        load_model(f"{path}:build")


def test_bad_input_shape_constant(tmp_path: Path) -> None:
    path = tmp_path / "shape.py"
    path.write_text("import torch.nn as nn\nINPUT_SHAPE = (1, -3)\ndef build():\n    return nn.ReLU()\n")
    with pytest.raises(ModelLoadError, match="INPUT_SHAPE"):
        load_model(f"{path}:build")


@pytest.mark.parametrize("source", ["model.py", "", ":build", "model.py:"])
def test_malformed_source(source: str) -> None:
    with pytest.raises(ModelLoadError, match="zoo:NAME"):
        load_model(source)


def test_unknown_zoo_name_lists_the_zoo() -> None:
    with pytest.raises(ModelLoadError) as e:
        load_model("zoo:alexnet")
    assert "alexnet" in str(e.value) and all(name in str(e.value) for name in ZOO)


def test_zoo_entry_loads_with_stable_hash() -> None:
    a, b = load_model("zoo:resnet_small"), load_model("zoo:resnet_small")
    assert a.name == "resnet_small" and a.default_input_shape == (1, 3, 32, 32)
    assert a.source_sha256 == b.source_sha256 and len(a.source_sha256) == 64
    assert a.calibration_fn is None
    for pa, pb in zip(a.module.parameters(), b.module.parameters(), strict=True):  # same seed, same weights
        assert (pa == pb).all()
