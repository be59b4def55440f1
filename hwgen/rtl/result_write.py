"""ResultWrite: the CMP engine's write side (hwgen/rtl/cmp_engine.py), from a result word leaving
PPURequant or PPUAdd to its OBUF (or FBUF) write: the lookup stage, the write address and the
buffer select.

Write address: every OBUF writer latches its first word's address at its start cycle (``dst``, a
GEMM's or DW's ``odst``) and advances it by ``step`` per written word: COPY's stride (0 counts
as 1), else 1, so the words land densely. ``left`` counts the words still to write, and ``last``
(``left == 1`` as a register) ends a COPY, POOL, ADD or MUL at the edge of its last write; a GEMM
or DW ends by its unit's ``done`` and the drain instead.

Lookup (``lut`` on any OBUF writer): the word leaving PPURequant or PPUAdd addresses LBUF (lane
``j`` entry ``ltab·256 + q + 128``); the bytes are registered and written to OBUF ``LUT_LATENCY``
(2) edges after the word would have been.

FBUF (with ``AccelConfig.fbuf`` > 0): a GEMM's or DW's words with ``ofb`` go to FBUF instead of
OBUF, from ``odst``, in the cycles they would have gone to OBUF. With fusion stage P2
(``fuse_expand``), pixel (oy, ox) goes to FBUF word ``odst + oy·d_oy + ox·d_ox``, the instruction's
ABUF pixel strides (P2's expand GEMM writes its rows at the depthwise input's odd pitch). The words
leave PPURequant, and the lookup stage, in pixel order, ``ox`` fastest: GemmUnit issues the last
weight block's pixels, and DwUnit its pixels, in that order, and both stages keep it. So the address
walks as the ABUF one does: ``d_ox`` (in ``step``) along a row; after a row's ``n_ox``-th word, the
next row's first, ``d_oy`` after this row's (``row``); all latched at the start. Carrying each
pixel's ABUF address beside its word through PPURequant would do as well, but costs a register per
address bit in each of its ``8 + ppu_rate - 1`` (+ 2 with the lookup) stages; the walk costs the
row start, ``d_oy`` and a column count. Without ``fuse_expand`` none of it is built and the writes
are dense (``odst + p``: every P1 program's strides are dense), so a P1 config's Verilog is
unchanged.

This is no component of its own: it builds into the engine's module, so the engine's signals keep
their names (and the Verilog its shape) whichever file declares them.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value

from ..accel_config import AccelConfig
from ..encoding import Encoding

__all__ = ["ResultWrite"]


class ResultWrite:
    """The write side of ``engine`` (a :class:`~dian.hwgen.rtl.cmp_engine.CmpEngine`), whose ports
    ``lbuf_r_addr``, ``lbuf_r_data``, ``obuf_w_*`` and (with an FBUF) ``fbuf_w_*`` it drives or
    reads. The engine latches the registers through :meth:`lut_fields`, :meth:`dense` and
    :meth:`fused` at an instruction's start (and ``step`` and ``ofb`` at every start)."""

    def __init__(self, m: Module, cfg: AccelConfig, enc: Encoding, engine) -> None:
        self.m, self.cfg, self.engine = m, cfg, engine
        self.fb = cfg.words("fbuf")
        cw = enc.widths["obn"]  # COPY's and ADD's n, POOL's n_win: at most the OBUF depth
        # the write address runs over OBUF or, with ofb, FBUF (odst is as wide as the deeper one)
        self.addr, self.left = Signal(range(max(cfg.words("obuf"), self.fb))), Signal(2 * cw)
        # left == 1, as a register: it ends the instruction. Set at every start before it is read, so
        # it needs no reset (with one, Yosys 0.69's ABC9 fails an assertion on the 8x8 co-search config:
        # count_id(wire->name) == 0 in ABC_OPS_REINTEGRATE).
        self.last = Signal(name="obuf_last", reset_less=True)
        self.lut_on, self.ltab = Signal(), Signal(enc.widths["lt"])  # the instruction's pointwise stage
        # Stage P2 (fuse_expand): ofb writes at the ABUF pixel strides, step = d_ox, so step is as wide as
        # ABUF's addresses too; the walk's row registers exist only then.
        self.strided = bool(self.fb and cfg.fuse_expand)
        ab, abn = enc.widths["ab"], enc.widths["abn"]
        # the write address step: COPY's stride (0 counts as 1), a GEMM's or DW's d_ox with ofb (P2), else 1
        self.step = Signal(max(cw, ab) if self.strided else cw, name="step")
        if self.strided:
            self.row = Signal(len(self.addr), name="wr_row")  # the current pixel row's first word
            self.d_oy = Signal(ab, name="wr_d_oy")
            self.x_left = Signal(abn, name="wr_x_left")  # the row's words after this one (n_ox - 1 down to 0)
            self.n_ox1 = Signal(abn, name="wr_n_ox1")
            self.row_end = Signal(name="wr_row_end")  # x_left == 0, as a register
            self.one_col = Signal(name="wr_one_col")  # n_ox == 1
        # ``en``: a result word goes to OBUF (FBUF with ``ofb``) at this edge; ``ofb`` is latched at the
        # start (0 for every instruction without it, and without FBUF)
        self.en, self.ofb = (Signal() if self.fb else engine.obuf_w_en), Signal()

    def lut_fields(self, f) -> list:
        """Every OBUF writer's lookup stage: on (only with an LBUF) and its table."""
        return [self.lut_on.eq(f["lut"] if self.cfg.lut_tables else 0), self.ltab.eq(f["ltab"])]

    def dense(self, dst, n) -> list:
        """A COPY's, POOL's, ADD's or MUL's ``n`` words from OBUF word ``dst`` (at ``step``)."""
        return [self.left.eq(n), self.last.eq(n == 1), self.addr.eq(dst)]

    def fused(self, f) -> list:
        """A GEMM's or DW's fused requantization: its words to OBUF from ``odst``, densely, or with
        ``ofb`` to FBUF (P2: pixel (oy, ox) at ``odst + oy·d_oy + ox·d_ox``)."""
        out = [*self.lut_fields(f), *([self.ofb.eq(f["ofb"])] if self.fb else []), self.addr.eq(f["odst"])]
        if self.strided:
            out += [
                self.step.eq(Mux(f["ofb"], f["d_ox"], 1)),
                self.row.eq(f["odst"]),
                self.d_oy.eq(f["d_oy"]),
                self.x_left.eq(f["n_ox"] - 1),
                self.n_ox1.eq(f["n_ox"] - 1),
                self.row_end.eq(f["n_ox"] == 1),
                self.one_col.eq(f["n_ox"] == 1),
            ]
        return out

    @property
    def done(self) -> Value:
        """The last word of a COPY, POOL, ADD or MUL is written at this edge."""
        return self.en & self.last

    def look_up(self, res_valid: Value, res: Value) -> None:
        """The lookup stage of ``res`` (valid with ``res_valid``); :meth:`write` then writes it."""
        m, eng, L = self.m, self.engine, self.cfg.lanes
        # The lookup stage: a result's lanes address their LBUF bytes (entry q + 128 of table ltab:
        # q's sign bit flipped); the bytes come a cycle later and are registered (block RAM's slow
        # output), so with ``lut`` a word reaches OBUF LUT_LATENCY (2) edges after its result.
        looked, lut_valid, lut_q = Signal(), Signal(), Signal(8 * L)
        m.d.sync += [looked.eq(res_valid & self.lut_on), lut_valid.eq(looked), lut_q.eq(eng.lbuf_r_data)]
        for i in range(L):
            m.d.comb += eng.lbuf_r_addr[i].eq(Cat(res[8 * i : 8 * i + 8] ^ Const(0x80, 8), self.ltab))
        self._valid, self._word = Mux(self.lut_on, lut_valid, res_valid), Mux(self.lut_on, lut_q, res)

    def write(self) -> None:
        """The OBUF (FBUF) write of the word :meth:`look_up` passed on, and the address walk."""
        m, eng = self.m, self.engine
        m.d.comb += [self.en.eq(self._valid), eng.obuf_w_addr.eq(self.addr), eng.obuf_w_data.eq(self._word)]
        if self.fb:
            m.d.comb += [
                eng.obuf_w_en.eq(self.en & ~self.ofb),
                eng.fbuf_w_en.eq(self.en & self.ofb),
                eng.fbuf_w_addr.eq(self.addr),
                eng.fbuf_w_data.eq(eng.obuf_w_data),
            ]
        if not self.strided:
            with m.If(self.en):
                m.d.sync += [
                    self.addr.eq(self.addr + self.step),
                    self.left.eq(self.left - 1),
                    self.last.eq(self.left == 2),
                ]
            return
        with m.If(self.en):
            m.d.sync += [self.left.eq(self.left - 1), self.last.eq(self.left == 2)]
            with m.If(self.ofb & self.row_end):  # the next pixel row starts d_oy after this one's first word
                nxt = self.row + self.d_oy
                m.d.sync += [
                    self.addr.eq(nxt),
                    self.row.eq(nxt),
                    self.x_left.eq(self.n_ox1),
                    self.row_end.eq(self.one_col),
                ]
            with m.Else():
                m.d.sync += [
                    self.addr.eq(self.addr + self.step),
                    self.x_left.eq(self.x_left - 1),
                    self.row_end.eq(self.x_left == 1),
                ]
