"""Every test runs torch and numpy's BLAS on one thread: the tensors are
small, and on a shared 2-core machine OpenMP / OpenBLAS worker threads spin
against other processes, turning a millisecond kernel into a scheduler time
slice (measured: a 10 ms forward taking seconds)."""

from __future__ import annotations

from collections.abc import Iterator

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
