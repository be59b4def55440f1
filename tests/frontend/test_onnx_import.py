"""ONNX import against onnx's reference evaluator: small torch models exported by both torch
exporters (legacy TorchScript-based at opset 17, default dynamo at opset 18+), imported to dian's
float graph (run in sim/reference: tight tolerance) and quantized (int8: cosine >= 0.99)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from frontend_helpers import run_float, run_int, sample, torch_outputs
from onnx_helpers import MODELS, cosine, export_onnx, onnx_reference

from dian.frontend import calibration_samples, float_graph, load_model, lower
from dian.ir import Conv2d, OpKind, Pointwise

CASES = [
    pytest.param(name, dynamo, id=f"{name}-{'dynamo' if dynamo else 'legacy'}")
    for name in MODELS
    for dynamo in (False, True)
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    """Each model exported once per exporter, on first use."""
    folder = tmp_path_factory.mktemp("onnx")
    cache: dict[tuple[str, bool], Path] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, key: tuple[str, bool]) -> Path:
            name, dynamo = key
            factory, shape = MODELS[name]
            path = export_onnx(factory(), shape, folder / f"{name}-{dynamo}.onnx", dynamo)
            self[key] = path
            return path

    return Lazy(cache)


@pytest.mark.parametrize(("name", "dynamo"), CASES)
def test_float_and_int8_match_onnx_reference(exported: dict[tuple[str, bool], Path], name: str, dynamo: bool) -> None:
    path = exported[(name, dynamo)]
    factory, shape = MODELS[name]
    loaded = load_model(str(path))
    assert loaded.default_input_shape == shape  # the declared input shape is the default
    graph = float_graph(loaded.module, shape, name)
    x = sample(shape, seed=5)
    want = onnx_reference(path, x)
    np.testing.assert_allclose(torch_outputs(factory(), x)[0], want, rtol=1e-4, atol=1e-5)  # the witness agrees
    got = run_float(graph, x)[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(want).max())))

    calib = calibration_samples(loaded, shape, 32, seed=0)
    _, int_graph = lower(loaded.module, shape, calib, name)
    q = run_int(int_graph, x)[0]
    assert cosine(q, want) >= 0.99


def test_bn_folds_and_activation_groups_become_one_table(exported: dict[tuple[str, bool], Path]) -> None:
    conv = float_graph(load_model(str(exported[("conv_bn_pool_linear", False)])).module, (2, 3, 8, 8), "m")
    assert [op.kind for op in conv.ops].count(OpKind.CONV2D) == 1  # BN folded, no extra 1x1 conv
    acts = float_graph(load_model(str(exported[("activations", False)])).module, (2, 3, 6, 6), "m")
    fns = sorted(op.fn for op in acts.ops if isinstance(op, Pointwise))
    # legacy opset 17 writes SiLU as x * Sigmoid(x), GELU with Erf and Mish with Softplus/Tanh: each one table
    assert {"silu", "gelu", "mish", "prelu", "elu", "tanh", "softplus"} <= set(fns)
    assert not any(op.kind == OpKind.MUL for op in acts.ops)


def test_per_channel_constants_fold_into_the_conv(tmp_path: Path) -> None:
    import torch
    from frontend_helpers import Net

    torch.manual_seed(0)
    scale = torch.rand(1, 4, 1, 1) + 0.5
    m = Net(lambda s, x: s.conv(x) * scale + 0.25, conv=torch.nn.Conv2d(3, 4, 3)).eval()
    path = export_onnx(m, (1, 3, 6, 6), tmp_path / "affine.onnx", dynamo=False)
    graph = float_graph(load_model(str(path)).module, (1, 3, 6, 6), "affine")
    convs = [op for op in graph.ops if isinstance(op, Conv2d)]
    assert len(convs) == 1 and convs[0].bias is not None  # the per-channel scale folded into the weights
    x = sample((1, 3, 6, 6))
    np.testing.assert_allclose(run_float(graph, x)[0], onnx_reference(path, x), rtol=1e-5, atol=1e-6)


def test_a_different_batch_is_allowed_where_the_file_says_so(tmp_path: Path) -> None:
    """A file with a symbolic batch takes any --input-shape batch; static dims must match."""
    import onnx

    path = export_onnx(MODELS["upsample_concat"][0](), (1, 3, 8, 8), tmp_path / "u.onnx", dynamo=False)
    model = onnx.load(str(path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(model, str(path))
    loaded = load_model(str(path))
    assert loaded.default_input_shape is None
    graph = float_graph(loaded.module, (3, 3, 8, 8), "u")
    x = sample((3, 3, 8, 8))
    np.testing.assert_allclose(run_float(graph, x)[0], onnx_reference(path, x), rtol=1e-4, atol=1e-5)
