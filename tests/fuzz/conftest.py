"""Session fixtures of the read-side fuzzer: the compiled folder it damages (fuzz_folder.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fuzz_folder import SHAPE, plant_records


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``lenet-tiny/`` (compiled once per session) and ``x.npy``, a digit."""
    from dian import api
    from dian.frontend.zoo.digits import load_split

    root = tmp_path_factory.mktemp("fuzz-pristine")
    api.compile_model("zoo:lenet", SHAPE, root / "lenet-tiny", accel="tiny", rtl=False)
    plant_records(root / "lenet-tiny")
    np.save(root / "x.npy", np.asarray(load_split().x_test[0], dtype=np.float32).reshape(SHAPE))
    return root


@pytest.fixture(scope="session")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each fuzz example gets a fresh copy of the pristine folder (hypothesis runs many
    examples in one test call, so a function-scoped tmp_path would be shared between them)."""
    return tmp_path_factory.mktemp("fuzz-sandboxes")


@pytest.fixture(scope="session")
def pristine_rtl(tmp_path_factory: pytest.TempPathFactory, pristine: Path) -> Path:
    """As ``pristine``, with rtl/ (for the slow tier's `simulate --rtl`, which writes DIR/build/)."""
    import shutil

    from dian import api

    root = tmp_path_factory.mktemp("fuzz-pristine-rtl")
    api.compile_model("zoo:lenet", SHAPE, root / "lenet-tiny", accel="tiny", rtl=True)
    shutil.copy(pristine / "x.npy", root / "x.npy")
    return root
