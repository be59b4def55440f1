"""Frontend tests run torch single-threaded: their tensors are tiny (batch 1
shape propagation, 8x8 digits), and on a loaded machine torch's OpenMP
threads spin against other processes, making a 10 ms forward take seconds."""

from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_torch() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
