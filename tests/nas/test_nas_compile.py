"""Derived networks through dian: the frontend traces them exactly (float graph == torch), their
int8 graphs on the reference simulator agree with torch's float outputs on the digits test split,
and the machine simulator of the tiny accelerator matches the reference layer by layer."""

from __future__ import annotations

import numpy as np
import pytest
from frontend_helpers import assert_close_to_torch, run_int, torch_outputs
from machine_cases import check_machine
from nas_helpers import ARCHS, trained

from dian.api import run_compiled
from dian.frontend import lower
from dian.hwgen.presets import PRESETS
from dian.ir import Add, Conv2d, Graph
from dian.nas.data import calibration_data, load_dataset
from dian.nas.space import SPACES
from dian.nas.supernet import derive
from dian.nas.train import int8_accuracy, recalibrate_batchnorm

TEST_IMAGES = 200


def _lowered(name: str) -> tuple[Graph, Graph]:
    calib = calibration_data("digits", 64, np.random.default_rng(0))
    return lower(trained(name), (1, 1, 8, 8), calib, name)


@pytest.mark.parametrize(
    "name, convs, adds",
    [
        ("narrowest_k3e1_skips", 1 + 3 * 2 + 1, 0),
        ("widest_k5e6", 1 + 6 * 3 + 1, 3),
        ("mixed_k5e1", 1 + 2 + 3 * 3 + 1, 1),
    ],
)
def test_derived_net_lowers_and_int8_agrees_with_float(name: str, convs: int, adds: int) -> None:
    net, ds = trained(name), load_dataset("digits")
    float_graph, int_graph = _lowered(name)
    assert sum(isinstance(op, Conv2d) for op in int_graph.ops) == convs  # BN folded, skips gone
    assert sum(isinstance(op, Add) for op in int_graph.ops) == adds  # residuals of non-first blocks
    assert_close_to_torch(float_graph, net, np.array(ds.x_test[:32]))
    x, y = np.array(ds.x_test[:TEST_IMAGES]), ds.y_test[:TEST_IMAGES]
    want, got = torch_outputs(net, x)[0], run_int(int_graph, x)[0]
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.9
    float_acc, int_acc = (want.argmax(1) == y).mean(), (got.argmax(1) == y).mean()
    assert float_acc >= 0.8 and int_acc >= float_acc - 0.03
    # the batched accuracy helper (dian search, the benchmark) counts as one image a run does
    one_by_one = [int(np.argmax(run_compiled(int_graph, x[i : i + 1]))) == y[i] for i in range(40)]
    assert int8_accuracy(int_graph, x[:40], y[:40]) == np.mean(one_by_one)


@pytest.mark.parametrize("name", ["mixed_k5e1", "narrowest_k3e1_skips"])
def test_derived_net_runs_on_the_tiny_accelerator_as_the_reference(name: str) -> None:
    # 5x5 and 3x3 depthwise with stride 1 and 2, e1 blocks, a residual add; every layer compared
    res = check_machine(_lowered(name)[1], PRESETS["tiny"])
    assert res.counters.cycles > 0


def test_mnist_derived_net_lowers_and_runs_on_the_tiny_accelerator() -> None:
    # the stride-2 stem at 28x28; weights untrained, BN statistics measured on MNIST training images
    ds = load_dataset("mnist")
    net = recalibrate_batchnorm(derive(SPACES["mnist"], ARCHS["narrowest_k3e1_skips"]), ds.x_train[:256])
    float_graph, int_graph = lower(net, (1, 1, 28, 28), calibration_data("mnist", 32, np.random.default_rng(0)), "m")
    assert_close_to_torch(float_graph, net, np.array(ds.x_test[:8]))
    check_machine(int_graph, PRESETS["tiny"])
