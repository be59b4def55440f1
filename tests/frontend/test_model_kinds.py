"""Models dian refuses by name before tracing: TorchScript (objects and torch.jit.save archives),
pickled checkpoints (never unpickled) and models torch.ao has already quantized."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from dian.errors import ModelLoadError
from dian.frontend import load_model, trace
from dian.frontend.model_kinds import refuse_unimportable

TORCHSCRIPT = "TorchScript is not supported; give the eager nn.Module, an ExportedProgram, or an ONNX file"


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "kinds.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch
            import torch.nn as nn
            from torch.ao.quantization import get_default_qat_qconfig_mapping, get_default_qconfig_mapping
            from torch.ao.quantization import quantize_fx

            def net():
                torch.manual_seed(0)
                return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()

            def scripted():
                return torch.jit.script(net())

            def traced():
                return torch.jit.trace(net(), torch.zeros(1, 1, 6, 6))

            def converted():
                x = (torch.randn(1, 1, 6, 6),)
                prepared = quantize_fx.prepare_fx(net(), get_default_qconfig_mapping(), x)
                prepared(*x)
                return quantize_fx.convert_fx(prepared)

            def qat_prepared():
                x = (torch.randn(1, 1, 6, 6),)
                return quantize_fx.prepare_qat_fx(net().train(), get_default_qat_qconfig_mapping(), x)
            """
        )
    )
    return path


@pytest.mark.parametrize("factory", ["scripted", "traced"])
def test_torchscript_from_a_factory(model_file: Path, factory: str) -> None:
    with pytest.raises(ModelLoadError, match=rf"{factory}\(\) from .* is a TorchScript .*: {TORCHSCRIPT}"):
        load_model(f"{model_file}:{factory}")


def test_torchscript_given_to_trace_is_named_not_traced() -> None:
    with pytest.raises(ModelLoadError, match=TORCHSCRIPT) as e:
        trace(torch.jit.script(_net()), (1, 1, 6, 6), "s")
    assert "trace.py" not in str(e.value)


def test_converted_model_is_refused(model_file: Path) -> None:
    with pytest.raises(
        ModelLoadError, match=r"already quantized \(module .*torch\.ao\.nn\.intrinsic\.quantized.*dian quantizes"
    ):
        load_model(f"{model_file}:converted")


def test_quantized_tensors_are_refused() -> None:
    m = _net()
    m.register_buffer("q", torch.quantize_per_tensor(torch.zeros(2), 0.1, 0, torch.qint8))
    with pytest.raises(ModelLoadError, match="holds quantized tensors"):
        refuse_unimportable(m, "m")


def test_qat_prepared_model_is_not_refused(model_file: Path) -> None:
    refuse_unimportable(load_model(f"{model_file}:qat_prepared").module, "qat")  # fake quant keeps float weights


def test_torchscript_archive(tmp_path: Path) -> None:
    path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(_net()), str(path))
    with pytest.raises(ModelLoadError, match=rf"TorchScript archive \(torch.jit.save\).*{TORCHSCRIPT}"):
        load_model(str(path))


@pytest.mark.parametrize("source", ["net.pth", "net.pth:build"])
def test_pickled_checkpoint_is_never_unpickled(tmp_path: Path, source: str) -> None:
    marker = tmp_path / "unpickled"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (eval, (payload,))

    torch.save(Evil(), str(tmp_path / "net.pth"))
    with pytest.raises(ModelLoadError, match=r"PyTorch checkpoint.*never unpickles"):
        load_model(str(tmp_path / source))
    assert not marker.exists()
