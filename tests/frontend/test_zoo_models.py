"""Zoo models trace, match torch, quantize and verify; the trained digits
LeNet keeps its accuracy in int8."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn as nn
from frontend_helpers import assert_close_to_torch, run_float, run_int, torch_outputs

from dian.frontend import calibrate, calibration_samples, load_model, lower, quantize, trace
from dian.frontend.zoo import ZOO
from dian.frontend.zoo.digits import accuracy, load_split, train_lenet
from dian.ir import Add, Conv2d, Linear, verify

SMALL_SHAPE = {"resnet18": (1, 3, 64, 64), "mobilenetv2": (1, 3, 64, 64)}  # keep the big nets fast
#: Bound on rms(int8 - float) / rms(float) at the output. Random untrained nets amplify
#: quantization noise layer by layer (17 inverted residual blocks in mobilenetv2 take
#: ~2% per layer to ~50%); a wrong scale or multiplier gives errors of 100% or more.
REL_RMS_BOUND = {"lenet": 0.1, "resnet_small": 0.1, "mobilenet_small": 0.1, "resnet18": 0.3, "mobilenetv2": 0.8}
RESIDUAL_ADDS = {"lenet": 0, "resnet_small": 3, "mobilenet_small": 3, "resnet18": 8, "mobilenetv2": 10}


@pytest.mark.parametrize("name", sorted(REL_RMS_BOUND))  # the newer nets: test_zoo_new.py
def test_zoo_model_lowers(name: str) -> None:
    m = load_model(f"zoo:{name}")
    shape = SMALL_SHAPE.get(name, ZOO[name].default_input_shape)
    calib = calibration_samples(m, shape, 4, seed=0)
    float_graph = trace(m.module, shape, name)
    assert_close_to_torch(float_graph, m.module, calib[:2])
    n_convs = sum(isinstance(mod, nn.Conv2d) for mod in m.module.modules())
    assert sum(isinstance(op, Conv2d) for op in float_graph.ops) == n_convs  # every BN folded away
    assert sum(isinstance(op, Add) for op in float_graph.ops) == RESIDUAL_ADDS[name]
    int_graph = quantize(float_graph, calibrate(float_graph, calib))
    verify(int_graph)
    want = torch_outputs(m.module, calib)[0]
    got = run_int(int_graph, calib)[0]
    rel_rms = float(np.sqrt(((got - want) ** 2).mean() / (want**2).mean()))
    assert rel_rms < REL_RMS_BOUND[name]


def test_zoo_entries_are_described() -> None:
    for name, entry in ZOO.items():
        assert entry.name == name and entry.description and len(entry.default_input_shape) == 4
        assert all(f.exists() for f in entry.files)


def test_digits_lenet_int8_accuracy_within_one_point_of_float() -> None:
    m = load_model("zoo:lenet")
    split = load_split()
    float_graph, int_graph = lower(m.module, (1, 1, 8, 8), calibration_samples(m, None, 256, seed=0), "lenet")
    x, y = np.array(split.x_test), split.y_test
    torch_acc = accuracy(m.module, x, y)
    float_acc = float((run_float(float_graph, x)[0].argmax(1) == y).mean())
    int_acc = float((run_int(int_graph, x)[0].argmax(1) == y).mean())
    assert float_acc == torch_acc and float_acc > 0.97
    assert abs(int_acc - float_acc) <= 0.01
    assert isinstance(int_graph.ops[-1], Linear)


@pytest.mark.slow
def test_digits_trainer_reproduces_the_checkpoint_accuracy() -> None:
    split = load_split()
    net = train_lenet()
    assert accuracy(net, np.array(split.x_test), split.y_test) > 0.97
