"""The accelerator's instruction set (docs/accelerator.md, "Instructions").

Two in-order streams: MEM (LOAD_ACT, LOAD_WGT, LOAD_PRM, LOAD_LUT, STORE_ACT) and CMP
(GEMM, DW, ADD, MUL, POOL, COPY); both end with END. Every instruction
carries ``wait``/``signal`` masks over the four token queues (:class:`Token`).

Each instruction is a frozen dataclass whose fields are listed, in encoding
order, in its ``FIELDS`` with a width *kind*; :class:`~dian.hwgen.encoding.Encoding` turns the kinds
into bit widths for one AccelConfig (buffer address widths come from the
buffer depths) and packs an instruction into exactly 256 bits:

    bits 0..3 opcode | 4..7 wait mask | 8..11 signal mask | fields, LSB first
    | derived fields

little-endian in 32 bytes. *Derived* fields (``DERIVED``: GEMM's pixel count,
POOL's window count, DW's array rows and kept window columns) are functions of
the others that the encoder computes, so the RTL does no multiplication or
division between its instruction memory and its registers; decoding ignores
them. A value that does not fit its field raises
:class:`ProgramError` naming the instruction, the field, the value and the width.
"""

from __future__ import annotations

from .isa_base import (  # the vocabulary, re-exported: the instruction set is one namespace
    CMP_SIGNALS,
    CMP_WAITS,
    FUSED_REQUANT,
    HEADER_BITS,
    INSTRUCTION_BITS,
    INSTRUCTION_BYTES,
    LUT_FIELDS,
    MEM_SIGNALS,
    MEM_WAITS,
    Instr,
    Opcode,
    PoolMode,
    Token,
    dw_keep,
    instr_class,
)


@instr_class(Opcode.END, ())
class End(Instr):
    """Last instruction of a stream in a program chunk."""


@instr_class(
    Opcode.LOAD_ACT,
    (
        ("dram", "dram"),
        ("dst", "ib"),
        ("n_c", "ibn"),
        ("n_y", "ibn"),
        ("n_x", "ibn"),
        ("pad_top", "ibn"),
        ("pad_bottom", "ibn"),
        ("pad_left", "ibn"),
        ("pad_right", "ibn"),
        ("s_c", "dram"),
        ("s_y", "dram"),
        ("pad_value", "i8"),
    ),
)
class LoadAct(Instr):
    """DRAM -> IBUF box of ``n_c`` channel blocks x ``n_y`` rows x ``n_x`` words,
    stored dense ([c][y][x]) from IBUF word ``dst``. The outer ``pad_*`` rows and
    columns are filled with ``pad_value`` lanes; the inner ones come from DRAM,
    word (c, y, x) at ``dram + c*s_c + (y - pad_top)*s_y + (x - pad_left)*L``."""

    dram: int
    dst: int
    n_c: int
    n_y: int
    n_x: int
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    s_c: int = 0
    s_y: int = 0
    pad_value: int = 0


@instr_class(Opcode.LOAD_WGT, (("dram", "dram"), ("dst", "wb"), ("n_words", "wbn")))
class LoadWgt(Instr):
    """DRAM -> WBUF: ``n_words`` contiguous words."""

    dram: int
    dst: int
    n_words: int


@instr_class(Opcode.LOAD_PRM, (("dram", "dram"), ("dst", "pb"), ("n_entries", "pbn")))
class LoadPrm(Instr):
    """DRAM -> PBUF: ``n_entries`` channel blocks of parameters (L int32 bias,
    L int32 multiplier, L int8 shift each, contiguous)."""

    dram: int
    dst: int
    n_entries: int


@instr_class(Opcode.LOAD_LUT, (("dram", "dram"), ("dst", "lt"), ("n_tables", "ltn")))
class LoadLut(Instr):
    """DRAM -> LBUF: ``n_tables`` lookup tables from table ``dst`` on; a table is 256
    contiguous words, word ``e`` holding entry ``e`` of every lane's table."""

    dram: int
    dst: int
    n_tables: int


@instr_class(
    Opcode.STORE_ACT,
    (("dram", "dram"), ("src", "ob"), ("n_c", "obn"), ("n_y", "obn"), ("n_x", "obn"), ("s_c", "dram"), ("s_y", "dram")),
)
class StoreAct(Instr):
    """OBUF -> DRAM box: dense OBUF words from ``src`` to
    ``dram + c*s_c + y*s_y + x*L``."""

    dram: int
    src: int
    n_c: int
    n_y: int
    n_x: int
    s_c: int = 0
    s_y: int = 0


@instr_class(
    Opcode.GEMM,
    (
        ("wgt", "wb"),
        ("src", "ib"),
        ("dst", "ab"),
        ("reset", "bit"),
        ("n_c", "ibn"),
        ("n_fy", "ibn"),
        ("n_fx", "ibn"),
        ("n_oy", "abn"),
        ("n_ox", "abn"),
        ("s_c", "ib"),
        ("s_fy", "ib"),
        ("s_fx", "ib"),
        ("s_oy", "ib"),
        ("s_ox", "ib"),
        ("d_oy", "ab"),
        ("d_ox", "ab"),
        *FUSED_REQUANT,
        *LUT_FIELDS,
        ("sfb", "fbit"),
        ("ofb", "fbit"),
    ),
)
class Gemm(Instr):
    """For every weight block (c, fy, fx) (at WBUF word ``wgt + ((c*n_fy + fy)*n_fx + fx)*L``)
    and pixel (oy, ox): ``ABUF[dst + oy*d_oy + ox*d_ox] += W^T . IBUF[src + c*s_c + fy*s_fy
    + fx*s_fx + oy*s_oy + ox*s_ox]``. ``reset``: the first block overwrites instead of adding.
    ``rq``: the last block's sums are also requantized on their way out into OBUF, pixel p
    (row-major) at ``odst + p``: ``clamp(round_shift((acc + bias) * M, s), lo, hi)`` with
    the bias, M and s of PBUF entry ``prm``.

    With a fusion buffer (``AccelConfig.fbuf``; docs/accelerator.md, "Fusion buffer"): ``sfb`` reads
    the activation operand from FBUF instead of IBUF (``src`` an absolute FBUF word), ``ofb`` sends
    the requantized words to FBUF instead of OBUF: pixel (oy, ox) to word ``odst + oy*d_oy + ox*d_ox``
    (ABUF's pixel strides; ``odst + p`` when they are dense, as every stage-P1 program's are; stage P2
    writes the expand GEMM's rows at the depthwise input's odd pitch). Timing is the same either way."""

    wgt: int
    src: int
    dst: int
    reset: int
    n_c: int
    n_fy: int
    n_fx: int
    n_oy: int
    n_ox: int
    s_c: int
    s_fy: int
    s_fx: int
    s_oy: int
    s_ox: int
    d_oy: int
    d_ox: int
    rq: int = 0
    odst: int = 0
    prm: int = 0
    lo: int = -128
    hi: int = 127
    lut: int = 0
    ltab: int = 0
    sfb: int = 0
    ofb: int = 0

    DERIVED = (("n_pix", "abn2"),)

    def derived(self) -> dict[str, int]:
        return {"n_pix": self.n_oy * self.n_ox}


@instr_class(
    Opcode.DW,
    (
        ("wgt", "wb"),
        ("src", "ib"),
        ("dst", "ab"),
        ("reset", "bit"),
        ("n_gy", "ibn"),
        ("n_gx", "ibn"),
        ("s_fy", "ib"),
        ("s_fx", "ib"),
        ("n_oy", "abn"),
        ("n_ox", "abn"),
        ("s_oy", "ib"),
        ("s_ox", "ib"),
        ("d_oy", "ab"),
        ("d_ox", "ab"),
        *FUSED_REQUANT,
        *LUT_FIELDS,
        ("ofb", "fbit"),
        ("sfb", "fbit"),
    ),
)
class Dw(Instr):
    """Depthwise, one channel block and one tap group of ``n_gy`` kernel rows x ``n_gx`` columns
    (docs/accelerator.md, "Depthwise v2"): for array rows r < ``n_gy * n_gx`` (j = r // n_gx,
    c = r % n_gx; weights WBUF word ``wgt + r``, lane = channel) and pixels:
    ``ABUF[dst + oy*d_oy + ox*d_ox][l] += w[r][l] * IBUF[src + j*s_fy + c*s_fx + oy*s_oy +
    ox*s_ox][l]``. ``reset`` overwrites instead of adding; ``rq`` as GEMM's (every pixel's sum is
    final). The group's rows must sit in distinct IBUF banks (``j*s_fy`` distinct modulo
    ``AccelConfig.ibuf_banks``), at most one row a bank. ``ofb``: the requantized words go to FBUF
    word ``odst + p`` instead of OBUF (a fused block's depthwise output, read by the next GEMM).
    ``sfb`` (fusion stage P2): the window words come from FBUF word ``src + ...`` (absolute, banked
    like the IBUF, the same bank rule) instead of IBUF; the timing is the same."""

    wgt: int
    src: int
    dst: int
    reset: int
    n_gy: int
    n_gx: int
    s_fy: int
    s_fx: int
    n_oy: int
    n_ox: int
    s_oy: int
    s_ox: int
    d_oy: int
    d_ox: int
    rq: int = 0
    odst: int = 0
    prm: int = 0
    lo: int = -128
    hi: int = 127
    lut: int = 0
    ltab: int = 0
    ofb: int = 0
    sfb: int = 0

    # The group's array rows, and the window columns kept from one pixel to the next.
    DERIVED = (("n_rows", "ibn"), ("keep", "ibn"))

    def derived(self) -> dict[str, int]:
        return {"n_rows": self.n_gy * self.n_gx, "keep": dw_keep(self.n_gx, self.s_fx, self.s_ox)}


@instr_class(
    Opcode.ADD,
    (
        ("src_a", "ib"),
        ("src_b", "ib"),
        ("dst", "ob"),
        ("n", "obn"),
        ("m_a", "m31"),
        ("m_b", "m31"),
        ("shift", "sh"),
        ("lo", "i8"),
        ("hi", "i8"),
        ("sub", "bit"),
        *LUT_FIELDS,
        ("bfb", "fbit"),
    ),
)
class AddI(Instr):
    """``n`` words: ``OBUF[dst+i] = clamp(round_shift(a*m_a + b*m_b, shift), lo, hi)``
    with a, b the IBUF words ``src_a+i``, ``src_b+i``; with ``sub``, ``a*m_a - b*m_b``. ``bfb``:
    b is the FBUF word ``src_b+i`` (absolute) instead (a fused block's residual add)."""

    src_a: int
    src_b: int
    dst: int
    n: int
    m_a: int
    m_b: int
    shift: int
    lo: int
    hi: int
    sub: int = 0
    lut: int = 0
    ltab: int = 0
    bfb: int = 0


@instr_class(
    Opcode.MUL,
    (
        ("src_a", "ib"),
        ("src_b", "ib"),
        ("dst", "ob"),
        ("n", "obn"),
        ("m", "m31"),
        ("shift", "sh"),
        ("lo", "i8"),
        ("hi", "i8"),
        ("bcast", "bit"),
        *LUT_FIELDS,
    ),
)
class MulI(Instr):
    """``n`` words: ``OBUF[dst+i] = clamp(round_shift(a*b*m, shift), lo, hi)`` with a the IBUF
    word ``src_a+i`` and b the word ``src_b+i``, or with ``bcast`` the word ``src_b`` for every i
    (one channel block of a per-channel gate)."""

    src_a: int
    src_b: int
    dst: int
    n: int
    m: int
    shift: int
    lo: int
    hi: int
    bcast: int = 0
    lut: int = 0
    ltab: int = 0


@instr_class(
    Opcode.COPY,
    (
        ("src", "ib"),
        ("dst", "ob"),
        ("n", "obn"),
        ("m", "m31"),
        ("shift", "sh"),
        ("lo", "i8"),
        ("hi", "i8"),
        *LUT_FIELDS,
        ("rep", "obn"),
        ("stride", "obn"),
    ),
)
class Copy(Instr):
    """``n`` words: ``OBUF[dst + i*stride] = clamp(round_shift(IBUF[src + i // rep] * m, shift), lo, hi)``:
    with ``rep`` > 1 each IBUF word is written ``rep`` times in a row (nearest upsampling along a
    row), with ``stride`` > 1 the words land ``stride`` apart (interleaving the phases of a
    transposed convolution); 0 counts as 1 in both."""

    src: int
    dst: int
    n: int
    m: int
    shift: int
    lo: int
    hi: int
    lut: int = 0
    ltab: int = 0
    rep: int = 1
    stride: int = 0


@instr_class(
    Opcode.POOL,
    (
        ("src", "ib"),
        ("dst", "ob"),
        ("mode", "mode"),
        ("n_c", "obn"),
        ("n_oy", "obn"),
        ("n_ox", "obn"),
        ("n_fy", "ibn"),
        ("n_fx", "ibn"),
        ("s_c", "ib"),
        ("s_oy", "ib"),
        ("s_ox", "ib"),
        ("s_fy", "ib"),
        ("s_fx", "ib"),
        ("m", "m31"),
        ("shift", "sh"),
        *LUT_FIELDS,
        ("cont", "bit"),
    ),
)
class Pool(Instr):
    """Window max or sum per lane: output word (c, oy, ox) at ``dst + (c*n_oy + oy)*n_ox + ox``
    reduces IBUF ``src + c*s_c + oy*s_oy + ox*s_ox + fy*s_fy + fx*s_fx`` over the window;
    AVG then applies ``clamp(round_shift(sum * m, shift), -128, 127)``.

    ``cont``: the first window goes on from the running max or sum the previous POOL's last
    window left, instead of starting afresh. A window too big for an IBUF half (a global average
    pool of a large map) runs as POOLs over bands of its rows, each after the first with ``cont``;
    every band writes the result so far, and the last band's is the window's."""

    src: int
    dst: int
    mode: int
    n_c: int
    n_oy: int
    n_ox: int
    n_fy: int
    n_fx: int
    s_c: int
    s_oy: int
    s_ox: int
    s_fy: int
    s_fx: int
    m: int = 0
    shift: int = 0
    lut: int = 0
    ltab: int = 0
    cont: int = 0

    DERIVED = (("n_win", "obn3"),)

    def derived(self) -> dict[str, int]:
        return {"n_win": self.n_c * self.n_oy * self.n_ox}


INSTRUCTIONS: dict[Opcode, type[Instr]] = {
    c.OPCODE: c for c in (End, LoadAct, LoadWgt, LoadPrm, LoadLut, StoreAct, Gemm, Dw, AddI, Copy, Pool, MulI)
}
MEM_OPS = frozenset({Opcode.LOAD_ACT, Opcode.LOAD_WGT, Opcode.LOAD_PRM, Opcode.LOAD_LUT, Opcode.STORE_ACT, Opcode.END})
CMP_OPS = frozenset({Opcode.GEMM, Opcode.DW, Opcode.ADD, Opcode.COPY, Opcode.POOL, Opcode.MUL, Opcode.END})
