"""The C side of an accelerator: ``dian_accel.h`` (register map, config hash, where the image's
inputs and outputs are) and ``dian_accel.c`` (a bare-metal driver: check, start, wait, counters,
interrupt), so that firmware on a soft CPU can run the accelerator without dian.

Both come from the Jinja2 templates of ``dian.rtl_templates``; every number is read from
hwgen/csr_map.py (the registers) or handed in by the caller (the image), never written twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..accel_config import AccelConfig, config_hash
from ..csr_map import (
    BASE_ALIGN_BITS,
    ID,
    STATUS_ERROR_CODE_SHIFT,
    VERSION,
    Control,
    ErrorCode,
    Irq,
    Reg,
    Status,
)
from .templates import render

__all__ = ["ImageTensor", "c_driver", "c_header"]

#: What dian_error_name() returns per STATUS.ERROR_CODE.
ERROR_TEXT = {
    ErrorCode.NONE: "none",
    ErrorCode.BAD_IMAGE: "bad image (magic or version)",
    ErrorCode.CONFIG_MISMATCH: "image compiled for another accelerator config",
    ErrorCode.READ_ERROR: "bus error on a read (SLVERR/DECERR)",
    ErrorCode.WRITE_ERROR: "bus error on a write (SLVERR/DECERR)",
    ErrorCode.MEM_ILLEGAL: "illegal instruction in the MEM stream",
    ErrorCode.CMP_ILLEGAL: "illegal instruction in the CMP stream, or DW without the depthwise dataflow",
}


@dataclass(frozen=True)
class ImageTensor:
    """An input or output slot of the DRAM image (image.json's ``inputs``/``outputs``)."""

    kind: str  # "input" or "output"
    name: str
    addr: int
    bytes: int
    shape: tuple[int, ...]
    scale: float | None


def _identifiers(tensors: Sequence[ImageTensor]) -> list[str]:
    """A C identifier part per tensor: upper case, [A-Z0-9_], unique within its kind."""
    out, used = [], set()
    for t in tensors:
        base = re.sub(r"[^A-Za-z0-9]", "_", t.name).upper().strip("_") or "T"
        base = "T_" + base if base[0].isdigit() else base
        ident, i = base, 2
        while (t.kind, ident) in used:
            ident, i = f"{base}_{i}", i + 1
        used.add((t.kind, ident))
        out.append(ident)
    return out


def _params(cfg: AccelConfig) -> dict[str, object]:
    h = config_hash(cfg)
    return {
        "accel_name": cfg.name,
        "errors": [{"name": e.name, "value": int(e), "text": ERROR_TEXT[e]} for e in ErrorCode],
        "hash_words": [int.from_bytes(h[i : i + 4], "little") for i in range(0, len(h), 4)],
    }


def c_header(cfg: AccelConfig, image_bytes: int, tensors: Sequence[ImageTensor]) -> str:
    """The text of ``dian_accel.h`` for ``cfg`` and an image of ``image_bytes`` with ``tensors``."""
    return render(
        "dian_accel.h.j2",
        **_params(cfg),
        regs=[{"name": r.name, "offset": int(r)} for r in Reg],
        id=ID,
        version=VERSION,
        control=Control,
        status=Status,
        irq=Irq,
        error_shift=STATUS_ERROR_CODE_SHIFT,
        base_align_bits=BASE_ALIGN_BITS,
        base_align=1 << BASE_ALIGN_BITS,
        image_bytes=image_bytes,
        lanes=cfg.lanes,
        tensors=[
            {
                "kind": t.kind,
                "name": t.name.replace("*/", "* /"),
                "ident": ident,
                "addr": t.addr,
                "bytes": t.bytes,
                "shape": "x".join(map(str, t.shape)),
                "scale": None if t.scale is None else f"{t.scale:.9g}",
            }
            for t, ident in zip(tensors, _identifiers(tensors), strict=True)
        ],
    )


def c_driver(cfg: AccelConfig) -> str:
    """The text of ``dian_accel.c``: the driver the header declares."""
    return render("dian_accel.c.j2", **_params(cfg))
