"""The instruction set: exact 256-bit encoding and decoding, and clear errors
for values that do not fit."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dian.errors import ProgramError
from dian.hwgen.accel_config import BufferConfig
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import (
    INSTRUCTION_BYTES,
    INSTRUCTIONS,
    Dw,
    End,
    Gemm,
    Instr,
    LoadAct,
    Opcode,
    Pool,
    Token,
    zero_unused_strides,
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
    huge = dataclasses.replace(PRESETS["default"], ibuf=BufferConfig(1 << 30), abuf=BufferConfig(1 << 30))
    with pytest.raises(ProgramError, match=r"a [A-Z_]+ instruction needs \d+ bits, more than the 256-bit"):
        Encoding(huge)


def test_unknown_opcode() -> None:
    with pytest.raises(ProgramError, match="unknown opcode 15"):
        Encoding(PRESETS["tiny"]).decode(b"\x0f" + bytes(31))


def test_unused_strides_are_zeroed() -> None:
    g = Gemm(0, 0, 0, 1, 1, 1, 1, 1, 5, 99, 99, 99, 99, 1, 5, 1)
    z = zero_unused_strides(g)
    assert (z.s_c, z.s_fy, z.s_fx, z.s_oy, z.d_oy, z.s_ox, z.d_ox) == (0, 0, 0, 0, 0, 1, 1)


def _field(enc: Encoding, data: bytes, cls: type[Instr], name: str) -> int:
    word = int.from_bytes(data, "little")
    ((lsb, width),) = [(p, w) for n, p, w in enc.layout(cls) if n == name]
    return (word >> lsb) & ((1 << width) - 1)


def test_derived_fields_are_encoded_after_the_fields() -> None:
    enc = Encoding(PRESETS["tiny"])
    # tap 5 of a kernel 3 wide is kernel row 1, column 2; rows 8 words apart, columns 1.
    dw = Dw(0, 0, 0, 1, 5, 4, 3, 8, 1, 2, 2, 8, 1, 2, 1)
    data = enc.encode(dw)
    assert [_field(enc, data, Dw, n) for n in ("fx0", "row_off0", "off0")] == [2, 8, 10]
    assert [n for n, _, _ in enc.layout(Dw)][-3:] == ["fx0", "row_off0", "off0"]
    assert enc.decode(data) == dw
    gemm = Gemm(0, 0, 0, 1, 1, 1, 1, 7, 9, 0, 0, 0, 9, 1, 9, 1)
    assert _field(enc, enc.encode(gemm), Gemm, "n_pix") == 63
    pool = Pool(0, 0, 0, 2, 5, 7, 2, 2, 0, 0, 0, 0, 0)
    assert _field(enc, enc.encode(pool), Pool, "n_win") == 70


def test_derived_ibuf_offsets_wrap_like_the_address_adders() -> None:
    enc = Encoding(PRESETS["tiny"])  # 1024 IBUF words: 10-bit offsets
    dw = Dw(0, 0, 0, 1, 6, 3, 3, 600, 1, 1, 1, 0, 0, 0, 0)  # tap 6: kernel row 2, column 0
    assert _field(enc, enc.encode(dw), Dw, "off0") == 1200 - 1024
