"""Shared by the nas tests: the architectures they exercise and derived nets trained once per session."""

from __future__ import annotations

import functools

import numpy as np
import torch.nn as nn

from dian.nas.data import load_dataset
from dian.nas.space import SPACES, Arch
from dian.nas.supernet import derive
from dian.nas.train import train

#: Digits architectures covering the corners of the space (ops index OPS: 0 k3e1, 1 k3e3, 2 k3e6,
#: 3 k5e1, 4 k5e3, 5 k5e6, 6 skip).
ARCHS: dict[str, Arch] = {
    "narrowest_k3e1_skips": Arch((0, 6, 0, 6, 0, 6), (0, 0, 0)),
    "widest_k5e6": Arch((5, 5, 5, 5, 5, 5), (2, 2, 2)),
    "mixed_k5e1": Arch((3, 6, 1, 4, 2, 6), (1, 2, 0)),
    "typical": Arch((1, 6, 4, 1, 4, 6), (1, 1, 1)),
}

#: (training samples, epochs, learning rate) per architecture, the samples first of the digits training split:
#: decisive logits (about 95% test accuracy) within a few seconds each. The narrowest net learns
#: slowest and costs least.
RECIPES = {"narrowest_k3e1_skips": (1347, 5, 1e-2)}
DEFAULT_RECIPE = (600, 3, 3e-3)


@functools.cache
def trained(name: str) -> nn.Module:
    """ARCHS[name] trained on digits with batches of 32 (once per session; do not modify)."""
    ds = load_dataset("digits")
    n, epochs, lr = RECIPES.get(name, DEFAULT_RECIPE)
    return train(derive(SPACES["digits"], ARCHS[name]), ds.x_train[:n], ds.y_train[:n], epochs, 0, batch_size=32, lr=lr)


def rows(a: np.ndarray) -> list[bytes]:
    """Each sample of ``a`` as bytes, to compare data sets as multisets."""
    return [r.tobytes() for r in np.ascontiguousarray(a).reshape(len(a), -1)]


class RunsCode:
    """Unpickling this runs ``touch sentinel``: what a crafted checkpoint.pt did to `dian search --resume`."""

    def __init__(self, sentinel: object) -> None:
        self.sentinel = sentinel

    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.system, (f"touch {self.sentinel}",))
