"""`dian compile` on an ONNX file, a factory returning an ExportedProgram, and the refusals, run as
a user would (the real executable): compiled outputs against onnx.reference / torch, refusals as
one-paragraph user errors (exit 2, no traceback)."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np
import torch
from onnx_helpers import MODELS, cosine, export_onnx, onnx_reference
from test_cli import dian, user_error


def test_compile_and_run_an_onnx_file(tmp_path: Path) -> None:
    factory, shape = MODELS["conv_bn_pool_linear"]
    model = export_onnx(factory(), (1, *shape[1:]), tmp_path / "net.onnx", dynamo=False)
    out = tmp_path / "out"
    dian("compile", model, "--out", out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert manifest["input_shape"] == [1, *shape[1:]]  # the file's declared shape
    xs = np.random.default_rng(3).standard_normal((2, 1, *shape[1:])).astype(np.float32)
    for i, x in enumerate(xs):
        np.save(tmp_path / f"x{i}.npy", x)
        dian("run", out, "--input", tmp_path / f"x{i}.npy", "--output", tmp_path / f"y{i}.npy")
        got, want = np.load(tmp_path / f"y{i}.npy"), onnx_reference(model, x)
        assert cosine(got, want) >= 0.99 and got.argmax() == want.argmax()


def test_an_onnx_file_inside_the_out_folder_is_never_replaced(tmp_path: Path) -> None:
    """The .onnx file is the model's source, as a model file is: never in the folder a compile replaces."""
    out = tmp_path / "out"
    out.mkdir()
    model = export_onnx(MODELS["upsample_concat"][0](), (1, 3, 8, 8), out / "unet.onnx", dynamo=False)
    err = user_error("compile", model, "--out", out, "--force")
    assert "the model file out of" in " ".join(err.split()) and model.is_file()


def test_factory_returning_an_exported_program(tmp_path: Path) -> None:
    path = tmp_path / "exported.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch
            import torch.nn as nn

            def eager():
                torch.manual_seed(0)
                return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Hardswish(), nn.Flatten(),
                                     nn.Linear(4 * 6 * 6, 5)).eval()

            def program():
                return torch.export.export(eager(), (torch.zeros(1, 1, 8, 8),))

            def scripted():
                return torch.jit.script(eager())
            """
        )
    )
    out = tmp_path / "out"
    dian("compile", f"{path}:program", "--out", out)
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    dian("run", out, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    import importlib.util

    spec = importlib.util.spec_from_file_location("exported_for_test", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    with torch.no_grad():
        want = mod.eager()(torch.from_numpy(x)).numpy()
    assert cosine(np.load(tmp_path / "y.npy"), want) >= 0.99

    err = user_error("compile", f"{path}:scripted", "--out", tmp_path / "s")
    assert "TorchScript is not supported; give the eager nn.Module, an ExportedProgram, or an ONNX file" in err
    assert "trace.py" not in err


def test_damaged_onnx_file_is_a_user_error(tmp_path: Path) -> None:
    model = export_onnx(MODELS["upsample_concat"][0](), (1, 3, 8, 8), tmp_path / "net.onnx", dynamo=False)
    model.write_bytes(model.read_bytes()[:300])
    err = user_error("compile", model, "--out", tmp_path / "out")
    assert "net.onnx" in err
