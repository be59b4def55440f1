"""Calibration sources (frontend/calib_source.py): --calib-data files and folders, what they may
hold, the errors for what they may not, and the precedence data > model hook > synthetic noise."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dian.errors import InputShapeError
from dian.frontend import calibration_set, load_model
from dian.frontend.calib_source import read_calib_data
from dian.frontend.zoo.digits import load_split

SAMPLE = (1, 8, 8)


def _save(path: Path, a: np.ndarray) -> Path:
    np.save(path, a, allow_pickle=False)
    return path


def test_one_file_of_samples(tmp_path: Path) -> None:
    a = np.random.default_rng(0).standard_normal((5, *SAMPLE))  # float64 is accepted, as float32
    x, source = read_calib_data(str(_save(tmp_path / "cal.npy", a)), SAMPLE)
    assert source == f"file:{tmp_path / 'cal.npy'}"
    assert x.dtype == np.float32 and x.shape == (5, *SAMPLE)
    np.testing.assert_array_equal(x, a.astype(np.float32))


def test_a_folder_is_read_in_name_order_samples_and_batches_alike(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    one, batch, other = (rng.standard_normal(s).astype(np.float32) for s in (SAMPLE, (3, *SAMPLE), SAMPLE))
    _save(tmp_path / "b.npy", batch)
    _save(tmp_path / "a.npy", one)  # a single sample C,H,W
    _save(tmp_path / "c.npy", other)
    x, source = read_calib_data(str(tmp_path), SAMPLE)
    assert source == f"folder:{tmp_path} (3 files)"
    np.testing.assert_array_equal(x, np.concatenate([one[None], batch, other[None]]))


def _error(path: Path, match: str) -> None:
    with pytest.raises(InputShapeError, match=match):
        read_calib_data(str(path), SAMPLE)


def test_wrong_shapes(tmp_path: Path) -> None:
    _error(_save(tmp_path / "w.npy", np.zeros((4, 1, 8, 9), np.float32)), r"shape \[4, 1, 8, 9\].*\[1,8,8\]")
    _error(_save(tmp_path / "v.npy", np.zeros((2, 4, 1, 8, 8), np.float32)), r"samples of shape \[1,8,8\]")
    _error(_save(tmp_path / "e.npy", np.zeros((0, 1, 8, 8), np.float32)), r"N >= 1")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path: Path, bad: float) -> None:
    a = np.zeros((3, *SAMPLE), np.float32)
    a[1, 0, 2, 3] = a[2, 0, 0, 0] = bad
    _error(_save(tmp_path / "n.npy", a), r"n\.npy holds 2 NaN or infinite value\(s\) of 192")


def test_integer_and_pickled_arrays(tmp_path: Path) -> None:
    _error(_save(tmp_path / "u8.npy", np.zeros((2, *SAMPLE), np.uint8)), "holds uint8 values; .* float32 or float64")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _error(obj, "Python objects")
    (tmp_path / "text.npy").write_text("not an array")
    _error(tmp_path / "text.npy", "is not a .npy file")


def test_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    _error(empty, "is an empty folder")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _save(mixed / "a.npy", np.zeros(SAMPLE, np.float32))
    (mixed / "notes.txt").write_text("x")
    (mixed / "sub.npy").mkdir()
    _error(mixed, r"not .npy files \(notes.txt, sub.npy\)")
    _error(tmp_path / "missing.npy", "does not exist")


def test_memory_limit_covers_the_whole_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        _save(tmp_path / f"{i}.npy", np.zeros((100, *SAMPLE), np.float32))
    monkeypatch.setenv("DIAN_MAX_MEMORY", str(2 * os.path.getsize(tmp_path / "0.npy")))
    from dian.errors import ResourceLimitError

    with pytest.raises(ResourceLimitError, match=r"holds 3 \.npy file"):
        read_calib_data(str(tmp_path), SAMPLE)


def test_precedence_data_over_hook_over_synthetic(tmp_path: Path) -> None:
    lenet = load_model("zoo:lenet")
    data = np.random.default_rng(2).uniform(0, 1, (10, *SAMPLE)).astype(np.float32)
    path = str(_save(tmp_path / "d.npy", data))
    shape = (1, *SAMPLE)

    given = calibration_set(lenet, shape, None, 0, path)
    assert (given.source, given.synthetic) == (f"file:{path}", False)
    np.testing.assert_array_equal(given.samples, data)  # every sample, in file order

    hook = calibration_set(lenet, shape, 12, 3, None)
    assert (hook.source, hook.synthetic) == ("model hook", False)
    rows = {r.tobytes() for r in load_split().x_train}
    assert hook.samples.shape == (12, *SAMPLE) and all(s.tobytes() in rows for s in hook.samples)

    noise = calibration_set(replace(lenet, calibration_fn=None), shape, 7, 4, None)
    assert (noise.source, noise.synthetic) == ("synthetic normal(seed=4)", True)
    want = np.random.default_rng(4).standard_normal((7, *SAMPLE)).astype(np.float32)
    np.testing.assert_array_equal(noise.samples, want)
    assert len(calibration_set(replace(lenet, calibration_fn=None), shape, None, 0, None).samples) == 64


def test_a_sample_count_draws_that_many_in_file_order(tmp_path: Path) -> None:
    data = np.arange(10 * 64, dtype=np.float32).reshape(10, *SAMPLE)
    path = str(_save(tmp_path / "d.npy", data))
    lenet = load_model("zoo:lenet")
    drawn = calibration_set(lenet, (1, *SAMPLE), 4, 5, path).samples
    idx = np.sort(np.random.default_rng(5).choice(10, size=4, replace=False))
    np.testing.assert_array_equal(drawn, data[idx])
    with pytest.raises(InputShapeError, match=r"holds 10 sample.* asks for 11"):
        calibration_set(lenet, (1, *SAMPLE), 11, 0, path)
