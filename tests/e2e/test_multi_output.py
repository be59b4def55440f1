"""A model with two outputs (a ShuffleNet-style channel split: a linear head on one half, the
other half returned as is), end to end through the installed `dian` script.

* `dian run --output Y.npy` refuses before any work and names the outputs; `--output Y.npz`
  writes every output by name, each equal to the reference simulator's int8 output of the
  compiled IR times that output's own scale, in float64 (the documented q * scale; computed here
  from the IR file).
* With `--accel tiny`, `dian simulate --output Y.npz` writes the machine simulator's outputs:
  equal to `dian run`'s on the same folder (two simulators, one answer).
* The float outputs are close to the torch model's (cosine >= 0.98 each).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from dian.ir import load_graph
from dian.sim.reference import quantize_input, run_graph

DIAN = Path(sys.executable).parent / "dian"
SHAPE = (2, 3, 6, 6)

MODEL_FILE = """
import torch
import torch.nn as nn


class Split(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.fc = nn.Conv2d(3, 12, 3, padding=1), nn.Linear(6 * 6 * 6, 5)

    def forward(self, x):
        a, b = torch.relu(self.c(x)).chunk(2, dim=1)
        return self.fc(a.flatten(1)), b


def make():
    torch.manual_seed(0)
    return Split()
"""


def _dian(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DIAN), *args], capture_output=True, text=True, timeout=600)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_two_outputs_run_and_simulate(tmp_path: Path) -> None:
    model = tmp_path / "split.py"
    model.write_text(MODEL_FILE)
    x = np.random.default_rng(3).standard_normal(SHAPE).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out, acc = tmp_path / "out", tmp_path / "acc"
    for folder, extra in ((out, []), (acc, ["--accel", "tiny"])):
        r = _dian("compile", f"{model}:make", "--input-shape", ",".join(map(str, SHAPE)), "--out", str(folder), *extra)
        assert r.returncode == 0, r.stderr

    r = _dian("run", str(out), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"))
    assert r.returncode == 2 and "has 2 outputs (fc, getitem_1)" in r.stderr and "--output NAME.npz" in r.stderr
    assert not (tmp_path / "y.npy").exists()

    r = _dian("run", str(out), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npz"))
    assert r.returncode == 0, r.stderr
    got = np.load(tmp_path / "y.npz", allow_pickle=False)
    assert sorted(got.files) == ["fc", "getitem_1"]
    g = load_graph(out / "model.ir.json")
    ref = run_graph(g, {g.inputs[0]: quantize_input(x, g.tensors[g.inputs[0]].quant.scale[0])})
    for name in g.outputs:
        want = (ref[name].astype(np.float64) * g.tensors[name].quant.scale[0]).astype(np.float32)  # q * scale
        assert got[name].dtype == np.float32 and np.array_equal(got[name], want), name

    with torch.no_grad():
        ns: dict[str, object] = {}
        exec(compile(MODEL_FILE, "split.py", "exec"), ns)
        torch_out = ns["make"]().eval()(torch.from_numpy(x))  # type: ignore[operator]
    for name, t in zip(("fc", "getitem_1"), torch_out, strict=True):
        assert _cosine(got[name], t.numpy()) >= 0.98, name

    r = _dian("run", str(acc), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "ya.npz"))
    assert r.returncode == 0, r.stderr
    r = _dian("simulate", str(acc), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "ys.npz"))
    assert r.returncode == 0 and "bit-exact" in r.stdout, r.stderr
    on_ref, on_machine = np.load(tmp_path / "ya.npz"), np.load(tmp_path / "ys.npz")
    for name in ("fc", "getitem_1"):
        assert np.array_equal(on_ref[name], on_machine[name]), name
