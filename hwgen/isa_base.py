"""The instruction set's vocabulary (docs/accelerator.md, "Instructions"): the word size, the
token queues, the opcodes, and :class:`Instr`, the frozen dataclass every instruction of
hwgen/isa.py is, with its ``FIELDS`` (name, width kind) in encoding order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, TypeVar, dataclass_transform

INSTRUCTION_BITS = 256
INSTRUCTION_BYTES = INSTRUCTION_BITS // 8
HEADER_BITS = 12


class Token(IntFlag):
    """The four token queues. MEM signals LD_CMP and ST_CMP and waits on the
    other two; CMP the reverse."""

    NONE = 0
    LD_CMP = 1  # a load group is in IBUF/WBUF/PBUF
    CMP_LD = 2  # CMP is done with a load group's buffer halves
    CMP_ST = 4  # an OBUF half holds a finished output tile
    ST_CMP = 8  # an OBUF half was stored and may be overwritten


MEM_WAITS = Token.CMP_LD | Token.CMP_ST
MEM_SIGNALS = Token.LD_CMP | Token.ST_CMP
CMP_WAITS = Token.LD_CMP | Token.ST_CMP
CMP_SIGNALS = Token.CMP_LD | Token.CMP_ST


class Opcode(IntEnum):
    END = 0
    LOAD_ACT = 1
    LOAD_WGT = 2
    LOAD_PRM = 3
    STORE_ACT = 4
    GEMM = 5
    DW = 6
    # 7 was REQUANT (ABUF -> OBUF), retired: GEMM and DW requantize their final sums themselves.
    # The engines treat it as any unknown opcode (their ``error``); the others keep their values.
    ADD = 8
    POOL = 9
    COPY = 10
    LOAD_LUT = 11
    MUL = 12


class PoolMode(IntEnum):
    MAX = 0
    AVG = 1  # window sum, then round_shift(sum * m, shift), saturated to int8


@dataclass(frozen=True)
class Instr:
    """Common part: token masks. Subclasses add their fields and FIELDS."""

    wait: Token = dataclasses.field(default=Token.NONE, kw_only=True)
    signal: Token = dataclasses.field(default=Token.NONE, kw_only=True)

    OPCODE: ClassVar[Opcode]
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    #: Fields the encoder computes from FIELDS and appends after them, so the
    #: RTL latches products and quotients instead of computing them in its
    #: DECODE cycle (which starts at the IMEM output: it set the clock).
    DERIVED: ClassVar[tuple[tuple[str, str], ...]] = ()

    def derived(self) -> dict[str, int]:
        """The exact values of the DERIVED fields (the encoder wraps buffer offsets to their width)."""
        return {}

    def with_tokens(self, wait: Token | None = None, signal: Token | None = None) -> Instr:
        return dataclasses.replace(
            self, wait=self.wait if wait is None else wait, signal=self.signal if signal is None else signal
        )

    def describe(self) -> str:
        body = " ".join(f"{n}={getattr(self, n)}" for n, _ in self.FIELDS)
        tok = ""
        if self.wait:
            tok += f" wait={self.wait.name}"
        if self.signal:
            tok += f" signal={self.signal.name}"
        return f"{self.OPCODE.name} {body}{tok}"


_I = TypeVar("_I", bound=Instr)


@dataclass_transform(frozen_default=True)
def instr_class(opcode: Opcode, fields: tuple[tuple[str, str], ...]) -> Callable[[type[_I]], type[_I]]:
    def wrap(cls: type[_I]) -> type[_I]:
        cls.OPCODE = opcode
        cls.FIELDS = fields
        return dataclass(frozen=True)(cls)

    return wrap


# Field kinds: "dram" byte address/stride (32 bits); "<buf>" an address in a
# buffer (ib, wb, pb, ab, ob) and "<buf>n" a count up to its depth; "bit";
# "i8" signed int8; "m31" multiplier; "sh" shift 0..63; "mode" 2 bits;
# "<buf>n2" / "<buf>n3" a product of two / three counts (derived fields only); "of" an OBUF or FBUF
# address (as wide as the deeper of the two); "fbit" a bit that exists only with a fusion buffer
# (0 bits wide when ``AccelConfig.fbuf`` is 0, so a config without FBUF keeps its encoding).


#: GEMM's and DW's fused requantization (the last fields): on/off, the OBUF word (FBUF word with
#: ``ofb``) of the first pixel, the PBUF entry of the channel block, the clamp.
FUSED_REQUANT = (("rq", "bit"), ("odst", "of"), ("prm", "pb"), ("lo", "i8"), ("hi", "i8"))
#: Every OBUF writer's pointwise stage (the last fields): on/off and the LBUF table. With ``lut``
#: each int8 result ``q`` is replaced by entry ``q + 128`` of table ``ltab`` in its lane.
LUT_FIELDS = (("lut", "bit"), ("ltab", "lt"))


def dw_keep(n_gx: int, s_fx: int, s_ox: int) -> int:
    """The window columns a DW instruction keeps from one pixel to the next (its derived ``keep``):
    ``n_gx - s_ox / s_fx`` when the pixel step is a whole number ``k`` of column steps with ``0 < k
    < n_gx`` (a stride that is a multiple of the dilation), else 0 (every column is read again)."""
    if s_fx > 0 and s_ox > 0 and s_ox % s_fx == 0 and s_ox // s_fx < n_gx:
        return n_gx - s_ox // s_fx
    return 0
