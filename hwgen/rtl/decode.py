"""Instruction fields as slices of the 256-bit instruction word, for the RTL
engines: the bit positions come from :class:`~dian.hwgen.isa.Encoding` (one
AccelConfig, one layout), so the hardware decodes exactly what the lowering
encodes."""

from __future__ import annotations

from amaranth.hdl import Value

from ..encoding import Encoding
from ..isa import HEADER_BITS, Instr

__all__ = ["HEADER_BITS", "fields", "opcode", "signal_mask", "wait_mask"]


def opcode(word: Value) -> Value:
    return word[0:4]


def wait_mask(word: Value) -> Value:
    return word[4:8]


def signal_mask(word: Value) -> Value:
    return word[8:12]


def fields(enc: Encoding, cls: type[Instr], word: Value) -> dict[str, Value]:
    """Every field of ``cls``, derived ones included, as a slice of ``word`` (``i8`` fields signed)."""
    kinds = dict(cls.FIELDS + cls.DERIVED)
    out: dict[str, Value] = {}
    for name, lsb, width in enc.layout(cls):
        v = word[lsb : lsb + width]
        out[name] = v.as_signed() if kinds[name] == "i8" else v
    return out
