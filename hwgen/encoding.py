"""The 256-bit instruction word (docs/accelerator.md, "Instructions"): the bit
width of every field kind for one AccelConfig, and the codec between an
:class:`~dian.hwgen.isa.Instr` and its 32 bytes.

    bits 0..3 opcode | 4..7 wait mask | 8..11 signal mask | fields, LSB first
    | derived fields

little-endian in 32 bytes. Buffer address widths come from the buffer
depths; a value that does not fit its field raises :class:`ProgramError`
naming the instruction, the field, the value and the width. The RTL's decode
(hwgen/rtl/decode.py) slices the same positions out of the word.
"""

from __future__ import annotations

from dian.errors import ProgramError

from .accel_config import AccelConfig
from .isa import HEADER_BITS, INSTRUCTION_BITS, INSTRUCTION_BYTES, INSTRUCTIONS, Instr, Opcode, Token

__all__ = ["Encoding"]

_ADDRESS_KINDS = frozenset({"ib", "wb", "pb", "ab", "ob", "of", "lt"})


class Encoding:
    """Bit widths of every field kind for one AccelConfig, and the 256-bit codec."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        depth = {
            "ib": cfg.words("ibuf"),
            "wb": cfg.words("wbuf"),
            "ab": cfg.words("abuf"),
            "ob": cfg.words("obuf"),
            "pb": cfg.pbuf_entries,
            "lt": 2 * cfg.lut_tables,  # LBUF in tables (both halves)
        }
        self.widths: dict[str, int] = {"dram": 32, "bit": 1, "i8": 8, "m31": 31, "sh": 6, "mode": 2}
        for buf, d in depth.items():
            self.widths[buf] = max(1, (d - 1).bit_length())  # any address in the buffer
            self.widths[buf + "n"] = max(1, d.bit_length())  # any count up to the depth
            self.widths[buf + "n2"] = 2 * d.bit_length()
            self.widths[buf + "n3"] = 3 * d.bit_length()
        fb = cfg.words("fbuf")
        self.widths["fbit"] = 1 if fb else 0  # the FBUF select bits vanish without an FBUF
        self.widths["of"] = max(self.widths["ob"], (fb - 1).bit_length())  # OBUF or FBUF address
        for op, cls in INSTRUCTIONS.items():
            bits = HEADER_BITS + sum(self.widths[k] for _, k in cls.FIELDS + cls.DERIVED)
            if bits > INSTRUCTION_BITS:
                raise ProgramError(
                    f"accelerator config '{cfg.name}': a {op.name} instruction needs {bits} bits, "
                    f"more than the {INSTRUCTION_BITS}-bit instruction word; the buffers are too "
                    f"deep for the v1 encoding (shrink ibuf/wbuf/abuf/obuf, or fbuf, whose addresses widen odst)."
                )

    def layout(self, cls: type[Instr]) -> list[tuple[str, int, int]]:
        """``(field, lsb, width)`` of each field of ``cls``, then of its DERIVED fields."""
        out, pos = [], HEADER_BITS
        for name, kind in cls.FIELDS + cls.DERIVED:
            w = self.widths[kind]
            out.append((name, pos, w))
            pos += w
        return out

    def encode(self, ins: Instr) -> bytes:
        word = int(ins.OPCODE) | (int(ins.wait) << 4) | (int(ins.signal) << 8)
        for (name, pos, w), (_, kind) in zip(self.layout(type(ins)), ins.FIELDS, strict=False):
            v = getattr(ins, name)
            if kind == "i8":
                if not -128 <= v <= 127:
                    raise self._misfit(ins, name, v, "a signed 8-bit value (-128..127)")
                v &= 0xFF
            elif not 0 <= v < (1 << w):
                raise self._misfit(ins, name, v, f"an unsigned {w}-bit value (0..{(1 << w) - 1})")
            word |= v << pos
        derived = ins.derived()
        for (name, pos, w), (_, kind) in zip(self.layout(type(ins))[len(ins.FIELDS) :], ins.DERIVED, strict=True):
            # Buffer offsets wrap like the RTL's address adders; counts always fit their kind.
            word |= (derived[name] % (1 << w) if kind in _ADDRESS_KINDS else derived[name]) << pos
        return word.to_bytes(INSTRUCTION_BYTES, "little")

    def decode(self, data: bytes) -> Instr:
        if len(data) != INSTRUCTION_BYTES:
            raise ProgramError(f"an instruction is {INSTRUCTION_BYTES} bytes; got {len(data)}.")
        word = int.from_bytes(data, "little")
        try:
            cls = INSTRUCTIONS[Opcode(word & 0xF)]
        except ValueError:
            raise ProgramError(
                f"unknown opcode {word & 0xF} in instruction {data.hex()}; the opcodes are {[o.name for o in Opcode]}."
            ) from None
        kw = {}
        for (name, pos, w), (_, kind) in zip(self.layout(cls), cls.FIELDS, strict=False):
            v = (word >> pos) & ((1 << w) - 1)
            kw[name] = v - 256 if kind == "i8" and v >= 128 else v
        return cls(**kw, wait=Token((word >> 4) & 0xF), signal=Token((word >> 8) & 0xF))

    def encode_stream(self, instrs: list[Instr] | tuple[Instr, ...]) -> bytes:
        return b"".join(self.encode(i) for i in instrs)

    def decode_stream(self, data: bytes) -> list[Instr]:
        return [self.decode(data[i : i + INSTRUCTION_BYTES]) for i in range(0, len(data), INSTRUCTION_BYTES)]

    def _misfit(self, ins: Instr, name: str, v: int, allowed: str) -> ProgramError:
        return ProgramError(
            f"{ins.OPCODE.name}.{name} = {v} does not fit its field; it must be {allowed} "
            f"on accelerator config '{self.cfg.name}'."
        )


#: Stride fields and the count of the loop they step; a stride under a loop of
#: one iteration is never used and is encoded as 0 (it may not fit its field).
