"""CmpEngine: the in-order interpreter of a chunk's CMP stream.

Sequencing: :class:`~dian.hwgen.rtl.sequencer.InstructionHead` (FETCH, DECODE = start cycle,
tokens consumed at the start and signalled at the edge ending the last
execution cycle, END lasts one cycle and halts).

COPY: cycle ``S`` latches the fields; cycles ``S+1 .. S+n`` present word
``i``'s synchronous IBUF read; the read data is registered
(block RAM outputs are slow: every user but the PE array takes them one edge
late, GEMM's AccUpdate included); the words enter
:class:`~dian.hwgen.rtl.ppu_requant.PPURequant` in ``S+3 .. S+n+2`` and leave it
``LATENCY`` (8) edges later into OBUF, dense from ``dst``; the last OBUF
write is at the edge ending ``S + n + 2 + LATENCY``: ``D = n + 3 + LATENCY``.

GEMM: :class:`~dian.hwgen.rtl.gemm_unit.GemmUnit` (PE array, AccUpdate, ABUF
read-modify-write) from ``S``; the engine waits in GEMM until the unit's
``done`` (the last ABUF write): ``D = 1 + L + (nb-1)·max(P, L, 4) + P + 6``.
With ``rq`` (GEMM and DW) each final sum the unit writes to ABUF (its
``rq_valid``) also enters PPURequant in that cycle, with the instruction's
PBUF entry (read from the latch on) and clamp, and goes to OBUF from
``odst`` ``LATENCY`` edges later; the engine drains those cycles after
``done``: ``D`` + 8.

POOL: :class:`~dian.hwgen.rtl.pool_unit.PoolUnit` walks the windows (one IBUF
word a cycle from ``S+1``) into PPUPool, whose window results enter
PPURequant (bias 0, M = 1 and s = 0 for MAX) and go to OBUF as above:
``D = n·w + 4 + LATENCY`` for n windows of w words.

ADD: from ``S+1`` the ``a`` and ``b`` words alternate on the IBUF port (two
cycles a word) into :class:`~dian.hwgen.rtl.ppu_add.PPUAdd`; the last ``b`` is
read in ``S+2n`` and written to OBUF ``2 + PPUAdd.LATENCY`` later:
``D = 2n + 3 + 6``.

MUL: ADD's read pattern (``b`` from one address with ``bcast``: a per-channel
gate); the ``a`` word is held, and each lane's int8 × int8 product (LUT-built)
is registered when the ``b`` word arrives and enters PPURequant with bias 0
and the instruction's M, s: ``D = 2n + 3 + 1 + 8``.

DW (with the depthwise dataflow): :class:`~dian.hwgen.rtl.dw_unit.DwUnit`
walks the window columns into the window register, a word from each IBUF bank
a cycle (the banks' further reads on ``ibuf_x_*``), and shares GemmUnit's array
path; the engine waits in GEMM until the last ABUF write: ``D = R + N + 8`` for
a group of R taps whose window reads N columns.

``ppu_rate`` R > 1: PPURequant takes a word every R cycles (``rq.latency`` = 8 + R - 1); COPY
reads a word every R cycles, MUL every max(2, R), PoolUnit, GemmUnit and DwUnit pace their
requantized outputs likewise (hwgen/timing.py, "ppu_rate").

The write side (:class:`~dian.hwgen.rtl.result_write.ResultWrite`, whose docstring has its
timing): the OBUF write address, the OBUF/FBUF select and the lookup stage. Lookup (``lut`` on any
OBUF writer) adds ``LUT_LATENCY`` (2) to every ``D`` above. Without an LBUF (``lut_tables`` = 0) an
instruction with the bit set raises ``error`` (sim/machine: a ProgramError).

FBUF (with ``AccelConfig.fbuf`` > 0; docs/accelerator.md, "Fusion buffer"): the ``fbuf_*`` ports.
Its read address is the IBUF port's, and its data replaces the IBUF's where the instruction says so:
at the PE array for a GEMM with ``sfb``, into the registered read data for ADD's ``b`` words with
``bfb`` (the same cycles as from IBUF: ADD still reads its two words in turn on one port). The words
leaving PPURequant (or the lookup stage) of a GEMM or DW with ``ofb`` go to FBUF from ``odst`` in
the cycles they would have gone to OBUF (ResultWrite). No duration changes. With fusion stage P2
(``AccelConfig.fuse_expand``, and only then, so a P1 config's Verilog is unchanged): a DW with
``sfb`` takes its window words from FBUF too, its first kernel row's through the IBUF port's
address, the further rows' from FBUF's reads ``j >= 1`` at the ``ibuf_x_addr``/``ibuf_x_en`` the
banked IBUF gets (core.py wires both), their data on ``fbuf_x_data``; and an ``ofb`` write goes to
``odst + oy·d_oy + ox·d_ox`` (ResultWrite's walk).

Status: END, COPY, GEMM and DW (with or without ``rq``), POOL, ADD, MUL. Any other opcode (a MEM
instruction, the retired REQUANT's 7, an unused value) or DW without the depthwise dataflow
or an OBUF writer with ``lut`` and no LBUF raises ``error`` — sticky until reset — and halts the
engine; the top level reports it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig
from ..dsp_plan import plan_dsps
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, AddI, Copy, Dw, Gemm, MulI, Opcode, Pool, PoolMode
from ..timing import LUT_LATENCY
from .decode import fields
from .gemm_unit import GemmUnit
from .multiplier import product
from .pool_unit import PoolUnit
from .ppu_add import PPUAdd
from .ppu_requant import PPURequant
from .result_write import ResultWrite
from .sequencer import InstructionHead

__all__ = ["CmpEngine"]


class CmpEngine(wiring.Component):
    """The CMP engine of ``cfg``."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        nx = cfg.ibuf_banks - 1  # a DW's further kernel rows, one IBUF bank each (GemmUnit's ibuf_x_*)
        extra = (
            {
                "ibuf_x_addr": Out(ArrayLayout(range(cfg.words("ibuf")), nx)),
                "ibuf_x_en": Out(nx),
                "ibuf_x_data": In(ArrayLayout(8 * cfg.lanes, nx)),
            }
            if nx
            else {}
        )
        fb = cfg.words("fbuf")
        if fb:  # the fusion buffer: one read (the IBUF port's address), one write (OBUF's, by ofb)
            extra |= {
                "fbuf_r_addr": Out(range(fb)),
                "fbuf_r_data": In(8 * cfg.lanes),
                "fbuf_w_en": Out(1),
                "fbuf_w_addr": Out(range(fb)),
                "fbuf_w_data": Out(8 * cfg.lanes),
            }
        if fb and nx and cfg.fuse_expand:  # stage P2: a DW with sfb reads FBUF's further banks (ibuf_x_addr/en)
            extra["fbuf_x_data"] = In(ArrayLayout(8 * cfg.lanes, nx))
        super().__init__(
            {
                **extra,
                "launch": In(1),
                "halted": Out(1),
                "imem_addr": Out(range(cfg.imem_instructions)),
                "imem_data": In(INSTRUCTION_BITS),
                "tokens": In(4),
                "consume": Out(4),
                "signal": Out(4),
                "busy_pe": Out(32),  # added to the busy-PE counter this cycle
                "ibuf_r_addr": Out(range(cfg.words("ibuf"))),
                "ibuf_r_data": In(8 * cfg.lanes),
                "wbuf_r_addr": Out(range(cfg.words("wbuf"))),
                "wbuf_r_data": In(8 * cfg.lanes),
                "abuf_r_addr": Out(range(cfg.words("abuf"))),
                "abuf_r_data": In(cfg.acc_bits * cfg.lanes),
                "abuf_w_en": Out(1),
                "abuf_w_addr": Out(range(cfg.words("abuf"))),
                "abuf_w_data": Out(cfg.acc_bits * cfg.lanes),
                "pbuf_r_addr": Out(range(cfg.pbuf_entries)),
                "pbuf_r_data": In(8 * cfg.pbuf_entry_bytes),
                # LBUF: every lane's lookup address, and the bytes read a cycle later
                "lbuf_r_addr": Out(ArrayLayout(range(max(2, cfg.lbuf_entries)), cfg.lanes)),
                "lbuf_r_data": In(8 * cfg.lanes),
                "obuf_w_en": Out(1),
                "obuf_w_addr": Out(range(cfg.words("obuf"))),
                "obuf_w_data": Out(8 * cfg.lanes),
                "error": Out(1),  # sticky: an instruction this engine cannot run (see the docstring)
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        head = InstructionHead(m, cfg, self)
        word = head.word
        L, enc, fb = cfg.lanes, self.enc, cfg.words("fbuf")
        p2 = fb and cfg.fuse_expand  # fusion stage P2: DW sfb, ofb writes at the ABUF strides
        cw = enc.widths["obn"]  # COPY's and ADD's n, POOL's n_win: at most the OBUF depth

        # PPU stream: read side (counters) and write side (PPURequant output).
        R = cfg.ppu_rate  # PPURequant takes a word every R cycles: its feeds are paced (hwgen/timing.py)
        m.submodules.requant = rq = PPURequant(L, cfg.acc_bits, rate=R, dsp=plan_dsps(cfg).requant)
        is_copy = Signal()  # the requantizer's bias 0, M and s from the instruction (else PBUF entry prm)
        rd_addr = Signal(enc.widths["ib"])
        prm = Signal(range(cfg.pbuf_entries))
        left = Signal(2 * cw)
        mult, shift = Signal(31), Signal(6)
        lo, hi = Signal(8), Signal(8)
        wr = ResultWrite(m, cfg, enc, self)  # the write side: lookup stage, OBUF/FBUF address (result_write.py)
        valid1 = Signal()
        m.submodules.gemm = gemm = GemmUnit(cfg)
        m.submodules.pool = pool = PoolUnit(cfg)
        m.submodules.add = add = PPUAdd(L, dsp=plan_dsps(cfg).add)
        in_gemm, is_pool, is_add = Signal(), Signal(), Signal()
        fused, drain = Signal(), Signal(range(rq.latency + LUT_LATENCY))
        pace = Signal(range(max(R, 2)), name="ppu_pace")  # cycles until the next word may go to PPURequant (COPY, MUL)

        def two_operands(f, m_a):
            """ADD's and MUL's common latches: a and b words alternate from ``src_a`` and ``src_b``."""
            return [
                *wr.lut_fields(f),
                is_add.eq(1),
                is_pool.eq(0),
                rd_addr.eq(f["src_a"]),
                b_addr.eq(f["src_b"]),
                operand.eq(0),
                left.eq(f["n"]),
                *wr.dense(f["dst"], f["n"]),
                mult.eq(m_a),
                shift.eq(f["shift"]),
                lo.eq(f["lo"]),
                hi.eq(f["hi"]),
            ]

        # FBUF read selects, latched at the start (0 for every instruction that has none, and without FBUF)
        sfb, bfb = Signal(), Signal()

        def fb_bit(f, name):
            return [{"sfb": sfb, "bfb": bfb}[name].eq(f[name])] if fb else []

        def fused_fields(f):
            """A GEMM's or DW's fused requantization: its final sums go to OBUF (FBUF with ``ofb``)
            from ``odst``."""
            return [
                *wr.fused(f),
                fused.eq(f["rq"]),
                is_copy.eq(0),
                prm.eq(f["prm"]),
                lo.eq(f["lo"]),
                hi.eq(f["hi"]),
            ]

        b_addr, operand, add_valid = Signal(enc.widths["ib"]), Signal(), Signal()
        mult_b, sub = Signal(31), Signal()
        rep, rep_count = Signal(cw), Signal(cw)  # COPY: each word read rep times (0 counts as 1)
        # MUL: ADD's read pattern; the a word is held, each lane's a*b registered when b comes.
        is_mul, bcast, mul_valid = Signal(), Signal(), Signal()
        held_a = Signal(8 * L)
        prods = [Signal(signed(16), name=f"mul_prod{i}") for i in range(L)]
        rd = Mux(is_add & operand, b_addr, rd_addr)
        add_valid2, operand2, valid2 = Signal(), Signal(), Signal()
        # The activation words: IBUF's, or FBUF's for a GEMM (with P2 a DW too: its first kernel row's;
        # the further rows' below) with sfb and for ADD's b words with bfb (operand2: the word on the
        # read port is a b word).
        x_gemm, x_ppu = self.ibuf_r_data, self.ibuf_r_data
        if fb:
            x_gemm = Mux(sfb, self.fbuf_r_data, self.ibuf_r_data)
            x_ppu = Mux(bfb & operand2, self.fbuf_r_data, self.ibuf_r_data)
            m.d.comb += self.fbuf_r_addr.eq(self.ibuf_r_addr)
        # Block RAM read data has a slow clock-to-output: every user but the PE
        # array (whose first stage is a register) takes it one edge later.
        ibuf_q, abuf_q, pbuf_q = Signal(8 * L), Signal(cfg.acc_bits * L), Signal(8 * cfg.pbuf_entry_bytes)
        m.d.sync += [ibuf_q.eq(x_ppu), abuf_q.eq(self.abuf_r_data), pbuf_q.eq(self.pbuf_r_data)]
        add_mult = Signal(31)  # PPUAdd's multiplier for the word in ibuf_q, selected a cycle ahead (no mux at its DSPs)
        m.d.comb += [
            self.ibuf_r_addr.eq(Mux(in_gemm, gemm.ibuf_r_addr, Mux(is_pool, pool.ibuf_r_addr, rd))),
            add.in_valid.eq(add_valid2 & ~is_mul),
            add.x.eq(ibuf_q),
            add.mult.eq(add_mult),
            add.shift.eq(shift),
            add.lo.eq(lo.as_signed()),
            add.hi.eq(hi.as_signed()),
            add.subtract.eq(sub),
            pool.instr.eq(word),
            pool.ibuf_r_data.eq(ibuf_q),
            self.abuf_r_addr.eq(gemm.abuf_r_addr),
            self.pbuf_r_addr.eq(prm),
            gemm.instr.eq(word),
            gemm.ibuf_r_data.eq(x_gemm),
            self.wbuf_r_addr.eq(gemm.wbuf_r_addr),
            gemm.wbuf_r_data.eq(self.wbuf_r_data),
            gemm.abuf_r_data.eq(abuf_q),
            self.abuf_w_en.eq(gemm.abuf_w_en),
            self.abuf_w_addr.eq(gemm.abuf_w_addr),
            self.abuf_w_data.eq(gemm.abuf_w_data),
            self.busy_pe.eq(gemm.busy_pe),
        ]
        if cfg.ibuf_banks > 1:
            m.d.comb += [
                self.ibuf_x_addr.eq(gemm.ibuf_x_addr),
                self.ibuf_x_en.eq(gemm.ibuf_x_en & in_gemm.replicate(cfg.ibuf_banks - 1)),
                gemm.ibuf_x_data.eq(Mux(sfb, self.fbuf_x_data, self.ibuf_x_data) if p2 else self.ibuf_x_data),
            ]
        m.d.sync += [
            valid1.eq(0),
            add_valid.eq(0),
            operand2.eq(operand),
            add.operand.eq(operand2),
            add_mult.eq(Mux(operand2, mult_b, mult)),
            valid2.eq(valid1),
            add_valid2.eq(add_valid),
            mul_valid.eq(add_valid2 & is_mul & add.operand),
        ]
        # add.operand is the operand flag of the word in ibuf_q (operand2 is already the next one's)
        with m.If(add_valid2 & ~add.operand):
            m.d.sync += held_a.eq(ibuf_q)
        for i in range(L):
            p = product(
                m,
                held_a[8 * i : 8 * i + 8].as_signed(),
                ibuf_q[8 * i : 8 * i + 8].as_signed(),
                dsp=False,
                name=f"mulp{i}",
            )
            m.d.sync += prods[i].eq(p)
        pb = pbuf_q
        acc_w = gemm.abuf_w_data  # a GEMM's or DW's final sums (fused requantization), as they go to ABUF
        for i in range(L):
            lane = slice(cfg.acc_bits * i, cfg.acc_bits * (i + 1))
            m.d.comb += [
                rq.acc[i].eq(
                    Mux(
                        in_gemm,
                        acc_w[lane].as_signed(),
                        Mux(is_mul, prods[i], Mux(is_pool, pool.out[i], ibuf_q[8 * i : 8 * i + 8].as_signed())),
                    )
                ),
                rq.bias[i].eq(Mux(is_copy, 0, pb[32 * i : 32 * i + 32].as_signed())),
                rq.multiplier[i].eq(Mux(is_copy, mult, pb[32 * (L + i) : 32 * (L + i) + 31])),
                rq.shift[i].eq(Mux(is_copy, shift, pb[64 * L + 8 * i : 64 * L + 8 * i + 6])),
            ]
        wr.look_up(rq.out_valid | add.out_valid, Mux(add.out_valid, add.out, rq.out))
        m.d.comb += [
            rq.in_valid.eq(valid2 | pool.out_valid | gemm.rq_valid | mul_valid),
            rq.lo.eq(lo.as_signed()),
            rq.hi.eq(hi.as_signed()),
        ]
        wr.write()
        with m.FSM():
            # Without an LBUF, an OBUF writer's lut bit is an instruction this engine cannot run.
            writers = (Copy, Pool, AddI, MulI, Gemm, Dw)
            no_lut = Cat(*((head.op == w.OPCODE) & fields(enc, w, word)["lut"] for w in writers)).any()
            starts = [wr.step.eq(1), pace.eq(0), *([sfb.eq(0), bfb.eq(0), wr.ofb.eq(0)] if fb else [])]
            with head.states(on_start=starts, refuse=None if cfg.lut_tables else no_lut):
                with m.Case(Opcode.COPY):
                    f = fields(enc, Copy, word)
                    m.d.sync += [
                        *wr.lut_fields(f),
                        is_copy.eq(1),
                        is_pool.eq(0),
                        is_add.eq(0),
                        is_mul.eq(0),
                        rd_addr.eq(f["src"]),
                        rep.eq(f["rep"]),
                        rep_count.eq(1),
                        wr.step.eq(Mux(f["stride"] == 0, 1, f["stride"])),
                        left.eq(f["n"]),
                        *wr.dense(f["dst"], f["n"]),
                        mult.eq(f["m"]),
                        shift.eq(f["shift"]),
                        lo.eq(f["lo"]),
                        hi.eq(f["hi"]),
                    ]
                    m.next = "PPU"
                with m.Case(Opcode.POOL):
                    f = fields(enc, Pool, word)
                    n = f["n_win"]
                    is_max = f["mode"] == PoolMode.MAX
                    m.d.comb += pool.start.eq(1)
                    m.d.sync += [
                        *wr.lut_fields(f),
                        is_copy.eq(1),
                        is_pool.eq(1),
                        is_add.eq(0),
                        is_mul.eq(0),
                        left.eq(0),
                        *wr.dense(f["dst"], n),
                        mult.eq(Mux(is_max, 1, f["m"])),
                        shift.eq(Mux(is_max, 0, f["shift"])),
                        lo.eq(-128),
                        hi.eq(127),
                    ]
                    m.next = "PPU"
                with m.Case(Opcode.ADD):
                    f = fields(enc, AddI, word)
                    m.d.sync += [
                        *two_operands(f, f["m_a"]),
                        is_mul.eq(0),
                        bcast.eq(0),
                        mult_b.eq(f["m_b"]),
                        sub.eq(f["sub"]),
                        *fb_bit(f, "bfb"),
                    ]
                    m.next = "ADD"
                with m.Case(Opcode.MUL):
                    f = fields(enc, MulI, word)
                    m.d.sync += [*two_operands(f, f["m"]), is_copy.eq(1), is_mul.eq(1), bcast.eq(f["bcast"])]
                    m.next = "ADD"
                with m.Case(Opcode.GEMM):
                    m.d.comb += gemm.start.eq(1)
                    f = fields(enc, Gemm, word)
                    m.d.sync += [*fused_fields(f), *fb_bit(f, "sfb")]
                    m.next = "GEMM"
                if gemm.depthwise:
                    with m.Case(Opcode.DW):
                        m.d.comb += gemm.dw_start.eq(1)
                        f = fields(enc, Dw, word)
                        m.d.sync += [*fused_fields(f), *(fb_bit(f, "sfb") if p2 else [])]
                        m.next = "GEMM"
            with m.State("PPU"):
                with m.If(pace != 0):
                    m.d.sync += pace.eq(pace - 1)
                with m.Elif(left != 0):
                    m.d.sync += [valid1.eq(1), left.eq(left - 1), pace.eq(R - 1)]
                    # COPY's rep: the read address moves on after its word was read rep times
                    with m.If(rep_count >= rep):
                        m.d.sync += [rd_addr.eq(rd_addr + 1), rep_count.eq(1)]
                    with m.Else():
                        m.d.sync += rep_count.eq(rep_count + 1)
                with m.If(wr.done):
                    head.finish()
            with m.State("ADD"):
                with m.If(pace != 0):
                    m.d.sync += pace.eq(pace - 1)
                with m.Elif(left != 0):
                    m.d.sync += [add_valid.eq(1), operand.eq(~operand)]
                    with m.If(operand):
                        m.d.sync += [left.eq(left - 1), rd_addr.eq(rd_addr + 1), b_addr.eq(b_addr + ~bcast)]
                        # MUL at R = 4: a word's a and b reads, then R - 2 idle cycles
                        m.d.sync += pace.eq(Mux(is_mul, max(R, 2) - 2, 0))
                with m.If(wr.done):
                    head.finish()
            with m.State("GEMM"):
                m.d.comb += in_gemm.eq(1)
                with m.If(gemm.done & fused):
                    m.d.sync += drain.eq(Mux(wr.lut_on, rq.latency + LUT_LATENCY - 1, rq.latency - 1))
                    m.next = "DRAIN"
                with m.Elif(gemm.done):
                    head.finish()
            with m.State("DRAIN"):  # the last final sum's way through PPURequant to OBUF
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 0):
                    head.finish()
        return m
