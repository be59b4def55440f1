"""dian.api with the frontend replaced by a hand-built one-layer model.

The output folder is written atomically (all or nothing, previous folder kept
on failure), is byte-identical for the same inputs, and refuses to overwrite
folders that are not dian's. run_model's numbers are computed by hand below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import dian.frontend
import dian.outdir
from dian import api
from dian.errors import InputShapeError, IRFormatError, OutputDirError, UnsupportedOpError
from dian.ir import DType, Graph, Linear, QuantParams, Requant, Tensor

S_IN, S_W, S_OUT = 0.5, (0.02, 0.04), 0.05
W = np.array([[1, 2, 3, 4], [-1, 0, 1, 0]], dtype=np.int8)
B = np.array([5, -3], dtype=np.int32)


def _tiny_graphs() -> tuple[Graph, Graph]:
    """y = x W^T + b on [1, 4] inputs, as a float graph and an int8 graph."""
    fw = W.astype(np.float32) * np.array(S_W, dtype=np.float32)[:, None]
    fb = B.astype(np.float32) * np.array([S_IN * s for s in S_W], dtype=np.float32)
    f32 = DType.FLOAT32
    float_graph = Graph.build(
        "tiny",
        [
            Tensor("x", (1, 4), f32),
            Tensor("fc.weight", (2, 4), f32),
            Tensor("fc.bias", (2,), f32),
            Tensor("y", (1, 2), f32),
        ],
        {"fc.weight": fw, "fc.bias": fb},
        [Linear("fc", ("x",), "y", weight="fc.weight", bias="fc.bias")],
        ["x"],
        ["y"],
    )
    shift = 31
    mult = tuple(round(S_IN * s / S_OUT * 2**shift) for s in S_W)
    int_graph = Graph.build(
        "tiny",
        [
            Tensor("x", (1, 4), DType.INT8, QuantParams.per_tensor(S_IN)),
            Tensor("fc.weight", (2, 4), DType.INT8, QuantParams(S_W, 0)),
            Tensor("fc.bias", (2,), DType.INT32),
            Tensor("y", (1, 2), DType.INT8, QuantParams.per_tensor(S_OUT)),
        ],
        {"fc.weight": W, "fc.bias": B},
        [
            Linear(
                "fc",
                ("x",),
                "y",
                weight="fc.weight",
                bias="fc.bias",
                requant=Requant(mult, (shift, shift)),
                out_min=-128,
                out_max=127,
            )
        ],
        ["x"],
        ["y"],
    )
    return float_graph, int_graph


@pytest.fixture
def fake_frontend(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    calls = SimpleNamespace(lower=0)
    loaded = SimpleNamespace(
        name="tiny", module=object(), calibration_fn=None, default_input_shape=(1, 4), source_sha256="ab" * 32
    )

    def calibration_set(
        ld: object, shape: tuple[int, ...], n: int | None, seed: int, data: str | None
    ) -> dian.frontend.CalibSet:
        samples = np.random.default_rng(seed).standard_normal((n or 64, *shape[1:])).astype(np.float32)
        return dian.frontend.CalibSet(samples, f"synthetic normal(seed={seed})", synthetic=True)

    def lower_model(module: object, shape: tuple[int, ...], calib: np.ndarray, name: str, *args: object) -> object:
        calls.lower += 1
        return dian.frontend.Lowered(*_tiny_graphs())

    monkeypatch.setattr(dian.frontend, "load_model", lambda source: loaded, raising=False)
    monkeypatch.setattr(dian.frontend, "calibration_set", calibration_set, raising=False)
    monkeypatch.setattr(dian.frontend, "lower_model", lower_model, raising=False)
    return calls


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_compile_writes_a_complete_folder(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    res = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", calib_samples=8, seed=3)
    assert res.out_dir == (tmp_path / "out").absolute()
    assert sorted(p.name for p in res.out_dir.iterdir()) == [
        "manifest.json",
        "model.float.ir.json",
        "model.ir.json",
        "summary.txt",
    ]
    m = json.loads((res.out_dir / "manifest.json").read_text())
    assert m["model"] == "zoo:tiny" and m["model_sha256"] == "ab" * 32
    assert (m["seed"], m["calib_samples"], m["input_shape"]) == (3, 8, [1, 4])
    assert m["format"] == "dian.output" and m["dian_version"] == dian.__version__
    assert len(m["calibration_sha256"]) == 64 and set(m["files"]) == {
        "model.ir.json",
        "model.float.ir.json",
        "summary.txt",
    }
    summary = (res.out_dir / "summary.txt").read_text()
    assert "input   x int8 1x4, scale 0.5" in summary and "output  y int8 1x2, scale 0.05" in summary
    assert _leftovers(tmp_path) == []


def test_same_inputs_give_identical_bytes_and_seed_matters(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    a = _snapshot(api.compile_model("zoo:tiny", (1, 4), tmp_path / "a", seed=1).out_dir)
    b = _snapshot(api.compile_model("zoo:tiny", (1, 4), tmp_path / "b", seed=1).out_dir)
    c = _snapshot(api.compile_model("zoo:tiny", (1, 4), tmp_path / "c", seed=2).out_dir)
    assert a == b
    assert a["manifest.json"] != c["manifest.json"]  # seed and calibration hash differ


def test_failure_while_lowering_leaves_nothing(
    tmp_path: Path, fake_frontend: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise UnsupportedOpError("GELU is not supported")

    monkeypatch.setattr(dian.frontend, "lower_model", boom)
    with pytest.raises(UnsupportedOpError):
        api.compile_model("zoo:tiny", (1, 4), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_leaves_nothing(
    tmp_path: Path, fake_frontend: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = Path.write_text
    written: list[str] = []

    def failing_write(self: Path, text: str, *a: object, **k: object) -> int:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(self.name)
        return real_write(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", failing_write)
    with pytest.raises(OutputDirError, match="No space left on device"):  # a user error, not a traceback
        api.compile_model("zoo:tiny", (1, 4), tmp_path / "out")
    assert len(written) == 2  # the failure really came mid-folder
    assert list(tmp_path.iterdir()) == []


def test_failed_recompile_keeps_the_previous_folder(
    tmp_path: Path, fake_frontend: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", seed=1).out_dir
    before = _snapshot(out)
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OutputDirError, match="I/O error"):
        api.compile_model("zoo:tiny", (1, 4), out, seed=2)
    assert _snapshot(out) == before and _leftovers(tmp_path) == []


def test_failed_final_rename_puts_the_previous_folder_back(
    tmp_path: Path, fake_frontend: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", seed=1).out_dir
    before = _snapshot(out)
    real_replace = dian.outdir.os.replace

    def replace(src: Path, dst: Path) -> None:
        if Path(src).name.startswith(".out.tmp-") and Path(dst).name == "out":  # the new folder moving in
            raise OSError(5, "I/O error")
        real_replace(src, dst)

    monkeypatch.setattr(dian.outdir.os, "replace", replace)
    with pytest.raises(OSError):
        api.compile_model("zoo:tiny", (1, 4), out, seed=2)
    assert _snapshot(out) == before and _leftovers(tmp_path) == []


def test_recompile_replaces_a_dian_folder(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", seed=1).out_dir
    (out / "build" / "verilator").mkdir(parents=True)  # dian's rebuildable cache goes with the old folder
    (out / "build" / "verilator" / "verilator.log").write_text("a cache")
    api.compile_model("zoo:tiny", (1, 4), out, seed=2)
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2
    assert not (out / "build").exists() and _leftovers(tmp_path) == []


def test_empty_folder_is_used(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    (tmp_path / "out").mkdir()
    api.compile_model("zoo:tiny", (1, 4), tmp_path / "out")
    assert (tmp_path / "out" / "model.ir.json").is_file()


@pytest.mark.parametrize("kind", ["folder", "file", "fake-manifest"])
def test_refuses_to_replace_what_is_not_a_dian_folder(
    tmp_path: Path, fake_frontend: SimpleNamespace, kind: str
) -> None:
    target = tmp_path / "precious"
    if kind == "file":
        target.write_text("keep me")
    else:
        target.mkdir()
        (target / ("manifest.json" if kind == "fake-manifest" else "notes.txt")).write_text('{"format": "other"}')
    before = target.read_bytes() if target.is_file() else _snapshot(target)
    with pytest.raises(OutputDirError, match="precious"):
        api.compile_model("zoo:tiny", (1, 4), target)
    assert fake_frontend.lower == 0  # refused before doing any work
    assert (target.read_bytes() if target.is_file() else _snapshot(target)) == before


def test_bad_arguments_are_user_errors(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    with pytest.raises(InputShapeError, match="positive integers"):
        api.compile_model("zoo:tiny", (1, 0), tmp_path / "out")
    with pytest.raises(dian.DianError, match="at least 1 sample"):
        api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", calib_samples=0)
    with pytest.raises(OutputDirError, match="parent folder"):
        api.compile_model("zoo:tiny", (1, 4), tmp_path / "no" / "such" / "out")


def test_run_model_matches_hand_computation(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out").out_dir
    # x / 0.5 = [10, -5, 1.5, 0.5] -> round half even -> [10, -5, 2, 0]
    # acc = W q + b = [10-10+6+0+5, -10+2-3] = [11, -11]
    # requant by 0.5*0.02/0.05 = 0.2 and 0.4: [2.2, -4.4] -> [2, -4]; times 0.05 -> [0.1, -0.2]
    y = api.run_model(out, np.array([[5.0, -2.5, 0.75, 0.25]], dtype=np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.array([[0.1, -0.2]], dtype=np.float32))


def test_run_model_rejects_wrong_input(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out").out_dir
    with pytest.raises(InputShapeError, match=r"\[1, 5\].*\[1, 4\]"):
        api.run_model(out, np.zeros((1, 5), np.float32))
    with pytest.raises(InputShapeError, match="NaN"):
        api.run_model(out, np.full((1, 4), np.nan, np.float32))


def test_info_and_damaged_folders(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", seed=5).out_dir
    info = api.model_info(out)
    assert "zoo:tiny" in info and re.search(r"seed +5\n", info) and re.search(r"model\.ir\.json +as compiled", info)
    assert "graph tiny (int8)" in info

    with pytest.raises(OutputDirError, match="not a folder"):
        api.model_info(tmp_path / "missing")
    (out / "summary.txt").write_text("edited by hand\n")
    assert re.search(r"summary\.txt +MODIFIED since compile", api.model_info(out))
    (out / "model.ir.json").write_text('{"format": "dian.ir", "version": 1, "tensors": [')
    with pytest.raises(IRFormatError, match=r"model\.ir\.json"):
        api.model_info(out)
    with pytest.raises(IRFormatError):
        api.run_model(out, np.zeros((1, 4), np.float32))
    (out / "summary.txt").unlink()
    with pytest.raises(OutputDirError, match=r"incomplete: summary\.txt"):
        api.model_info(out)
