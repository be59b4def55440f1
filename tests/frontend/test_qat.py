"""QAT models (frontend/qat.py) against torch.ao: a LeNet fine-tuned with prepare_qat_fx compiles
with the activation scales it learned, and its int8 accuracy is torch.ao's converted model's."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.fx as fx
import torch.nn as nn

from dian.errors import ModelLoadError, UnsupportedOpError
from dian.frontend import lower_model, with_batch
from dian.frontend.qat import dian_range, learned_ranges
from dian.frontend.zoo.digits import load_split
from dian.frontend.zoo.digits_qat import prepare_lenet_qat, train_qat_lenet
from dian.ir import OpKind, load_graph
from dian.sim.host import run_compiled
from dian.sim.reference import run_graph

SHAPE = (1, 1, 8, 8)


@pytest.fixture(scope="module")
def qat_lenet() -> fx.GraphModule:
    return train_qat_lenet(epochs=1)


def _convert(prepared: fx.GraphModule) -> fx.GraphModule:
    from torch.ao.quantization.quantize_fx import convert_fx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(copy.deepcopy(prepared))


def _digits() -> tuple[np.ndarray, np.ndarray]:
    s = load_split()
    return np.concatenate([s.x_train, s.x_test]), np.concatenate([s.y_train, s.y_test])


def test_int8_accuracy_is_torch_aos(qat_lenet: fx.GraphModule) -> None:
    x, y = _digits()  # all 1,797 images: 0.2 points is 3.6 images
    low = lower_model(qat_lenet, SHAPE, np.array(load_split().x_train[:64]), "qat_lenet")
    ours = run_compiled(with_batch(low.int_graph, len(x)), x, "qat").argmax(1)
    with torch.no_grad():
        theirs = _convert(qat_lenet)(torch.from_numpy(x)).argmax(1).numpy()
    acc, torch_acc = float((ours == y).mean()), float((theirs == y).mean())
    assert abs(acc - torch_acc) <= 0.002, (acc, torch_acc)
    assert (ours == theirs).mean() >= 0.995


def test_learned_scales_are_torch_aos(qat_lenet: fx.GraphModule) -> None:
    """x86's activations are 7-bit unsigned: with zero point 0 dian's int8 scale is torch's own."""
    low = lower_model(qat_lenet, SHAPE, np.zeros((4, 1, 8, 8), np.float32), "qat_lenet")
    conv = _convert(qat_lenet)
    scale = {t.name: t.quant.scale[0] for t in low.int_graph.tensors.values() if t.quant and t.name in low.learned}
    assert set(low.learned) == {"x", "conv1_1", "conv2_1", "fc1_1", "fc2"} and low.calibrated == ()
    # the fused ReLU outputs: conv1 (conv + ReLU) writes tensor conv1_1, and so on
    assert scale["conv1_1"] == pytest.approx(float(conv.conv1.scale), rel=1e-6)
    assert scale["conv2_1"] == pytest.approx(float(conv.conv2.scale), rel=1e-6)
    assert scale["fc1_1"] == pytest.approx(float(conv.fc1.scale), rel=1e-6)
    assert scale["x"] == pytest.approx(float(conv.conv1_input_scale_0), rel=1e-6)
    # the logits are affine (zero point inside the range): the step that covers [-z s, (127 - z) s]
    s, z = float(conv.fc2.scale), int(conv.fc2.zero_point)
    assert 0 < z < 127 and scale["fc2"] == pytest.approx(max((127 - z) * s / 127, z * s / 128), rel=1e-6)


def test_fake_quants_leave_no_ops(qat_lenet: fx.GraphModule) -> None:
    low = lower_model(qat_lenet, SHAPE, np.zeros((4, 1, 8, 8), np.float32), "qat_lenet")
    kinds = [op.kind for op in low.int_graph.ops]
    assert (
        kinds
        == [OpKind.CONV2D, OpKind.MAXPOOL2D, OpKind.CONV2D, OpKind.MAXPOOL2D, OpKind.RESHAPE] + [OpKind.LINEAR] * 2
    )
    assert qat_lenet.activation_post_process_0.__class__.__name__.endswith("FakeQuantize")  # the input untouched


@pytest.mark.parametrize(
    "lo, hi, scale",
    [
        (0.0, 127 * 0.02, 0.02),  # 7-bit unsigned, zero point 0: torch's step
        (-128 * 0.1, 127 * 0.1, 0.1),  # symmetric int8 (or affine int8 with zero point 0)
        (0.0, 255 * 0.01, 255 * 0.01 / 127),  # 8-bit unsigned ReLU (qnnpack): twice torch's step
        (-100 * 0.5, 27 * 0.5, 100 * 0.5 / 128),  # affine, zero point 100: the longer side decides
    ],
)
def test_range_mapping(lo: float, hi: float, scale: float) -> None:
    assert dian_range(lo, hi) / 127 == pytest.approx(scale, rel=1e-12)
    assert learned_ranges({"qat_ranges": f'{{"t": [{lo}, {hi}]}}'}) == {"t": dian_range(lo, hi)}


def test_a_converted_model_is_refused(qat_lenet: fx.GraphModule) -> None:
    with pytest.raises(ModelLoadError, match=r"already quantized .*QAT-prepared"):
        lower_model(_convert(qat_lenet), SHAPE, np.zeros((2, 1, 8, 8), np.float32), "converted")


def test_an_untrained_prepared_model_is_refused() -> None:
    with pytest.raises(UnsupportedOpError, match=r"activation_post_process_0.*has never seen data"):
        lower_model(prepare_lenet_qat().eval(), SHAPE, np.zeros((2, 1, 8, 8), np.float32), "fresh")


def test_eager_mode_qat_is_refused() -> None:
    from torch.ao.quantization import get_default_qat_qconfig, prepare_qat

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).train()
    model.qconfig = get_default_qat_qconfig("x86")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_qat(model)
    with pytest.raises(UnsupportedOpError, match=r"not an FX GraphModule .*prepare_qat_fx"):
        lower_model(prepared, (1, 1, 4, 4), np.zeros((2, 1, 4, 4), np.float32), "eager")


@pytest.mark.slow
def test_qat_from_scratch_is_torch_aos() -> None:
    """A LeNet trained with fake quantization from random weights (the scales move the most)."""
    from dian.frontend.zoo.lenet import LeNet
    from dian.frontend.zoo.seeding import seeded

    with seeded(1):
        start = LeNet()
    prepared = train_qat_lenet(epochs=15, lr=0.05, start=start)
    x, y = _digits()
    low = lower_model(prepared, SHAPE, np.array(load_split().x_train[:64]), "qat_scratch")
    ours = run_compiled(with_batch(low.int_graph, len(x)), x, "qat").argmax(1)
    with torch.no_grad():
        theirs = _convert(prepared)(torch.from_numpy(x)).argmax(1).numpy()
    assert (theirs == y).mean() > 0.9
    assert abs(float((ours == y).mean()) - float((theirs == y).mean())) <= 0.002


class _ConvBnNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.relu, self.relu2 = nn.ReLU(), nn.ReLU()
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.conv(x)))
        x = torch.relu(self.relu2(self.bn2(self.conv2(x))) + x)
        return self.fc(torch.flatten(x, 1))


def test_conv_bn_qat_outputs_are_within_a_step_of_torch_aos() -> None:
    """BN folded (ConvBnReLU2d QAT modules), a residual add, affine logits. Inputs in [0, 1] and
    ReLU'd activations: zero points 0, where dian's scales are torch's; the logits' affine range
    gets a finer step in dian (frontend/qat.py), so they differ by the rounding of both."""
    from torch.ao.quantization import get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_qat_fx(
            _ConvBnNet().train(), get_default_qat_qconfig_mapping("x86"), (torch.zeros(1, 2, 6, 6),)
        )
    opt = torch.optim.SGD(prepared.parameters(), lr=0.01)
    x = torch.rand(256, 2, 6, 6)
    target = torch.randn(256, 5)
    for i in range(0, 256, 16):
        opt.zero_grad()
        nn.functional.mse_loss(prepared(x[i : i + 16]), target[i : i + 16]).backward()
        opt.step()
    prepared.eval()
    test = torch.rand(64, 2, 6, 6)
    low = lower_model(prepared, (1, 2, 6, 6), np.zeros((2, 2, 6, 6), np.float32), "convbn")
    graph = with_batch(low.int_graph, 64)
    converted = _convert(prepared)
    with torch.no_grad():
        theirs = converted(test).numpy()
        q_in = torch.quantize_per_tensor(test, float(converted.conv_input_scale_0), 0, torch.quint8)
        first = converted.conv(q_in)  # the fused conv + BN + ReLU on the same int8 input
    assert graph.tensors["x"].quant.scale[0] == pytest.approx(q_in.q_scale(), rel=1e-9)
    assert graph.tensors["conv_1"].quant.scale[0] == pytest.approx(first.q_scale(), rel=1e-9)
    acts = run_graph(graph, {"x": q_in.int_repr().numpy().astype(np.int8)}, keep_all=True)
    assert np.abs(acts["conv_1"].astype(int) - first.int_repr().numpy().astype(int)).max() <= 1  # 1 LSB, one op
    ours = run_compiled(graph, test.numpy(), "convbn")
    step = float(converted.fc.scale)  # four layers on: the LSBs add up, within two output steps
    assert np.abs(ours - theirs).max() <= 2 * step and np.abs(ours - theirs).mean() <= 0.5 * step


QAT_MODEL_FILE = """
from pathlib import Path

import torch
from torch.ao.quantization import get_default_qat_qconfig_mapping
from torch.ao.quantization.quantize_fx import prepare_qat_fx

from dian.frontend.zoo.lenet import LeNet

INPUT_SHAPE = (1, 1, 8, 8)


def qat_lenet():
    model = prepare_qat_fx(LeNet(), get_default_qat_qconfig_mapping("x86"), (torch.zeros(INPUT_SHAPE),))
    model.load_state_dict(torch.load(Path(__file__).with_name("qat_lenet.pt")))
    return model
"""


def test_a_qat_model_file_compiles_with_its_learned_scales(
    qat_lenet: fx.GraphModule, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's flow: the prepared model rebuilt in a model file, its trained state loaded."""
    from dian import cli

    torch.save(qat_lenet.state_dict(), tmp_path / "qat_lenet.pt")
    (tmp_path / "qat.py").write_text(QAT_MODEL_FILE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(["compile", f"{tmp_path / 'qat.py'}:qat_lenet", "--out", str(tmp_path / "o")]) == 0
    out, err = capsys.readouterr()
    assert "QAT: 5 activation scales from the model's fake-quant modules, 0 calibrated" in out
    assert "calibrating on synthetic" not in err  # nothing was calibrated on the noise
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert (manifest["qat_scales"], manifest["calibrated_scales"]) == (5, 0)
    graph = load_graph(tmp_path / "o" / "model.ir.json")
    assert graph.tensors["conv1_1"].quant.scale[0] == pytest.approx(float(_convert(qat_lenet).conv1.scale), rel=1e-6)


def test_float_functional_is_not_a_converted_model() -> None:
    """torch.ao.nn.quantized.FloatFunctional (eager quantization's add) computes in float."""
    from torch.ao.nn.quantized import FloatFunctional

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.skip = nn.Conv2d(2, 2, 3, padding=1), FloatFunctional()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.skip.add(self.conv(x), x)

    low = lower_model(Net().eval(), (1, 2, 4, 4), np.ones((2, 2, 4, 4), np.float32), "ff")
    assert [op.kind for op in low.int_graph.ops] == [OpKind.CONV2D, OpKind.ADD]


def test_a_ptq_prepared_model_is_refused() -> None:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(
            nn.Sequential(nn.Conv2d(1, 2, 3)).eval(), get_default_qconfig_mapping("x86"), (torch.zeros(1, 1, 4, 4),)
        )
    with pytest.raises(UnsupportedOpError, match=r"observers .*prepare_fx.*--calib-data"):
        lower_model(prepared, (1, 1, 4, 4), np.zeros((2, 1, 4, 4), np.float32), "ptq")
