"""The instruction set: exact 256-bit encoding and decoding, and clear errors
for values that do not fit."""

from __future__ import annotations

import dataclasses

import pytest

from dian.errors import ProgramError
from dian.hwgen.accel_config import BufferConfig
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import (
    AddI,
    Copy,
    Dw,
    End,
    Gemm,
    Instr,
    LoadAct,
    LoadLut,
    LoadPrm,
    LoadWgt,
    Opcode,
    Pool,
    StoreAct,
    Token,
)
from dian.hwgen.isa_queries import zero_unused_strides
from dian.hwgen.presets import PRESETS


def _word(opcode: int, wait: int, signal: int, *fields: tuple[int, int]) -> bytes:
    """A 256-bit instruction word put together by hand from docs/accelerator.md ("Instructions"):
    bits 0..3 opcode, 4..7 wait, 8..11 signal, then each ``(value, width)`` LSB first (a negative
    value in two's complement), little-endian in 32 bytes. Widths are written out in the tests
    below, not read from :class:`Encoding`."""
    word, pos = opcode | wait << 4 | signal << 8, 12
    for value, width in fields:
        assert -(1 << (width - 1)) <= value < (1 << width), (value, width)
        word |= (value & ((1 << width) - 1)) << pos
        pos += width
    assert pos <= 256
    return word.to_bytes(32, "little")


# Field widths by hand. tiny: 4 lanes of 1 byte; IBUF 4096 B = 1024 words (addresses 10 bits,
# counts 11), WBUF 1024 B = 256 words (8, 9), ABUF 4096 B of 16-byte words = 256 (8, 9), OBUF
# 1024 B = 256 words (8, 9), PBUF 32 entries (5, 6). small: 8 lanes; IBUF 16384 B = 2048 words
# (11, 12), WBUF 8192 B = 1024 (10, 11), ABUF 16384 B of 32-byte words = 512 (9, 10), OBUF
# 4096 B = 512 (9, 10), PBUF 32 (5, 6). Opcodes (hwgen/isa.py, the RTL's decoder): END 0,
# LOAD_ACT 1, LOAD_WGT 2, LOAD_PRM 3, STORE_ACT 4, GEMM 5, DW 6, ADD 8, POOL 9, COPY 10, LOAD_LUT 11.
# Both presets have lut_tables = 1: LBUF holds 2 tables (table addresses 1 bit, counts 2).
# fmt: off
HAND_WORDS = {
    "tiny": [
        (
            LoadAct(0x0001_2340, 1023, 2, 7, 8, 1, 0, 1, 1, 224, 32, -128, signal=Token.LD_CMP),
            _word(
                1, 0b0000, 0b0001,  # opcode wait signal
                (0x0001_2340, 32), (1023, 10),  # dram, dst
                (2, 11), (7, 11), (8, 11),  # n_c n_y n_x
                (1, 11), (0, 11), (1, 11), (1, 11),  # pad_top pad_bottom pad_left pad_right
                (224, 32), (32, 32), (-128, 8),  # s_c s_y pad_value
            ),
        ),
        (
            LoadPrm(0xFFFF_FFFF, 31, 32, wait=Token.CMP_LD),
            _word(3, 0b0010, 0, (0xFFFF_FFFF, 32), (31, 5), (32, 6)),
        ),
        (
            StoreAct(0x400, 255, 256, 1, 3, 0, 12, wait=Token.CMP_ST, signal=Token.ST_CMP),
            _word(4, 0b0100, 0b1000, (0x400, 32), (255, 8), (256, 9), (1, 9), (3, 9), (0, 32), (12, 32)),
        ),
        (
            Gemm(17, 600, 200, 1, 2, 3, 3, 4, 5, 56, 8, 1, 16, 2, 5, 1, 1, 44, 30, -100, 90, 1, 1, wait=Token.LD_CMP),
            _word(
                5, 0b0001, 0,  # opcode wait signal
                (17, 8), (600, 10), (200, 8), (1, 1),  # wgt src dst reset
                (2, 11), (3, 11), (3, 11), (4, 9), (5, 9),  # n_c n_fy n_fx n_oy n_ox
                (56, 10), (8, 10), (1, 10), (16, 10), (2, 10),  # s_c s_fy s_fx s_oy s_ox
                (5, 8), (1, 8),  # d_oy d_ox
                (1, 1), (44, 8), (30, 5), (-100, 8), (90, 8),  # rq odst prm lo hi
                (1, 1), (1, 1),  # lut ltab: LBUF holds 2 tables (1 a half), addresses 1 bit
                (20, 18),  # derived n_pix = 4 * 5, two ABUF count widths
            ),
        ),
        (
            # a tap group of one kernel row of 3 columns, 1 word apart; pixels 2 words apart (stride 2)
            Dw(3, 100, 7, 1, 1, 3, 0, 1, 2, 2, 8, 2, 2, 1, 1, 9, 2, -128, 127, signal=Token.CMP_LD | Token.CMP_ST),
            _word(
                6, 0, 0b0110,  # opcode wait signal
                (3, 8), (100, 10), (7, 8), (1, 1),  # wgt src dst reset
                (1, 11), (3, 11), (0, 10), (1, 10),  # n_gy n_gx s_fy s_fx
                (2, 9), (2, 9), (8, 10), (2, 10), (2, 8), (1, 8),  # n_oy n_ox s_oy s_ox d_oy d_ox
                (1, 1), (9, 8), (2, 5), (-128, 8), (127, 8),  # rq odst prm lo hi
                (0, 1), (0, 1),  # lut ltab
                (3, 11), (1, 11),  # derived n_rows = 1 * 3, keep = 3 - 2 / 1 (one column kept)
            ),
        ),
        (
            Pool(5, 200, 1, 2, 3, 4, 3, 3, 56, 16, 2, 8, 1, 1431655765, 32),  # mode 1: AVG
            _word(
                9, 0, 0,  # opcode wait signal
                (5, 10), (200, 8), (1, 2),  # src dst mode
                (2, 9), (3, 9), (4, 9), (3, 11), (3, 11),  # n_c n_oy n_ox n_fy n_fx
                (56, 10), (16, 10), (2, 10), (8, 10), (1, 10),  # s_c s_oy s_ox s_fy s_fx
                (1431655765, 31), (32, 6),  # m shift
                (0, 1), (0, 1), (0, 1),  # lut ltab cont
                (24, 27),  # derived n_win = 2 * 3 * 4, three OBUF count widths
            ),
        ),
        (End(), bytes(32)),
    ],
    "small": [
        (
            LoadAct(0xDEAD_BEEF, 2047, 4095, 1, 2, 3, 4, 5, 6, 0x8000_0000, 7, 127),
            _word(
                1, 0, 0,  # opcode wait signal
                (0xDEAD_BEEF, 32), (2047, 11),  # dram, dst
                (4095, 12), (1, 12), (2, 12),  # n_c n_y n_x
                (3, 12), (4, 12), (5, 12), (6, 12),  # pads
                (0x8000_0000, 32), (7, 32), (127, 8),  # s_c s_y pad_value
            ),
        ),
        (
            LoadWgt(0x10, 1023, 1024, wait=Token.CMP_LD, signal=Token.LD_CMP),
            _word(2, 0b0010, 0b0001, (0x10, 32), (1023, 10), (1024, 11)),
        ),
        (
            StoreAct(8, 511, 2, 512, 1, 64, 0),
            _word(4, 0, 0, (8, 32), (511, 9), (2, 10), (512, 10), (1, 10), (64, 32), (0, 32)),
        ),
        (
            Gemm(1000, 2047, 511, 0, 2048, 1, 2, 512, 1, 2047, 0, 1024, 1, 0, 1, 0, 0, 0, 0, -128, 127),
            _word(
                5, 0, 0,  # opcode wait signal
                (1000, 10), (2047, 11), (511, 9), (0, 1),  # wgt src dst reset
                (2048, 12), (1, 12), (2, 12), (512, 10), (1, 10),  # n_c n_fy n_fx n_oy n_ox
                (2047, 11), (0, 11), (1024, 11), (1, 11), (0, 11),  # s_c s_fy s_fx s_oy s_ox
                (1, 9), (0, 9),  # d_oy d_ox
                (0, 1), (0, 9), (0, 5), (-128, 8), (127, 8),  # rq odst prm lo hi
                (0, 1), (0, 1),  # lut ltab
                (512, 20),  # derived n_pix = 512 * 1
            ),
        ),
        (
            # 2 kernel rows x 3 columns, rows 701 IBUF words apart, columns 3 (dilation 3), pixels 3
            Dw(1023, 0, 511, 0, 2, 3, 701, 3, 3, 4, 20, 3, 4, 1, 0, 0, 0, -1, 0, wait=Token.ST_CMP),
            _word(
                6, 0b1000, 0,  # opcode wait signal
                (1023, 10), (0, 11), (511, 9), (0, 1),  # wgt src dst reset
                (2, 12), (3, 12), (701, 11), (3, 11),  # n_gy n_gx s_fy s_fx
                (3, 10), (4, 10), (20, 11), (3, 11), (4, 9), (1, 9),  # n_oy n_ox s_oy s_ox d_oy d_ox
                (0, 1), (0, 9), (0, 5), (-1, 8), (0, 8),  # rq odst prm lo hi
                (0, 1), (0, 1),  # lut ltab
                (6, 12), (2, 12),  # derived n_rows = 2 * 3, keep = 3 - 3 / 3 (two columns kept)
            ),
        ),
        (
            AddI(2047, 1024, 511, 512, 0x7FFF_FFFF, 1 << 30, 63, -128, 127, 1, wait=Token.LD_CMP, signal=Token.CMP_ST),
            _word(
                8, 0b0001, 0b0100,  # opcode wait signal
                (2047, 11), (1024, 11), (511, 9), (512, 10),  # src_a src_b dst n
                (0x7FFF_FFFF, 31), (1 << 30, 31), (63, 6), (-128, 8), (127, 8),  # m_a m_b shift lo hi
                (1, 1), (0, 1), (0, 1),  # sub lut ltab
            ),
        ),
        (
            Copy(3, 4, 1, 1 << 30, 30, -100, 90, 1, 0),
            _word(
                10, 0, 0, (3, 11), (4, 9), (1, 10), (1 << 30, 31), (30, 6), (-100, 8), (90, 8), (1, 1), (0, 1), (1, 10)
            ),  # ... lut ltab rep
        ),
        (
            LoadLut(0x100, 1, 1, wait=Token.CMP_LD),
            _word(11, 0b0010, 0, (0x100, 32), (1, 1), (1, 2)),  # dram, dst table, n_tables (count up to 2)
        ),
    ],
}
# fmt: on


@pytest.mark.parametrize(
    "preset, i", [(p, i) for p, words in HAND_WORDS.items() for i in range(len(words))], ids=lambda x: str(x)
)
def test_instruction_words_by_hand(preset: str, i: int) -> None:
    ins, word = HAND_WORDS[preset][i]
    enc = Encoding(PRESETS[preset])
    assert enc.encode(ins).hex() == word.hex()
    assert enc.decode(word) == ins


def test_a_word_spelled_out_in_hex() -> None:
    # LOAD_WGT on tiny, signal LD_CMP; every field on a nibble boundary: bits 0..11 0x102 (opcode 2,
    # wait 0, signal 1), 12..43 dram, 44..51 dst (8 bits), 52..60 n_words (9 bits).
    word = 0x100_AB_1234_5678_102
    enc = Encoding(PRESETS["tiny"])
    ins = LoadWgt(0x1234_5678, 0xAB, 256, signal=Token.LD_CMP)
    assert enc.encode(ins) == word.to_bytes(32, "little")
    assert enc.decode(word.to_bytes(32, "little")) == ins


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
    # 3 x 2 taps, columns 2 words apart, pixels 2: one column kept; pixels 4 apart: none; 1 apart: no
    # whole number of columns, none.
    for s_ox, keep in ((2, 1), (4, 0), (1, 0), (0, 0)):
        dw = Dw(0, 0, 0, 1, 3, 2, 9, 2, 2, 2, 8, s_ox, 2, 1)
        data = enc.encode(dw)
        assert [_field(enc, data, Dw, n) for n in ("n_rows", "keep")] == [6, keep]
        assert enc.decode(data) == dw
    assert [n for n, _, _ in enc.layout(Dw)][-2:] == ["n_rows", "keep"]
    gemm = Gemm(0, 0, 0, 1, 1, 1, 1, 7, 9, 0, 0, 0, 9, 1, 9, 1)
    assert _field(enc, enc.encode(gemm), Gemm, "n_pix") == 63
    pool = Pool(0, 0, 0, 2, 5, 7, 2, 2, 0, 0, 0, 0, 0)
    assert _field(enc, enc.encode(pool), Pool, "n_win") == 70
