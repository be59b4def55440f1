"""`dian compile` / `dian explore` calibration options, in-process through dian.cli.main: where the
samples come from (recorded in the manifest and printed by `dian info`), the warning for synthetic
noise, user errors as one paragraph with exit 2, and the default compile unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dian import api, cli
from dian.frontend import calibrate, calibration_samples, load_model, quantize, trace
from dian.frontend.zoo.digits import load_split
from dian.ir import graph_to_json

NET = """
import torch
import torch.nn as nn

INPUT_SHAPE = (1, 2, 4, 4)


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4))
"""
WARNING = "dian: warning: calibrating on synthetic N(0,1) noise; give --calib-data for real accuracy"


@pytest.fixture
def model_file(tmp_path: Path) -> str:
    (tmp_path / "net.py").write_text(NET)
    return f"{tmp_path / 'net.py'}:net"


def _manifest(folder: Path) -> dict[str, object]:
    return dict(json.loads((folder / "manifest.json").read_text()))


def _info(folder: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["info", str(folder)]) == 0
    return capsys.readouterr().out


def test_synthetic_default_warns_and_is_recorded(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["compile", model_file, "--out", str(tmp_path / "o"), "--seed", "3"]) == 0
    assert WARNING in capsys.readouterr().err
    m = _manifest(tmp_path / "o")
    assert (m["calib_source"], m["calib_samples"], m["calib_method"]) == ("synthetic normal(seed=3)", 64, "max")
    assert "calib_percentile" not in m and "qat_scales" not in m
    info = _info(tmp_path / "o", capsys)
    assert "calib_source         synthetic normal(seed=3)" in info and "calib_method         max" in info


def test_a_zoo_model_with_its_own_data_does_not_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", "zoo:lenet", "--out", str(tmp_path / "o"), "--calib-samples", "8"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert _manifest(tmp_path / "o")["calib_source"] == "model hook"


def test_calib_data_file_and_folder(tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = np.random.default_rng(0).uniform(-1, 1, (6, 2, 4, 4)).astype(np.float32)
    np.save(tmp_path / "cal.npy", data)
    out = tmp_path / "f"
    args = ["compile", model_file, "--out", str(out), "--calib-data", str(tmp_path / "cal.npy")]
    assert cli.main([*args, "--calib-method", "percentile", "--calib-percentile", "99.5"]) == 0
    assert "warning" not in capsys.readouterr().err
    m = _manifest(out)
    assert m["calib_source"] == f"file:{tmp_path / 'cal.npy'}" and m["calib_samples"] == 6
    assert (m["calib_method"], m["calib_percentile"]) == ("percentile", 99.5)
    assert "calib_percentile     99.5" in _info(out, capsys)
    # the input's scale is the 99.5th percentile of |data| (6 x 32 values: within a histogram bin)
    graph = api.load_compiled(out)
    x_scale = graph.tensors[graph.inputs[0]].quant.scale[0]
    v = np.sort(np.abs(data).ravel())
    k = 0.995 * v.size
    lo, hi = v[int(k) - 1], v[min(int(np.ceil(k)), v.size - 1)]
    assert lo - 2 * v[-1] / 4096 <= 127 * x_scale <= hi + 2 * v[-1] / 4096

    folder = tmp_path / "cal"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"s{i}.npy", data[2 * i : 2 * i + 2])
    assert cli.main(["compile", model_file, "--out", str(tmp_path / "d"), "--calib-data", str(folder)]) == 0
    assert _manifest(tmp_path / "d")["calib_source"] == f"folder:{folder} (3 files)"
    # the same samples, file or folder: the same graph
    same = ["compile", model_file, "--out", str(tmp_path / "e"), "--calib-data", str(tmp_path / "cal.npy")]
    assert cli.main(same) == 0
    assert (tmp_path / "d" / "model.ir.json").read_bytes() == (tmp_path / "e" / "model.ir.json").read_bytes()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--calib-percentile", "99"], "belongs to the percentile method"),
        (["--calib-data", "missing.npy"], "--calib-data missing.npy does not exist"),
        (["--calib-data", "{bad}"], "holds 1 NaN or infinite value"),
        (["--calib-data", "{wrong}"], r"has shape [3, 4, 4]; the model's input takes samples of shape [2,4,4]"),
        (["--calib-data", "{empty}"], "is an empty folder"),
        (["--calib-data", "{text}"], "not .npy files (notes.txt)"),
        (["--calib-data", "{tiny}", "--calib-samples", "5"], "holds 2 sample(s) but --calib-samples asks for 5"),
    ],
)
def test_user_errors(
    tmp_path: Path, model_file: str, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    bad = np.zeros((2, 2, 4, 4), np.float32)
    bad[0, 0, 0, 0] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    np.save(tmp_path / "wrong.npy", np.zeros((3, 4, 4), np.float32))
    np.save(tmp_path / "tiny.npy", np.zeros((2, 2, 4, 4), np.float32))
    (tmp_path / "empty").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "notes.txt").write_text("x")
    paths = {k: tmp_path / f"{k}.npy" for k in ("bad", "wrong", "tiny")} | {
        "empty": tmp_path / "empty",
        "text": tmp_path / "text",
    }
    extra = [e.format(**paths) for e in extra]
    assert cli.main(["compile", model_file, "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dian: error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--calib-method", "entropy"], ["--calib-percentile", "0"], ["--calib-samples", "0"]])
def test_bad_values_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["compile", "zoo:lenet", "--out", "x", *args])
    assert e.value.code == 2 and "Traceback" not in capsys.readouterr().err


def test_explore_takes_the_same_calibration_options() -> None:
    args = cli.build_parser().parse_args(
        ["explore", "zoo:lenet", "--target", "ecp5-25k", "--out", "o", "--calib-data", "c.npy", "--calib-method", "mse"]
    )
    assert (args.calib_data, args.calib_method, args.calib_samples, args.calib_percentile) == (
        "c.npy",
        "mse",
        None,
        None,
    )


def test_the_default_compile_is_the_pipeline_as_it_was(tmp_path: Path) -> None:
    """Default options: trace, max-abs calibration on the model's 64 hook samples drawn with the
    seed, quantize: byte for byte the graph those steps make by hand."""
    out = api.compile_model("zoo:lenet", None, tmp_path / "o", seed=2).out_dir
    loaded = load_model("zoo:lenet")
    g = trace(loaded.module, (1, 1, 8, 8), "lenet")
    by_hand = quantize(g, calibrate(g, calibration_samples(loaded, (1, 1, 8, 8), 64, 2)))
    assert (out / "model.ir.json").read_text() == graph_to_json(by_hand)
    assert (out / "model.float.ir.json").read_text() == graph_to_json(g)
    assert _manifest(out)["calib_samples"] == 64


def test_max_abs_of_user_data_sets_the_input_scale(tmp_path: Path) -> None:
    """Held-out digits as --calib-data: the input's scale is their max |x| / 127 (1/127: pixels in [0, 1])."""
    x = np.array(load_split().x_test[:50])
    np.save(tmp_path / "digits.npy", x)
    res = api.compile_model("zoo:lenet", None, tmp_path / "o", calib_data=tmp_path / "digits.npy")
    assert res.int_graph.tensors["x"].quant.scale[0] == pytest.approx(float(np.abs(x).max()) / 127, rel=1e-7)
    assert _manifest(res.out_dir)["calib_samples"] == 50


@pytest.mark.parametrize("key, value", [("calib_percentile", "high"), ("calib_source", 7), ("qat_scales", 1.5)])
def test_a_damaged_calibration_record_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: object
) -> None:
    out = api.compile_model("zoo:lenet", None, tmp_path / "o", calib_samples=4).out_dir
    m = _manifest(out) | {key: value}
    (out / "manifest.json").write_text(json.dumps(m))
    assert cli.main(["info", str(out)]) == 2
    assert f"field '{key}' must be" in capsys.readouterr().err


def test_an_onnx_model_calibrates_on_calib_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ONNX file has no hook: --calib-data is how its own data reaches the scales."""
    from onnx_helpers import MODELS, export_onnx

    factory, shape = MODELS["conv_bn_pool_linear"]
    model = export_onnx(factory(), (1, *shape[1:]), tmp_path / "net.onnx", dynamo=False)
    data = np.random.default_rng(6).uniform(0, 2, (5, *shape[1:])).astype(np.float32)
    np.save(tmp_path / "cal.npy", data)
    assert (
        cli.main(["compile", str(model), "--out", str(tmp_path / "o"), "--calib-data", str(tmp_path / "cal.npy")]) == 0
    )
    assert "warning" not in capsys.readouterr().err
    graph = api.load_compiled(tmp_path / "o")
    assert graph.tensors[graph.inputs[0]].quant.scale[0] == pytest.approx(float(data.max()) / 127, rel=1e-6)
    assert _manifest(tmp_path / "o")["calib_source"] == f"file:{tmp_path / 'cal.npy'}"
