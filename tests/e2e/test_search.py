"""`dian search` end to end with a small budget, in a subprocess: co-search on digits, the
derived network fine-tuned, compiled for the chosen accelerator and co-simulated in
Verilator against the reference simulator (the run stops on any byte or cycle difference).

Independent checks: the RTL's cycles against the schedules' predictions and the cost
tables; the written model file recompiled on its own to the same integer graph; the int8
accuracy recomputed from the compiled folder with `dian run`'s API on the test images.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_cli import DIAN, user_error

from dian import api

ARGS = (
    "--dataset",
    "digits",
    "--target",
    "ecp5-85k",
    "--epochs",
    "2",
    "--warmup-epochs",
    "1",
    "--budget",
    "3",
    "--retrain-epochs",
    "3",
    "--cosim-images",
    "1",
    "--quick-hardware",
    "--no-synth",
)


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e-search") / "digits"
    proc = subprocess.run([str(DIAN), "search", *ARGS, "--out", str(out)], capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr
    assert "co-simulation 1/1: RTL = machine = reference" in proc.stderr
    assert "| cycles per image (RTL in Verilator) |" in proc.stdout
    return out


def test_search_ends_in_cosimulated_rtl(searched: Path) -> None:
    s = json.loads((searched / "search.json").read_text())
    assert s["epochs_run"] == 2
    rtl = s["cycles"]["rtl"]
    assert rtl == s["cosim"][0]["cycles_machine"] == s["cycles"]["schedules"]
    # The tables price each layer at chunk 0: a chunk fetch may move by a bus beat per layer.
    layers = len(json.loads((searched / "compiled" / "manifest.json").read_text())["accel"]["layers"])
    assert abs(s["cycles"]["tables"] - rtl) <= 2 * layers
    assert s["fps"] == pytest.approx(s["fps_clock_mhz"] * 1e6 / rtl)
    for f in (
        "report.md",
        "plots/search.png",
        "plots/front.png",
        "plots/hardware.png",
        "plots/layers.png",
        "net/searched_net.py",
        "net/searched_net.npz",
        "net/accel.json",
        "compiled/rtl/dian_accel.v",
        "search/checkpoint.zip",
        "search/log.jsonl",
    ):
        assert (searched / f).is_file(), f
    assert (searched / "plots/front.png").read_bytes()[:4] == b"\x89PNG"


def test_model_file_recompiles_to_the_same_graph_and_accuracy(searched: Path, tmp_path: Path) -> None:
    s = json.loads((searched / "search.json").read_text())
    again = api.compile_model(
        f"{searched}/net/searched_net.py:searched_net",
        None,
        tmp_path / "again",
        seed=s["settings"]["seed"],
        accel=searched / "net" / "accel.json",
        rtl=False,
    )
    assert (again.out_dir / "model.ir.json").read_text() == (searched / "compiled" / "model.ir.json").read_text()
    from dian.nas.data import load_dataset

    data = load_dataset("digits")
    n = 60  # a sample of the test split: the report's figure is over all 450
    hits = sum(
        int(np.argmax(api.run_model(again.out_dir, np.array(data.x_test[i : i + 1]))) == data.y_test[i])
        for i in range(n)
    )
    assert abs(hits / n - s["accuracy"]["int8"]) < 0.2
    assert s["accuracy"]["int8"] > 0.3  # well above chance (10 %) even after 2 epochs


def test_search_errors(searched: Path, tmp_path: Path) -> None:
    err = user_error("search", *ARGS, "--out", searched)
    assert "not an empty folder" in err and "--resume" in err
    err = user_error("search", *ARGS, "--out", tmp_path / "new", "--resume")
    assert "checkpoint.zip" in err
    err = user_error("search", *ARGS, "--out", tmp_path / "x", "--warmup-epochs", "-1")
    assert "warm-up" in err
