"""torch.export programs as input: an ExportedProgram, or its .module(), returned by a model file's
factory, lowered from aten ops and checked against the original eager model in torch."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from frontend_helpers import Net, run_float, run_int, sample, torch_outputs
from onnx_helpers import MODELS, cosine

from dian.errors import InputShapeError, UnsupportedOpError
from dian.frontend import calibration_samples, float_graph, load_model, lower
from dian.ir import Conv2d, Linear, OpKind


def _export(m: nn.Module, shape: tuple[int, ...]) -> torch.export.ExportedProgram:
    return torch.export.export(m.eval(), (torch.zeros(shape),))


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("as_module", [False, True], ids=["program", "module"])
def test_matches_the_eager_model(name: str, as_module: bool) -> None:
    factory, shape = MODELS[name]
    eager = factory()
    ep = _export(factory(), shape)
    model = ep.module() if as_module else ep
    graph = float_graph(model, shape, name)
    x = sample(shape, seed=7)
    want = torch_outputs(eager, x)[0]
    np.testing.assert_allclose(run_float(graph, x)[0], want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))
    calib = np.random.default_rng(0).standard_normal((32, *shape[1:])).astype(np.float32)
    assert cosine(run_int(lower(model, shape, calib, name)[1], x)[0], want) >= 0.99


def test_batch_norm_folds_into_the_conv_and_the_linear() -> None:
    torch.manual_seed(0)
    m = Net(
        lambda s, x: s.bn1(s.fc(torch.flatten(s.bn(s.conv(x)), 1))),
        conv=nn.Conv2d(3, 4, 3),
        bn=nn.BatchNorm2d(4),
        fc=nn.Linear(16, 5),
        bn1=nn.BatchNorm1d(5),
    ).eval()
    with torch.no_grad():
        for bn in (m.bn, m.bn1):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
    ep = _export(m, (2, 3, 4, 4))
    for model in (ep, ep.run_decompositions()):  # aten.batch_norm, then _native_batch_norm_legit_no_training
        graph = float_graph(model, (2, 3, 4, 4), "bn")
        assert [type(op) for op in graph.ops if isinstance(op, (Conv2d, Linear))] == [Conv2d, Linear]
        x = sample((2, 3, 4, 4))
        np.testing.assert_allclose(run_float(graph, x)[0], torch_outputs(m, x)[0], rtol=1e-4, atol=1e-5)


def test_model_file_factory_returning_a_program(tmp_path: Path) -> None:
    path = tmp_path / "exported_net.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch
            import torch.nn as nn

            def eager():
                torch.manual_seed(0)
                return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()

            def program():
                return torch.export.export(eager(), (torch.zeros(1, 1, 6, 6),))

            def module():
                return program().module()
            """
        )
    )
    eager = load_model(f"{path}:eager").module
    for factory in ("program", "module"):
        loaded = load_model(f"{path}:{factory}")
        assert loaded.default_input_shape == (1, 1, 6, 6)  # the program's own
        x = sample((1, 1, 6, 6))
        np.testing.assert_allclose(loaded.forward(x), torch_outputs(eager, x)[0], rtol=1e-6)
        calib = calibration_samples(loaded, (1, 1, 6, 6), 8, 0)
        fg, _ = lower(loaded.module, (1, 1, 6, 6), calib, factory)
        assert [op.kind for op in fg.ops] == [OpKind.CONV2D, OpKind.CLAMP, OpKind.RESHAPE, OpKind.LINEAR]


def test_another_input_shape_is_refused() -> None:
    ep = _export(MODELS["upsample_concat"][0](), (1, 3, 8, 8))
    with pytest.raises(InputShapeError, match=r"exported for input shape \[1, 3, 8, 8\].*--input-shape 1,3,8,8"):
        float_graph(ep, (2, 3, 8, 8), "u")


def test_every_unsupported_node_in_one_error() -> None:
    m = Net(lambda s, x: torch.softmax(s.conv(x), 1).exp(), conv=nn.Conv2d(3, 4, 3))
    with pytest.raises(UnsupportedOpError) as e:
        float_graph(_export(m, (1, 3, 6, 6)), (1, 3, 6, 6), "m")
    text = str(e.value)
    assert "has 2 node(s) dian cannot lower" in text
    assert "aten._softmax.default" in text or "aten.softmax.int" in text
    assert "aten.exp.default" in text


def test_training_mode_batch_norm_is_refused() -> None:
    m = Net(lambda s, x: s.bn(s.conv(x)), conv=nn.Conv2d(3, 4, 3), bn=nn.BatchNorm2d(4))
    ep = torch.export.export(m.train(), (torch.zeros(2, 3, 6, 6),))
    with pytest.raises(UnsupportedOpError, match=r"batch norm in training mode.*model\.eval\(\)"):
        float_graph(ep, (2, 3, 6, 6), "m")
