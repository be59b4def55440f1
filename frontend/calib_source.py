"""Where a compile's calibration samples come from, and how that is recorded.

Precedence: the user's data (``--calib-data``: one .npy file, or a folder of them) over the
model's own ``calibration_data(n, rng)`` hook (a model file's function, or a zoo entry's data)
over dian's synthetic default, standard normal noise (:mod:`.calibration_data`). The source is
described by one line that the manifest records: ``file:X.npy``, ``folder:DIR (K files)``,
``model hook`` or ``synthetic normal(seed=S)``.

User data is a data file, never code: each .npy is read by :func:`dian.npy_file.read_npy` (no
pickles, header checked against the file's size and the memory limit) and must hold float32 or
float64 samples shaped like the model's input without the batch (``C,H,W``), or a batch of them
(``N,C,H,W``), all finite. A folder's files are read in name order and every entry must be such
a file. Without a sample count every sample is used; with ``K`` samples, ``K`` of them are drawn
without replacement by the seed and kept in file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dian.errors import InputShapeError
from dian.limits import check_memory
from dian.npy_file import read_npy

from .calibration_data import DEFAULT_NUM_SAMPLES, calibration_samples
from .loader import LoadedModel

FLAG = "--calib-data"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class CalibSet:
    """Calibration samples ``[K, *input_shape[1:]]`` float32 and the line that names their source."""

    samples: np.ndarray
    source: str
    synthetic: bool


def calibration_set(
    model: LoadedModel, shape: tuple[int, ...], num_samples: int | None, seed: int, data: str | None = None
) -> CalibSet:
    """The calibration samples for ``model`` at input ``shape``, by the precedence above;
    ``num_samples`` None means every sample of ``data``, or :data:`DEFAULT_NUM_SAMPLES`."""
    if data is not None:
        samples, source = read_calib_data(data, shape[1:])
        return CalibSet(_draw(samples, num_samples, seed, data), source, synthetic=False)
    n = DEFAULT_NUM_SAMPLES if num_samples is None else num_samples
    samples = calibration_samples(model, shape, n, seed)
    if model.calibration_fn is not None:
        return CalibSet(samples, "model hook", synthetic=False)
    return CalibSet(samples, f"synthetic normal(seed={seed})", synthetic=True)


def read_calib_data(path: str, sample_shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """The samples in the .npy file or folder ``path`` as one float32 array ``[N, *sample_shape]``,
    and the source line; :class:`InputShapeError` naming the file and what is allowed otherwise."""
    p = Path(path)
    try:
        is_dir, is_file = p.is_dir(), p.is_file()
    except OSError as e:
        raise InputShapeError(f"cannot open {FLAG} {path}: {e.strerror}.") from None
    if is_dir:
        files = _folder_files(p, path)
        source = f"folder:{path} ({len(files)} file{'s' if len(files) > 1 else ''})"
    elif is_file:
        files, source = [p], f"file:{path}"
    else:
        raise InputShapeError(
            f"{FLAG} {path} does not exist; give a .npy file of samples (N,C,H,W) or a folder of .npy files."
        )
    check_memory(
        sum(f.stat().st_size for f in files),
        f"{FLAG} {path} holds {len(files)} .npy file(s)",
        "give fewer or smaller calibration files",
    )
    parts = [_samples(str(f), sample_shape) for f in files]
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)), source


def _folder_files(folder: Path, path: str) -> list[Path]:
    entries = sorted(folder.iterdir(), key=lambda e: e.name)
    if not entries:
        raise InputShapeError(f"{FLAG} {path} is an empty folder; put .npy files of samples in it.")
    others = [e.name for e in entries if e.suffix != ".npy" or not e.is_file()]
    if others:
        listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise InputShapeError(
            f"{FLAG} folder {path} holds entries that are not .npy files ({listed}); a calibration "
            f"folder holds only .npy files, each one sample (C,H,W) or a batch (N,C,H,W)."
        )
    return entries


def _samples(file: str, sample_shape: tuple[int, ...]) -> np.ndarray:
    a = read_npy(file, FLAG)
    want = ",".join(map(str, sample_shape))
    if a.dtype not in _FLOATS:
        raise InputShapeError(
            f"{FLAG} {file} holds {a.dtype} values; calibration samples are float32 or float64, "
            f"preprocessed exactly as the model's inputs are (e.g. scaled to [0, 1], normalized)."
        )
    given = list(a.shape)
    if a.ndim == len(sample_shape):
        a = a[None]
    if a.ndim != len(sample_shape) + 1 or a.shape[1:] != sample_shape or a.shape[0] < 1:
        raise InputShapeError(
            f"{FLAG} {file} has shape {given}; the model's input takes samples of shape "
            f"[{want}], so a file holds one sample [{want}] or a batch [N,{want}] with N >= 1."
        )
    bad = int(np.count_nonzero(~np.isfinite(a)))
    if bad:
        raise InputShapeError(
            f"{FLAG} {file} holds {bad:,} NaN or infinite value(s) of {a.size:,}; calibration samples must be finite."
        )
    return a.astype(np.float32, copy=False)


def _draw(samples: np.ndarray, num_samples: int | None, seed: int, path: str) -> np.ndarray:
    """All of ``samples``, or ``num_samples`` of them drawn by ``seed``, in file order."""
    if num_samples is None or num_samples == len(samples):
        return samples
    if num_samples > len(samples):
        raise InputShapeError(
            f"{FLAG} {path} holds {len(samples)} sample(s) but --calib-samples asks for {num_samples}; "
            f"give at most {len(samples)}, or leave --calib-samples out to use them all."
        )
    idx = np.sort(np.random.default_rng(seed).choice(len(samples), size=num_samples, replace=False))
    return np.ascontiguousarray(samples[idx])
