"""A config with a fusion buffer end to end, in subprocesses: `dian compile --accel fb.json
--no-rtl` fuses MobileNetV2's blocks (fewer activation slots, fewer DRAM bytes written),
`dian simulate` is bit-exact against sim/reference and the schedules (a fused block's prediction
on its depthwise layer) predict its counters exactly; every RTL path refuses the config."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from test_cli import dian, user_error

from dian.hwgen.accel_config import BufferConfig, validate
from dian.hwgen.presets import PRESETS


def test_compile_and_simulate_with_fbuf_and_every_rtl_path_refuses(tmp_path: Path) -> None:
    cfg = validate(dataclasses.replace(PRESETS["default"], name="default-fb", fbuf=BufferConfig(32768)))
    (tmp_path / "fb.json").write_text(cfg.to_json())
    model, shape = "zoo:mobilenetv2", "1,3,64,64"
    err = user_error(
        "compile", model, "--input-shape", shape, "--out", tmp_path / "rtl", "--accel", tmp_path / "fb.json"
    )
    assert "fbuf.bytes = 32768" in err and "--no-rtl" in err and not (tmp_path / "rtl").exists()
    out = tmp_path / "fused"
    dian("compile", model, "--input-shape", shape, "--out", out, "--accel", tmp_path / "fb.json", "--no-rtl")
    plain = tmp_path / "plain"
    dian("compile", model, "--input-shape", shape, "--out", plain, "--accel", "default", "--no-rtl")
    slots = {n: len(json.loads((d / "image.json").read_text())["tensors"]) for n, d in (("f", out), ("p", plain))}
    assert slots["p"] - slots["f"] == 17 + 10  # the DW outputs and the residual blocks' projections
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    proc = dian("simulate", out, "--input", tmp_path / "x.npy")
    assert "bit-exact: every byte" in proc.stdout
    assert "exact: the schedules predicted the cycles and DRAM bytes the machine simulator counts" in proc.stdout
    header = (out / "schedules" / "features_3_conv_1_0.txt").read_text().splitlines()[1]
    assert header.startswith("  fused block features_3_conv_1_0+features_3_conv_2+add through FBUF")
    for args in (("simulate", out, "--input", tmp_path / "x.npy", "--rtl"), ("synth", out)):
        assert "fbuf.bytes = 32768" in user_error(*args)


def test_explore_prices_a_config_file_with_fbuf(tmp_path: Path) -> None:
    """`dian explore --price fb.json`: the file's design is priced beside the trials, listed as priced
    and not chosen (the RTL cannot build its FBUF); the chosen design has none."""
    cfg = validate(dataclasses.replace(PRESETS["small"], name="small-fb", fbuf=BufferConfig(8192)))
    (tmp_path / "fb.json").write_text(cfg.to_json())
    out = tmp_path / "ex"
    args = ("--input-shape", "1,1,8,8", "--target", "ecp5-25k", "--trials", "6", "--seed", "1", "--calib-samples", "8")
    dian("explore", "zoo:lenet", *args, "--no-rtl", "--price", tmp_path / "fb.json", "--out", out)
    designs = json.loads((out / "explore" / "designs.json").read_text())
    given = designs[-1]
    assert given["config"]["name"] == "small-fb" and not given["fits"] and given["cycles"] > 0
    assert "fbuf" not in json.loads((out / "accel.json").read_text())
    assert "- trial 6 (small-fb, FBUF 8 KiB):" in (out / "explore" / "pareto.md").read_text()
