"""Reading a user's .npy input safely: plain arrays only, and no allocation its header cannot back.

``np.load`` trusts the header: a 100-byte file claiming shape 1x1x100000x100000 makes it allocate
40 GB before it notices the data is missing. The header is read first, checked against the file's
size and dian's memory limit (:mod:`dian.limits`), and only then is the array read, with pickles
refused.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .errors import InputShapeError
from .limits import check_memory

_HINT = "save the float32 input with numpy.save (one array, shape as compiled)"


def read_npy(path: str, what: str) -> np.ndarray:
    """The array in the .npy file ``path`` (named ``what`` in errors, e.g. "--input"), or
    :class:`InputShapeError` saying why it is not a plain array this machine can hold."""
    try:
        with open(path, "rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise InputShapeError(f"{what} {path} is not a .npy file; {_HINT}.")
            f.seek(0)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise InputShapeError(f"{what} {path} is a .npy file of format version {version}; {_HINT}.")
            if dtype.hasobject:
                raise InputShapeError(
                    f"{what} {path} holds Python objects (a pickle), which dian never loads; {_HINT}."
                )
            need = math.prod(shape) * dtype.itemsize
            have = os.fstat(f.fileno()).st_size - f.tell()
            if need > have:
                raise InputShapeError(
                    f"{what} {path} is damaged: its header says shape {list(shape)} of {dtype} "
                    f"({need:,} bytes) but the file holds {max(have, 0):,} bytes of data; {_HINT}."
                )
            check_memory(need, f"{what} {path} holds an array of shape {list(shape)} {dtype}", "give a smaller input")
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputShapeError(f"cannot read {what} {path} as a .npy array ({reason}); {_HINT}.") from None
