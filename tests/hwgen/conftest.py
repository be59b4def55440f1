"""Shared fixtures for tests/hwgen: one Verilator build of the ``tiny``
accelerator per session (build_harness also caches it by sha256)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dian.hwgen.presets import PRESETS


@pytest.fixture(scope="session")
def tiny_harness(tmp_path_factory) -> Path:
    from dian.hwgen.emit import TOP_NAME, emit_verilog
    from dian.hwgen.verilator_run import build_harness

    cfg = PRESETS["tiny"]
    folder = tmp_path_factory.mktemp("tiny_accel")
    files = emit_verilog(cfg, folder / "rtl")
    return build_harness(files, TOP_NAME, cfg.dram_bus_bits, cfg.dram_latency, folder / "build")
