"""Reading an ONNX file as data: parsed, checked, its external data confined to its folder.

An ONNX file is a protobuf message, never code: dian parses it with the ``onnx`` package, runs
``onnx.checker`` on it and reads only what the model names. Weights stored beside the model
("external data") are read only from files inside the model's own folder: an absolute location,
one that climbs out with ``..`` or a link that leads elsewhere is refused, as is a location past
its file's end. Every failure names the file and becomes a :class:`~dian.errors.ModelLoadError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dian.errors import ModelLoadError

if TYPE_CHECKING:  # onnx is imported when an ONNX file is loaded: it takes seconds, and most models are torch
    import onnx

MIN_OPSET = 13
MAX_FILE_BYTES = 2**31  # protobuf's own limit for one message


@dataclass(frozen=True)
class OnnxModel:
    """A checked ONNX model: the parsed proto (external data loaded), its path and default-domain opset."""

    proto: onnx.ModelProto
    path: Path
    opset: int

    @property
    def name(self) -> str:
        return self.path.stem


def load_onnx(path: Path) -> tuple[OnnxModel, str]:
    """The checked model at ``path`` and the sha256 of its bytes and its external data files."""
    if not path.is_file():
        raise ModelLoadError(
            f"ONNX file '{path}' does not exist (or is not a file); give the path of a .onnx file, relative "
            f"to the current directory ({Path.cwd()}) or absolute."
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ModelLoadError(
            f"ONNX file '{path}' is {size:,} bytes, more than a protobuf message can hold (2 GiB); "
            f"save the weights as external data beside it (onnx.save(..., save_as_external_data=True))."
        )
    import onnx

    data = path.read_bytes()
    digest = hashlib.sha256(data)
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as e:  # protobuf's DecodeError and friends: not an ONNX file, or a damaged one
        raise ModelLoadError(
            f"'{path}' is not a readable ONNX file ({type(e).__name__}: {_first_line(e)}); it may be "
            f"truncated or not an ONNX model at all. Export it again, e.g. torch.onnx.export(model, (x,), "
            f"'{path.name}')."
        ) from None
    for location in _load_external_data(proto, path):
        digest.update(location.encode() + b"\0" + (path.parent / location).read_bytes())
    try:
        onnx.checker.check_model(proto)
    except Exception as e:
        raise ModelLoadError(
            f"'{path}' is not a valid ONNX model: {_first_line(e)}. It may be truncated or damaged; export it again."
        ) from None
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise ModelLoadError(
            f"ONNX file '{path}' uses opset {opset}; dian reads opset {MIN_OPSET} and later. Export it "
            f"again with a newer opset, e.g. torch.onnx.export(..., opset_version=17)."
        )
    return OnnxModel(proto, path, opset), digest.hexdigest()


def _load_external_data(proto: onnx.ModelProto, path: Path) -> list[str]:
    """Check every external-data location of ``proto`` and load it; the sorted locations read."""
    from onnx import external_data_helper

    folder = path.parent.resolve()
    locations: set[str] = set()
    for tensor in external_data_helper._get_all_tensors(proto):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = external_data_helper.ExternalDataInfo(tensor)
        where = f"ONNX file '{path}': tensor '{tensor.name}' keeps its data in '{info.location}'"
        target = (folder / info.location).resolve()
        if not info.location or Path(info.location).is_absolute() or not target.is_relative_to(folder):
            raise ModelLoadError(
                f"{where}, outside the model's folder {folder}; dian reads external data only from files "
                f"beside the model (a relative location inside its folder)."
            )
        if not target.is_file():
            raise ModelLoadError(
                f"{where}, which is missing; copy the data file beside the model, or export it again with "
                f"the weights inside the .onnx file."
            )
        end = (info.offset or 0) + (info.length or 0)
        if end > target.stat().st_size:
            raise ModelLoadError(
                f"{where} at bytes {info.offset or 0}..{end}, past the end of that file "
                f"({target.stat().st_size:,} bytes); the data file is truncated or from another export."
            )
        locations.add(info.location)
    if locations:
        try:
            external_data_helper.load_external_data_for_model(proto, str(folder))
        except Exception as e:
            raise ModelLoadError(f"ONNX file '{path}': reading its external data failed: {_first_line(e)}.") from None
    return sorted(locations)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else type(e).__name__
