"""Calibration inputs for a loaded model.

The model's own data when it has some (a model file's ``calibration_data``
function, or the zoo entry's, e.g. digits training images for ``lenet``);
otherwise dian's documented default, standard normal samples
``np.random.default_rng(seed).standard_normal((K, *input_shape[1:]))`` —
roughly the range of normalized image inputs. The same seed always gives the
same samples.
"""

from __future__ import annotations

import numpy as np

from dian.errors import InputShapeError, ModelLoadError

from .loader import LoadedModel

DEFAULT_NUM_SAMPLES = 64


def calibration_samples(
    model: LoadedModel,
    input_shape: tuple[int, ...] | None = None,
    num_samples: int = DEFAULT_NUM_SAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """``num_samples`` float32 inputs shaped ``[num_samples, *input_shape[1:]]``
    (``input_shape`` None: the model's default input shape)."""
    if num_samples < 1:
        raise InputShapeError(f"num_samples is {num_samples}; calibration needs at least one sample.")
    shape = tuple(input_shape) if input_shape is not None else model.default_input_shape
    rng = np.random.default_rng(seed)
    if model.calibration_fn is None:
        if shape is None:
            raise InputShapeError(
                f"model '{model.name}' has no default input shape and no calibration_data; "
                f"give the input shape (batch included), e.g. (1, 3, 32, 32)."
            )
        return rng.standard_normal((num_samples, *shape[1:])).astype(np.float32)
    try:
        data = model.calibration_fn(num_samples, rng)
    except Exception as e:
        raise ModelLoadError(
            f"calibration_data({num_samples}, rng) of model '{model.name}' raised {type(e).__name__}: {e}"
        ) from e
    if not isinstance(data, np.ndarray):
        raise ModelLoadError(
            f"calibration_data of model '{model.name}' returned {type(data).__name__}; "
            f"it must return a float32 numpy array [num_samples, C, H, W]."
        )
    if data.shape[0] != num_samples or (shape is not None and data.shape[1:] != tuple(shape[1:])):
        want = f"[{num_samples}, {', '.join(map(str, shape[1:]))}]" if shape is not None else f"[{num_samples}, ...]"
        hint = ""
        if data.shape[0] == num_samples and len(data.shape) == len(shape or ()):
            given = ",".join(map(str, (shape or (1,))[:1] + tuple(data.shape[1:])))
            hint = (
                f" The model's calibration data is shaped for input {given}; compile with "
                f"--input-shape {given}, or give calibration data of the new shape."
            )
        raise InputShapeError(
            f"calibration_data of model '{model.name}' returned shape {list(data.shape)}; "
            f"expected {want} for input shape {list(shape or ())}.{hint}"
        )
    return data.astype(np.float32, copy=False)
