"""A tiny-accelerator LeNet output folder, compiled once per session under pytest's temporary
folder (/tmp: the board build must work there, where YoWASP tools see a private /tmp)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lenet_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dian import api

    out = tmp_path_factory.mktemp("board") / "lenet-tiny"
    api.compile_model("zoo:lenet", (1, 1, 8, 8), out, calib_samples=8, accel="tiny")
    return out


@pytest.fixture
def lenet_copy(lenet_tiny: Path, tmp_path: Path) -> Callable[[], Path]:
    """``lenet_copy()``: a fresh copy of the compiled folder, without any board build, to change or build into."""

    def copy() -> Path:
        dst = tmp_path / "lenet"
        shutil.copytree(lenet_tiny, dst, ignore=shutil.ignore_patterns("board"))
        return dst

    return copy
