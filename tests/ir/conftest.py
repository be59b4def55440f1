"""IR tests run torch and numpy's BLAS on one thread: torch only computes
reference output shapes of tiny tensors here, and on a shared machine its
worker threads spin against other processes."""

from __future__ import annotations

from typing import Iterator

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
