"""Every test runs torch and numpy's BLAS on one thread: the tensors are
small, and on a shared 2-core machine OpenMP / OpenBLAS worker threads spin
against other processes, turning a millisecond kernel into a scheduler time
slice (measured: a 10 ms forward taking seconds).

Verilator builds of accelerator configs are session fixtures, each built once
per session (build_harness also caches a build by sha256), shared by
tests/hwgen and tests/dian."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_threaded() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def accel_harness(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``accel_harness(cfg)``: the Verilator model of the AccelConfig ``cfg``, built on first use."""
    from rtl_check import build_accel

    built: dict[object, Path] = {}

    def get(cfg) -> Path:  # type: ignore[no-untyped-def]
        if cfg not in built:
            built[cfg] = build_accel(cfg, tmp_path_factory.mktemp(f"accel_{cfg.name}"))
        return built[cfg]

    return get


@pytest.fixture(scope="session")
def tiny_harness(accel_harness: Callable[..., Path]) -> Path:
    from dian.hwgen.presets import PRESETS

    return accel_harness(PRESETS["tiny"])
