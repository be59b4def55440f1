"""Issue 17's findings 5-7 as regression tests, through the CLI's own entry point (in process):
a .npy header or a shape that asks for more memory than there is, a model whose code calls
sys.exit, and `dian run` on a folder edited since compile."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from dian import api, cli
from dian.errors import InputShapeError, ResourceLimitError
from dian.limits import DEFAULT_BYTES, ENV, memory_limit
from dian.npy_file import read_npy

MODEL, SHAPE = "zoo:lenet", "1,1,8,8"

CONV_NET = """
import torch.nn as nn
def make():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)
    )
"""


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """``dian ARGS`` in this process: its exit status and stderr (which must hold no traceback)."""
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return api.compile_model(MODEL, (1, 1, 8, 8), tmp_path_factory.mktemp("lim") / "lenet").out_dir


@pytest.fixture(scope="module")
def digit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("x") / "x.npy"
    np.save(path, np.linspace(0, 1, 64, dtype=np.float32).reshape(1, 1, 8, 8))
    return path


def _npy_header(shape: tuple[int, ...]) -> bytes:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_npy_header_claiming_40_gb_is_refused_without_allocating(
    tmp_path: Path, compiled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.npy"
    bomb.write_bytes(_npy_header((1, 1, 100000, 100000)) + b"\0" * 64)
    t0 = time.perf_counter()
    code, err = run_cli(capsys, "run", compiled, "--input", bomb, "--output", tmp_path / "y.npy")
    assert code == 2 and "damaged" in err and "40,000,000,000 bytes" in err and "holds 64 bytes" in err
    assert time.perf_counter() - t0 < 5  # refused from the header, not after trying to allocate 40 GB
    assert not (tmp_path / "y.npy").exists()


def test_npy_over_the_memory_limit_names_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.npy"
    np.save(big, np.zeros((4, 1, 64, 64), np.float32))  # 65,536 bytes of data
    monkeypatch.setenv(ENV, "32K")
    code, err = run_cli(capsys, "run", compiled, "--input", big, "--output", tmp_path / "y.npy")
    assert code == 2 and "64.0 KB, over dian's memory limit of 32.0 KB" in err and f"{ENV}=" in err


def test_npy_with_objects_is_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputShapeError, match="Python objects"):
        read_npy(str(path), "--input")


@pytest.mark.parametrize(("text", "limit"), [("", DEFAULT_BYTES), ("1024", 1024), ("16G", 16 << 30), ("1.5M", 3 << 19)])
def test_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch, text: str, limit: int) -> None:
    monkeypatch.setenv(ENV, text)
    assert memory_limit() == limit


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "12Q"])
def test_bad_memory_limit_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(ENV, text)
    with pytest.raises(ResourceLimitError, match="is not a size"):
        memory_limit()


def test_calibration_sample_count_is_capped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    code, err = run_cli(capsys, "compile", MODEL, "--input-shape", SHAPE, "--out", out, "--calib-samples", "1000000000")
    # 10^9 samples x 64 float32 values x 4 bytes = 256e9 bytes = 238.4 GiB
    assert code == 2 and "1000000000 samples of 1x8x8" in err and "238.4 GB" in err and "--calib-samples" in err
    assert not out.exists()


def test_calibration_activations_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "net.py").write_text(CONV_NET)
    model = f"{tmp_path}/net.py:make"
    # 4 samples of 1x32x32 float32 are 16 KB; one sample's activations alone are > 8x32x32 values (32 KB).
    monkeypatch.setenv(ENV, "64K")
    out = tmp_path / "o"
    code, err = run_cli(capsys, "compile", model, "--input-shape", "1,1,32,32", "--out", out, "--calib-samples", "4")
    assert code == 2 and "calibrating graph" in err and "4 samples' activations" in err and not out.exists()
    monkeypatch.setenv(ENV, "64M")
    code, err = run_cli(capsys, "compile", model, "--input-shape", "1,1,32,32", "--out", out, "--calib-samples", "4")
    assert code == 0 and (out / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("import", "import sys\nsys.exit(0)\n"),
        ("factory", "import sys\ndef make():\n    sys.exit(0)\n"),
        (
            "forward",
            "import sys, torch.nn as nn\nclass Net(nn.Module):\n    def forward(self, x):\n        sys.exit(3)\n"
            "def make():\n    return Net()\n",
        ),
    ],
)
def test_model_code_calling_sys_exit_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, source: str
) -> None:
    (tmp_path / "m.py").write_text(source)
    out = tmp_path / "o"
    code, err = run_cli(capsys, "compile", f"{tmp_path}/m.py:make", "--input-shape", SHAPE, "--out", out)
    assert code == 2, where  # it used to be 0, with nothing written
    assert "called sys.exit(" in err and "Nothing was written" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]


def test_run_refuses_a_folder_modified_since_compile(
    tmp_path: Path, compiled: Path, digit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "edited"
    folder.mkdir()
    for p in compiled.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    y0 = tmp_path / "y0.npy"
    assert run_cli(capsys, "run", folder, "--input", digit, "--output", y0)[0] == 0
    ir = folder / "model.ir.json"
    ir.write_text(json.dumps(json.loads(ir.read_text()), indent=4))  # same graph, other bytes
    code, err = run_cli(capsys, "run", folder, "--input", digit, "--output", tmp_path / "y1.npy")
    assert code == 2 and "model.ir.json was modified since compile" in err and "--allow-modified" in err
    y1 = tmp_path / "y1.npy"
    assert run_cli(capsys, "run", folder, "--input", digit, "--output", y1, "--allow-modified")[0] == 0
    assert np.array_equal(np.load(y0), np.load(y1))


def test_run_on_the_accelerator_refuses_a_modified_folder(tmp_path: Path, digit: Path) -> None:
    from dian.errors import OutputDirError

    folder = api.compile_model(MODEL, (1, 1, 8, 8), tmp_path / "acc", accel="tiny").out_dir
    ir = folder / "model.ir.json"
    ir.write_text(json.dumps(json.loads(ir.read_text()), indent=4))  # same graph, other bytes
    with pytest.raises(OutputDirError, match=r"model\.ir\.json was modified since compile"):  # before Verilator
        api.run_on(folder, np.load(digit), "rtl")


def test_out_of_memory_is_a_user_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, compiled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def exhausted(out_dir: object) -> str:
        raise MemoryError

    monkeypatch.setattr(api, "model_info", exhausted)
    code, err = run_cli(capsys, "info", compiled)
    assert code == 2 and "ran out of memory running `dian info`" in err and ENV in err
