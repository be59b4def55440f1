"""The held-out user models (benchmarks/user_models.py: MobileNetV3 and EfficientNet blocks, a
ShuffleNet unit, an FPN top-down path, a GAN generator and discriminator, a UNet, a 1-D audio net,
two heads, ... written with the ops users reach for), compiled from their file as a user would.

Each int8 output must be within 0.98 cosine of the float torch model's on held-out inputs (the
reference simulator, which the accelerator matches bit for bit); on `tiny` the machine simulator
must match the reference on every activation byte and the schedules' predicted cycles and DRAM
bytes exactly; in the slow tier, the Verilator model of `tiny` must match both, bit for bit and
cycle for cycle, on the ideal memory and on a random one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tool_helpers import needs

from dian import api
from dian.running import run_model_outputs
from scripts import BENCHMARKS, load_script

MODELS = load_script("user_models")
FILE = BENCHMARKS / "user_models.py"
MIN_COSINE = 0.98
NAMES = sorted(MODELS.MODELS)


def _inputs(name: str, batch: int) -> np.ndarray:
    shape = MODELS.SHAPES[name]
    return np.random.default_rng(1).standard_normal((batch, *shape[1:])).astype(np.float32)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_set_is_the_issues_size() -> None:
    assert len(NAMES) >= 21


@pytest.mark.parametrize("name", NAMES)
def test_int8_outputs_are_close_to_float(name: str, tmp_path: Path) -> None:
    x = _inputs(name, 8)
    api.compile_model(f"{FILE}:{name}", x.shape, tmp_path / name)
    got = list(run_model_outputs(tmp_path / name, x).values())
    with torch.no_grad():
        want = getattr(MODELS, name)()(torch.from_numpy(x))
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == tuple(w.shape), (name, i)
        cos = _cosine(g, w.numpy())
        assert cos >= MIN_COSINE, f"{name} output {i}: cosine {cos:.4f} < {MIN_COSINE}"


@pytest.mark.parametrize("name", NAMES)
def test_tiny_machine_is_exact(name: str, tmp_path: Path) -> None:
    api.compile_model(f"{FILE}:{name}", MODELS.SHAPES[name], tmp_path / name, accel="tiny", rtl=False)
    run = api.simulate_model(tmp_path / name, _inputs(name, 1))  # raises on any byte unlike sim/reference
    got, want = run.machine.counters, run.predicted
    assert (got.cycles, got.dram_bytes_read, got.dram_bytes_written) == (
        want.cycles,
        want.dram_bytes_read,
        want.dram_bytes_written,
    )
    assert run.tensors_checked >= len(run.graph.outputs)


@pytest.mark.slow
@needs("verilator")
@pytest.mark.parametrize("name", NAMES)
def test_tiny_rtl_is_exact(name: str, tmp_path: Path) -> None:
    api.compile_model(f"{FILE}:{name}", MODELS.SHAPES[name], tmp_path / name, accel="tiny")
    x = _inputs(name, 1)
    ideal = api.simulate_model(tmp_path / name, x, rtl=True)  # raises on any byte or counter unlike the machine's
    assert ideal.rtl is not None and ideal.rtl.counters.cycles == ideal.predicted.cycles
    slow = api.simulate_model(tmp_path / name, x, rtl=True, memory="random:3")
    assert slow.rtl is not None and slow.rtl.counters.cycles >= ideal.rtl.counters.cycles
