"""The instruction set: exact 256-bit encoding and decoding, and clear errors
for values that do not fit."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dian.errors import ProgramError
from dian.hwgen.accel_config import BufferConfig
from dian.hwgen.isa import (
    INSTRUCTION_BYTES, INSTRUCTIONS, Encoding, End, Gemm, Instr, LoadAct, Opcode, Token, zero_unused_strides,
)
from dian.hwgen.presets import PRESETS


@st.composite
def instructions(draw: st.DrawFn, enc: Encoding) -> Instr:
    cls = draw(st.sampled_from(list(INSTRUCTIONS.values())))
    kw = {}
    for name, kind in cls.FIELDS:
        w = enc.widths[kind]
        kw[name] = draw(st.integers(-128, 127) if kind == "i8" else st.integers(0, (1 << w) - 1))
    return cls(**kw, wait=Token(draw(st.integers(0, 15))), signal=Token(draw(st.integers(0, 15))))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_instruction_round_trips(preset: str) -> None:
    enc = Encoding(PRESETS[preset])

    @settings(max_examples=150, deadline=None)
    @given(ins=instructions(enc))
    def check(ins: Instr) -> None:
        data = enc.encode(ins)
        assert len(data) == INSTRUCTION_BYTES
        assert enc.decode(data) == ins

    check()


def test_header_bits_by_hand() -> None:
    enc = Encoding(PRESETS["tiny"])
    data = enc.encode(End(wait=Token.CMP_LD, signal=Token.LD_CMP | Token.ST_CMP))
    # opcode 0 in bits 0..3, wait 0b0010 in bits 4..7, signal 0b1001 in bits 8..11
    assert data == bytes([0x20, 0x09]) + bytes(30)


def test_first_field_starts_at_bit_12() -> None:
    enc = Encoding(PRESETS["tiny"])
    word = int.from_bytes(enc.encode(LoadAct(0xABCD, 0, 0, 0, 0)), "little")
    assert word & 0xF == Opcode.LOAD_ACT and (word >> 12) & 0xFFFFFFFF == 0xABCD


def test_field_widths_follow_the_buffer_depths() -> None:
    tiny, default = Encoding(PRESETS["tiny"]), Encoding(PRESETS["default"])
    assert PRESETS["tiny"].words("ibuf") == 1024 and tiny.widths["ib"] == 10 and tiny.widths["ibn"] == 11
    assert PRESETS["default"].words("abuf") == 1024 and default.widths["ab"] == 10
    assert tiny.widths["pb"] == 5  # 32 PBUF entries


def test_value_that_does_not_fit_names_field_and_range() -> None:
    enc = Encoding(PRESETS["tiny"])
    ins = LoadAct(0, 1024, 1, 1, 1)  # IBUF has 1024 words: addresses 0..1023
    with pytest.raises(ProgramError, match=r"LOAD_ACT.dst = 1024 does not fit .* unsigned 10-bit value \(0..1023\)"):
        enc.encode(ins)
    with pytest.raises(ProgramError, match=r"pad_value = 200 .* signed 8-bit"):
        enc.encode(dataclasses.replace(ins, dst=0, pad_value=200))


def test_config_too_deep_for_the_encoding() -> None:
    huge = dataclasses.replace(PRESETS["default"], ibuf=BufferConfig(1 << 30, 4), abuf=BufferConfig(1 << 30))
    with pytest.raises(ProgramError, match=r"a [A-Z_]+ instruction needs \d+ bits, more than the 256-bit"):
        Encoding(huge)


def test_unknown_opcode() -> None:
    with pytest.raises(ProgramError, match="unknown opcode 15"):
        Encoding(PRESETS["tiny"]).decode(b"\x0f" + bytes(31))


def test_unused_strides_are_zeroed() -> None:
    g = Gemm(0, 0, 0, 1, 1, 1, 1, 1, 5, 99, 99, 99, 99, 1, 5, 1)
    z = zero_unused_strides(g)
    assert (z.s_c, z.s_fy, z.s_fx, z.s_oy, z.d_oy, z.s_ox, z.d_ox) == (0, 0, 0, 0, 0, 1, 1)
