"""Questions the lowering asks of one instruction: does it write OBUF, which of its addresses
name FBUF words, and which strides are dead because their count is 1.

Kept apart from :mod:`dian.hwgen.isa`, which only defines the instructions and their encoding
order, so that the instruction set stays a plain vocabulary.
"""

from __future__ import annotations

import dataclasses

from .isa import AddI, Copy, Dw, Gemm, Instr, MulI, Pool


def writes_obuf(ins: Instr) -> bool:
    """Does ``ins`` write OBUF (a PPU instruction, or a GEMM/DW with its requantization fused and
    not sent to FBUF)?"""
    return isinstance(ins, (AddI, Copy, Pool, MulI)) or (isinstance(ins, (Gemm, Dw)) and ins.rq == 1 and not ins.ofb)


def fbuf_fields(ins: Instr) -> tuple[str, ...]:
    """The address fields of ``ins`` that name FBUF words (absolute: FBUF has no halves)."""
    out: tuple[str, ...] = ()
    if isinstance(ins, (Gemm, Dw)) and ins.sfb:
        out += ("src",)
    if isinstance(ins, (Gemm, Dw)) and ins.rq and ins.ofb:
        out += ("odst",)
    if isinstance(ins, AddI) and ins.bfb:
        out += ("src_b",)
    return out


_STRIDE_OF_COUNT = {
    Gemm: {
        "s_c": "n_c",
        "s_fy": "n_fy",
        "s_fx": "n_fx",
        "s_oy": "n_oy",
        "s_ox": "n_ox",
        "d_oy": "n_oy",
        "d_ox": "n_ox",
    },
    Dw: {"s_fy": "n_gy", "s_fx": "n_gx", "s_oy": "n_oy", "s_ox": "n_ox", "d_oy": "n_oy", "d_ox": "n_ox"},
    Pool: {"s_c": "n_c", "s_oy": "n_oy", "s_ox": "n_ox", "s_fy": "n_fy", "s_fx": "n_fx"},
}


def zero_unused_strides(ins: Instr) -> Instr:
    strides = _STRIDE_OF_COUNT.get(type(ins))
    if not strides:
        return ins
    upd = {s: 0 for s, n in strides.items() if getattr(ins, n) == 1 and getattr(ins, s) != 0}
    return dataclasses.replace(ins, **upd) if upd else ins  # type: ignore[arg-type]  # mypy sees Instr's fields only
