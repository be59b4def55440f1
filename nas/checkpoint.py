"""Search checkpoints in a format that cannot carry code: JSON plus raw arrays in one zip.

A pickle, even through ``torch.load(weights_only=True)``'s restricted unpickler, is a program
for a small virtual machine, and a crafted ``checkpoint.pt`` once ran a shell command when
``dian search --resume`` loaded it. A checkpoint is therefore a zip of

* ``doc.json``: the nested document (dicts, lists, tuples, strings, numbers, booleans, None)
  with every tensor replaced by ``{"tensor": "t<N>"}``;
* ``t<N>.npy``: one array per tensor, read with ``allow_pickle=False``.

Dicts are stored as ``{"dict": [[key, value], ...]}`` because optimizer state uses int keys,
and tuples as ``{"tuple": [...]}``, so a document comes back exactly as it was saved. Members
have fixed timestamps, so the same state gives the same bytes. Reading checks sizes, member
names and the document's shape and raises :class:`~dian.errors.CheckpointError` for anything
else, naming the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dian.errors import CheckpointError

from .model_file import npz_bytes

#: The file name of a search checkpoint in its work folder.
CHECKPOINT = "checkpoint.zip"
DOC = "doc.json"
#: A checkpoint of the largest supernet dian searches is ~40 MB; refuse anything far beyond.
MAX_BYTES = 2 << 30
MAX_DOC_BYTES = 64 << 20
MAX_DEPTH = 64


def _encode(value: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"a checkpoint document nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, torch.Tensor):
        name = f"t{len(arrays)}"
        arrays[name] = value.detach().cpu().numpy()
        return {"tensor": name}
    if isinstance(value, dict):
        return {"dict": [[_encode(k, arrays, depth + 1), _encode(v, arrays, depth + 1)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a checkpoint holds tensors and plain data only, not {type(value).__name__}")


def checkpoint_bytes(doc: dict[str, Any]) -> bytes:
    """The checkpoint of ``doc`` (plain data and tensors) as bytes that depend on ``doc`` alone."""
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(_encode(doc, arrays), sort_keys=False, allow_nan=True).encode()
    buf = io.BytesIO(npz_bytes(arrays))
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo(DOC, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        z.writestr(info, text)
    return buf.getvalue()


def _decode(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if len(value) != 1:
            raise ValueError(f"{where} is an object with keys {sorted(value)[:4]}; expected one of tensor, dict, tuple")
        ((tag, body),) = value.items()
        if tag == "tensor" and isinstance(body, str) and body in tensors:
            return tensors[body]
        if tag == "tuple" and isinstance(body, list):
            return tuple(_decode(v, tensors, f"{where}[{i}]") for i, v in enumerate(body))
        if tag == "dict" and isinstance(body, list) and all(isinstance(p, list) and len(p) == 2 for p in body):
            out = {}
            for i, (k, v) in enumerate(body):
                key = _decode(k, tensors, f"{where}.key{i}")
                if not isinstance(key, str | int):
                    raise ValueError(f"{where}: key {i} is a {type(key).__name__}, not a string or an int")
                out[key] = _decode(v, tensors, f"{where}[{key!r}]")
            return out
        raise ValueError(f"{where} is a malformed {tag!r} entry")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise ValueError(f"{where} holds a {type(value).__name__}")


def _members(z: zipfile.ZipFile, path: Path) -> Iterator[zipfile.ZipInfo]:
    total = 0
    for info in z.infolist():
        total += info.file_size
        if total > MAX_BYTES:
            raise CheckpointError(f"{path} unpacks to more than {MAX_BYTES >> 20} MiB; it is not a dian checkpoint.")
        yield info


def _not_a_checkpoint(path: Path, pickled: bool) -> CheckpointError:
    why = (
        " It holds a pickle (torch.save, or the checkpoint.pt of an older dian), which can carry code "
        "and is never loaded."
        if pickled
        else ""
    )
    return CheckpointError(
        f"{path} is not a dian search checkpoint (a zip of {DOC} and .npy arrays).{why} "
        f"Start the search again in a new folder."
    )


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The document :func:`checkpoint_bytes` wrote into ``path``; :class:`CheckpointError` for a
    file that is not one (a pickle, a damaged zip, an array with objects, a malformed document)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head != b"PK\x03\x04":
                raise _not_a_checkpoint(path, pickled=head[:1] == b"\x80")
            f.seek(0)
            with zipfile.ZipFile(f) as z:
                tensors: dict[str, torch.Tensor] = {}
                text = b""
                for info in _members(z, path):
                    if info.filename == DOC:
                        if info.file_size > MAX_DOC_BYTES:
                            raise CheckpointError(f"{path}: {DOC} is larger than {MAX_DOC_BYTES >> 20} MiB.")
                        text = z.read(info)
                    elif info.filename.endswith(".npy") and info.filename[:-4].isidentifier():
                        with z.open(info) as member:
                            array = np.lib.format.read_array(member, allow_pickle=False)
                        tensors[info.filename[:-4]] = torch.from_numpy(np.array(array))
                    elif info.filename.endswith(".pkl"):  # torch.save's zip: a pickle inside
                        raise _not_a_checkpoint(path, pickled=True)
                    else:
                        raise CheckpointError(
                            f"{path} holds an unexpected member {info.filename[:80]!r}, so it is not a dian "
                            f"search checkpoint; start the search again in a new folder."
                        )
                if not text:
                    raise CheckpointError(f"{path} has no {DOC}; it is not a dian search checkpoint.")
                doc = _decode(json.loads(text.decode("utf-8")), tensors, "doc")
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError, RecursionError, EOFError, TypeError) as e:
        raise CheckpointError(
            f"{path} cannot be read as a dian search checkpoint ({type(e).__name__}: {str(e)[:200]}); "
            f"start the search again in a new folder."
        ) from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{path}: the document is a {type(doc).__name__}, not an object.")
    return doc
