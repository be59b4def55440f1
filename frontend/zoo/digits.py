"""scikit-learn's 8x8 digits, a fixed train/test split, and the trained LeNet.

Data: ``sklearn.datasets.load_digits`` (1797 images, ships with scikit-learn,
no download), pixels 0..16 scaled to [0, 1], shaped [N, 1, 8, 8] float32.
Split: ``train_test_split(test_size=0.25, random_state=0, stratify=labels)``,
1347 training and 450 test images.

The zoo's ``lenet`` is trained by :func:`train_lenet` (Adam, fixed seed,
single-threaded so the float reductions run in one order, a few seconds on a
CPU). Its weights are committed as ``lenet_digits.npz`` next to this file so
loading is instant and identical everywhere; regenerate them with
``python -m dian.frontend.zoo.digits`` (prints the test accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .lenet import LeNet
from .seeding import seeded

CHECKPOINT = Path(__file__).with_name("lenet_digits.npz")
SPLIT_SEED = 0
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class DigitsSplit:
    x_train: np.ndarray  # [1347, 1, 8, 8] float32 in [0, 1]
    y_train: np.ndarray  # [1347] int64
    x_test: np.ndarray  # [450, 1, 8, 8]
    y_test: np.ndarray  # [450]


@lru_cache(maxsize=1)
def load_split() -> DigitsSplit:
    """The fixed train/test split (cached; the arrays are read-only)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None, :, :]
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y
    )
    for a in (x_train, x_test, y_train, y_test):
        a.setflags(write=False)
    return DigitsSplit(x_train, y_train, x_test, y_test)


def calibration_data(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``num_samples`` training images drawn by ``rng``, the zoo entry's calibration set."""
    return draw_samples(load_split().x_train, num_samples, rng)


def draw_samples(x: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``num_samples`` rows of ``x`` drawn by ``rng`` (without replacement while there are enough)."""
    idx = rng.choice(len(x), size=num_samples, replace=num_samples > len(x))
    return np.ascontiguousarray(x[idx])


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a torch model on a split, in [0, 1]."""
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(np.array(x, dtype=np.float32))).argmax(1).numpy()
    return float((pred == y).mean())


def train_lenet(
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-2,
    data: tuple[np.ndarray, np.ndarray] | None = None,
) -> LeNet:
    """Train LeNet with Adam, deterministically, on ``data`` (images [N, 1, S, S], labels; default
    the digits training split), sized for its images."""
    if data is None:
        split = load_split()
        data = (split.x_train, split.y_train)
    x, y = torch.from_numpy(np.array(data[0])), torch.from_numpy(np.array(data[1]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with seeded(seed):
            model = LeNet(image_size=x.shape[-1])
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            gen = torch.Generator().manual_seed(seed)
            model.train()
            for _ in range(epochs):
                for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                    opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def save_checkpoint(model: nn.Module, path: Path = CHECKPOINT) -> None:
    arrays = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    np.savez(path, **arrays)


def trained_lenet() -> LeNet:
    """The zoo's trained LeNet: the committed checkpoint, or a fresh training
    run if the checkpoint file is missing."""
    if not CHECKPOINT.exists():
        return train_lenet()
    model = LeNet()
    with np.load(CHECKPOINT) as f:
        model.load_state_dict({k: torch.from_numpy(f[k].copy()) for k in f.files})
    return model.eval()


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    net = train_lenet()
    s = load_split()
    print(
        f"trained in {time.perf_counter() - t0:.1f} s: train accuracy {accuracy(net, s.x_train, s.y_train):.4f}, "
        f"test accuracy {accuracy(net, s.x_test, s.y_test):.4f}"
    )
    save_checkpoint(net)
    print(f"wrote {CHECKPOINT}")
