"""The fusion buffer's instruction bits (``ofb`` on GEMM and DW, ``sfb`` on GEMM, ``bfb`` on ADD):
words put together by hand, round trips, and no change at all to a config without FBUF."""

from __future__ import annotations

import dataclasses

import pytest

from dian.errors import ProgramError
from dian.hwgen.accel_config import BufferConfig, validate
from dian.hwgen.encoding import Encoding
from dian.hwgen.isa import AddI, Dw, Gemm, Token
from dian.hwgen.isa_queries import fbuf_fields, writes_obuf
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import Target
from dian.search.explore import encoding_misfit


def _word(opcode: int, wait: int, signal: int, *fields: tuple[int, int]) -> bytes:
    """A word by hand (docs/accelerator.md, "Instructions"): opcode, wait, signal in bits 0..11,
    then each ``(value, width)`` LSB first, two's complement, little-endian in 32 bytes."""
    word, pos = opcode | wait << 4 | signal << 8, 12
    for value, width in fields:
        word |= (value & ((1 << width) - 1)) << pos
        pos += width
    return word.to_bytes(32, "little")


# tiny with a 4096-byte FBUF: 1024 words of 4 bytes, so FBUF addresses are 10 bits and ``odst``
# (OBUF: 256 words, 8 bits) widens to 10; the select bits are 1 bit each.
TINY_FB = validate(dataclasses.replace(PRESETS["tiny"], fbuf=BufferConfig(4096)))


def test_add_with_bfb_by_hand() -> None:
    ins = AddI(3, 700, 5, 100, 1 << 30, 12345, 20, -128, 127, bfb=1, signal=Token.CMP_ST)
    # src_a ib 10, src_b ib 10, dst ob 8, n obn 9, m_a m31, m_b m31, shift 6, lo 8, hi 8, sub, lut,
    # ltab (2 LBUF tables: 1 bit), bfb.
    fields = [(3, 10), (700, 10), (5, 8), (100, 9), (1 << 30, 31), (12345, 31), (20, 6), (-128, 8), (127, 8)]
    word = _word(8, 0, 0b0100, *fields, (0, 1), (0, 1), (0, 1), (1, 1))
    enc = Encoding(TINY_FB)
    assert enc.encode(ins).hex() == word.hex()
    assert enc.decode(word) == ins


def test_dw_with_ofb_by_hand() -> None:
    ins = Dw(4, 9, 2, 1, 2, 3, 5, 1, 1, 2, 0, 1, 0, 1, rq=1, odst=1000, prm=3, lo=0, hi=6, ofb=1)
    # wgt wb 8, src ib 10, dst ab 8, reset, n_gy ibn 11, n_gx 11, s_fy ib 10, s_fx 10, n_oy abn 9,
    # n_ox 9, s_oy 10, s_ox 10, d_oy ab 8, d_ox 8, rq, odst of 10, prm pb 5, lo 8, hi 8, lut, ltab 1,
    # ofb, sfb (stage P2: the window from FBUF); then the derived n_rows (6) and keep (2 columns kept:
    # s_ox / s_fx = 1 < 3) at ibn 11.
    fields = [(4, 8), (9, 10), (2, 8), (1, 1), (2, 11), (3, 11), (5, 10), (1, 10), (1, 9), (2, 9)]
    fields += [(0, 10), (1, 10), (0, 8), (1, 8), (1, 1), (1000, 10), (3, 5), (0, 8), (6, 8), (0, 1), (0, 1)]
    word = _word(6, 0, 0, *fields, (1, 1), (0, 1), (6, 11), (2, 11))
    enc = Encoding(TINY_FB)
    assert enc.encode(ins).hex() == word.hex()
    assert enc.decode(word) == ins


def test_gemm_select_bits_round_trip_and_sit_after_the_lut_fields() -> None:
    enc = Encoding(TINY_FB)
    g = Gemm(0, 1023, 0, 1, 3, 1, 1, 2, 4, 8, 0, 0, 4, 1, 4, 1, rq=1, odst=900, prm=1, sfb=1, ofb=1)
    assert enc.decode(enc.encode(g)) == g
    names = [n for n, _, _ in enc.layout(Gemm)]
    assert names[names.index("ltab") + 1 : names.index("ltab") + 3] == ["sfb", "ofb"]
    assert {n: w for n, _, w in enc.layout(Gemm)}["odst"] == 10


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_without_fbuf_the_select_bits_have_no_width_and_cannot_be_set(name: str) -> None:
    enc = Encoding(PRESETS[name])
    assert enc.widths["fbit"] == 0 and enc.widths["of"] == enc.widths["ob"]
    with pytest.raises(ProgramError, match=r"DW\.ofb = 1 does not fit its field; it must be an unsigned 0-bit"):
        enc.encode(Dw(0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, ofb=1))


@pytest.mark.parametrize("kib", [32, 64])
def test_default_with_fbuf_still_fits_the_instruction_word(kib: int) -> None:
    cfg = validate(dataclasses.replace(PRESETS["default"], fbuf=BufferConfig(kib * 1024)))
    assert encoding_misfit(cfg) == ""
    enc = Encoding(cfg)
    assert enc.widths["of"] == (kib * 1024 // 16 - 1).bit_length()  # 11 or 12 bits, OBUF's 10


def test_fbuf_writers_do_not_count_as_obuf_writers() -> None:
    dw = Dw(0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, rq=1, odst=7)
    assert writes_obuf(dw) and fbuf_fields(dw) == ()
    fused = dataclasses.replace(dw, ofb=1)
    assert not writes_obuf(fused) and fbuf_fields(fused) == ("odst",)
    add = AddI(0, 5, 0, 4, 1, 1, 0, -128, 127, bfb=1)
    assert writes_obuf(add) and fbuf_fields(add) == ("src_b",)


def test_an_fbuf_that_overflows_the_word_is_an_encoding_misfit() -> None:
    """A config whose GEMM fits the word without FBUF (abuf 64 KiB, ibuf 128 KiB on default: 252 bits)
    but not with a 128 KiB FBUF: odst widens from OBUF's 10 bits to 13, and sfb, ofb take 2."""
    big = dataclasses.replace(
        PRESETS["default"], abuf=BufferConfig(65536), ibuf=BufferConfig(131072), target=Target.GENERIC
    )
    assert encoding_misfit(validate(big)) == ""
    why = encoding_misfit(validate(dataclasses.replace(big, fbuf=BufferConfig(131072))))
    assert why.startswith("a GEMM instruction needs 257 bits") and "fbuf" in why
