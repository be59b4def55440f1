"""Small conv nets with pointwise activations (SiLU, Hardswish, GELU, PReLU, ...), end to end.

`dian compile` and `dian run` (the installed console script) on a net that chains several of
them, and the API both call on one net per function: the int8 output must be within 0.98
cosine of the float torch model's. With `--accel tiny` the tables run in the accelerator's LUT
stage: `dian simulate` must find the machine simulator bit-exact against the reference and the
schedules' cycles exact; `dian explore` gives its designs a LUT stage.

Calibration is dian's default (standard normal samples, seed 0); the test inputs are other
standard normal samples, the distribution the nets are calibrated for.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pointwise_cases import MODULES

from dian import api

DIAN = Path(sys.executable).parent / "dian"
SHAPE = (16, 3, 8, 8)  # 16 samples in one batch: `dian run` runs them all at once
MIN_COSINE = 0.98

MODEL_FILE = '''
import torch
import torch.nn as nn

ACTS = {
    "silu": nn.SiLU, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh, "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "leaky_relu": lambda: nn.LeakyReLU(0.1), "elu": nn.ELU, "mish": nn.Mish, "softplus": nn.Softplus,
    "prelu": lambda: nn.PReLU(8, 0.2), "prelu_single": nn.PReLU,
}


def net(*acts):
    """conv - act - conv - act - ... - 1x1 conv: the activations in turn, on pre-activations of
    standard deviation about 1.5 to 4 (weights scaled up), so that each works in its nonlinear range."""
    torch.manual_seed(0)
    layers, c = [], 3
    for i, name in enumerate(acts):
        conv = nn.Conv2d(c, 8, 3, padding=1, stride=1 + (i == 1))
        with torch.no_grad():
            conv.weight.mul_(3)
        layers += [conv, ACTS[name]()]
        c = 8
    return nn.Sequential(*layers, nn.Conv2d(8, 6, 1, bias=False))


def make(name):
    return net(name, name)


def make_mixed():
    return net("silu", "hardswish", "prelu", "gelu", "tanh")
'''
ACTS = tuple(MODULES)  # the functions of the tests against torch (tests/sim/pointwise_cases.py)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pointwise") / "nets.py"
    src = MODEL_FILE + "".join(f"\n\ndef make_{a}():\n    return make({a!r})\n" for a in ACTS)
    path.write_text(src)
    return path


def _inputs() -> np.ndarray:
    return np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32)


def _float_output(model_file: Path, factory: str, x: np.ndarray) -> np.ndarray:
    from dian.frontend import load_model

    module = load_model(f"{model_file}:{factory}").module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _dian(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert DIAN.is_file(), f"{DIAN} is missing: install dian into this venv (`make .venv/.stamp`)"
    return subprocess.run([str(DIAN), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_cli_compile_and_run_a_mixed_net(model_file: Path, tmp_path: Path) -> None:
    out, x_path, y_path = tmp_path / "mixed", tmp_path / "x.npy", tmp_path / "y.npy"
    shape = ",".join(map(str, SHAPE))
    proc = _dian("compile", f"{model_file}:make_mixed", "--input-shape", shape, "--out", out)
    assert proc.returncode == 0, proc.stderr
    for fn in ("silu", "hardswish", "prelu(8 slopes)", "gelu", "tanh"):
        assert re.search(rf"pointwise +{re.escape(fn)} ", proc.stdout), (fn, proc.stdout)
    x = _inputs()
    np.save(x_path, x)
    proc = _dian("run", out, "--input", x_path, "--output", y_path)
    assert proc.returncode == 0, proc.stderr
    y = np.load(y_path)
    cos = _cosine(y, _float_output(model_file, "make_mixed", x))
    print(f"mixed (silu, hardswish, prelu, gelu, tanh): cosine {cos:.5f}")
    assert cos >= MIN_COSINE


def test_cli_accel_runs_the_tables_on_the_machine(model_file: Path, tmp_path: Path) -> None:
    out, x_path = tmp_path / "accel", tmp_path / "x1.npy"
    proc = _dian("compile", f"{model_file}:make_mixed", "--input-shape", "1,3,8,8", "--out", out, "--accel", "tiny")
    assert proc.returncode == 0, proc.stderr
    # the conv before each activation reads nothing else: every table is fused into its conv
    for layer, fn in (("_0", "silu"), ("_2", "hardswish"), ("_4", "prelu(8 slopes)"), ("_6", "gelu"), ("_8", "tanh")):
        head = (out / "schedules" / f"{layer}.txt").read_text().splitlines()[1]
        assert "fused" in head and fn in head, (layer, head)
    np.save(x_path, _inputs()[:1])
    proc = _dian("simulate", out, "--input", x_path)
    assert proc.returncode == 0, proc.stderr
    assert "bit-exact" in proc.stdout and "exact: the schedules predicted" in proc.stdout, proc.stdout


@pytest.mark.parametrize("act", ACTS)
def test_int8_output_is_close_to_float(act: str, model_file: Path, tmp_path: Path) -> None:
    factory = f"make_{act}"
    api.compile_model(f"{model_file}:{factory}", SHAPE, tmp_path / act)
    x = _inputs()
    cos = _cosine(api.run_model(tmp_path / act, x), _float_output(model_file, factory, x))
    print(f"{act}: cosine {cos:.5f}")
    assert cos >= MIN_COSINE, f"{act}: cosine {cos:.4f} < {MIN_COSINE}"


def test_explore_gives_its_designs_a_lut_stage() -> None:
    from dian.frontend import lower
    from dian.hwgen.targets import Target
    from dian.search.explore import explore

    calib = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    _, g = lower(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Hardswish()), (1, 3, 8, 8), calib, "m")
    designs = explore(g, Target.ECP5_85K, "latency", 3)
    fits = [d for d in designs if d.fits]
    assert fits and all(d.cfg.lut_tables == 1 for d in fits)
