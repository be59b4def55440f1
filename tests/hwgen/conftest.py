"""Shared fixtures for tests/hwgen: Verilator builds of accelerator configs,
each built once per session (build_harness also caches a build by sha256)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rtl_check import build_accel

from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.presets import PRESETS


@pytest.fixture(scope="session")
def accel_harness(tmp_path_factory) -> Callable[[AccelConfig], Path]:
    """``accel_harness(cfg)``: the Verilator model of ``cfg``, built on first use."""
    built: dict[AccelConfig, Path] = {}

    def get(cfg: AccelConfig) -> Path:
        if cfg not in built:
            built[cfg] = build_accel(cfg, tmp_path_factory.mktemp(f"accel_{cfg.name}"))
        return built[cfg]

    return get


@pytest.fixture(scope="session")
def tiny_harness(accel_harness) -> Path:
    return accel_harness(PRESETS["tiny"])
