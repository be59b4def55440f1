"""GemmUnit: runs one GEMM instruction on the PE array (docs/accelerator.md,
"Compute modes of the PE array"): WBUF -> array weights, IBUF -> array
inputs, column sums -> :class:`~dian.hwgen.rtl.accumulator.AccUpdate` -> ABUF.

Timing (cycle ``S`` = the CMP engine's DECODE of the GEMM, where ``start``
is high and ``instr`` is sampled; ``P = n_oy * n_ox`` pixels, ``nb = n_c *
n_fy * n_fx`` weight blocks, ``L`` lanes). An *issue* cycle presents the
synchronous IBUF read of one pixel and/or the WBUF read of one weight row:

* preamble ``S+1 .. S+L``: the L rows of block 0 are read (WBUF ``wgt``,
  ``wgt+1``, ...) and written to the array's shadow weights one edge later;
* block period b, from ``S+L+1+b*Q``: pixel p is issued at offset p (p < P),
  and, if there is a block b+1, its row r at offset r (r < L). Every period
  but the last lasts ``Q = max(P, L, RAW)`` cycles, the last one P;
* a pixel issued in cycle ``i`` enters the array with ``in_valid`` (and
  ``w_swap`` when it is the block's first) in ``i + FEED``, its column sums
  reach AccUpdate in ``i + SUM`` together with its ABUF word (address
  presented in ``i + READ`` = ``i + SUM - 2``: the ABUF read port is
  synchronous and not transparent, and CmpEngine registers its data so the
  block RAM's slow output ends at a flip-flop) and AccUpdate's result is
  written to ABUF in ``i + WRITE``.

So the block's first pixel swaps the weights one edge after its last row
was loaded (the row loads of block b+1 start at the swap edge of block b,
which PEArray allows), and two updates of one ABUF word — pixel p of blocks
b and b+1, ``Q`` issue cycles apart — never race: the write in ``i + WRITE``
is seen by a read presented from ``i + WRITE + 1`` on, i.e. by an update
issued ``RAW = WRITE - READ + 1`` cycles later. Short pixel streams
(``P < RAW``) stall the period to RAW (only matters for L < RAW).
The last ABUF write is in ``S + L + (nb-1)*Q + P + WRITE``, which is the
instruction's last cycle (``done`` is high in it):

    D = 1 + L + (nb - 1) * max(P, L, RAW) + P + WRITE

(hwgen/timing.py's ``gemm_cycles``). ``busy_pe`` (array-occupied PE-cycles)
is ``L*L`` in every cycle the array takes a GEMM pixel and ``n_rows*L`` in
every cycle it takes a DW window, padding rows and lanes included, as
sim/machine and the cost model count (hwgen/timing.py's ``busy_pe``).

With ``rq`` (the instruction's fused requantization) ``rq_valid`` marks the
ABUF writes of final sums — the last block's (GEMM), every pixel's (DW) — so
CmpEngine also sends ``abuf_w_data`` to PPURequant in that cycle.

Pixels of one instruction must map to distinct ABUF words (the lowering's
dense tiles do); aliasing pixels are undefined.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from ..accel_config import AccelConfig, Dataflow
from ..dsp_plan import plan_dsps
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, Dw, Gemm
from .accumulator import AccUpdate
from .decode import fields
from .dw_unit import DwUnit
from .pe_array import PEArray, PEMode

__all__ = ["GemmUnit"]


class GemmUnit(wiring.Component):
    """GEMM on the PE array of ``cfg`` (timing in the module docstring)."""

    # Pipeline offsets from a pixel's issue: the timing contract's (hwgen/timing.py).
    FEED, SUM, READ, WRITE, RAW = (
        timing.GEMM_FEED,
        timing.GEMM_SUM,
        timing.GEMM_READ,
        timing.GEMM_WRITE,
        timing.GEMM_RAW,
    )

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        L = cfg.lanes
        self.depthwise = Dataflow.DEPTHWISE in cfg.dataflows
        nx = cfg.ibuf_banks - 1  # a DW's further kernel rows read the other IBUF banks
        extra = (
            {
                "ibuf_x_addr": Out(data.ArrayLayout(range(cfg.words("ibuf")), nx)),
                "ibuf_x_en": Out(nx),
                "ibuf_x_data": In(data.ArrayLayout(8 * L, nx)),
            }
            if nx
            else {}
        )
        super().__init__(
            {
                **extra,
                "start": In(1),
                "dw_start": In(1),  # DW instead of GEMM (only with the depthwise dataflow)
                "instr": In(INSTRUCTION_BITS),
                "done": Out(1),
                "busy_pe": Out(32),
                "ibuf_r_addr": Out(range(cfg.words("ibuf"))),
                "ibuf_r_data": In(8 * L),
                "wbuf_r_addr": Out(range(cfg.words("wbuf"))),
                "wbuf_r_data": In(8 * L),
                "abuf_r_addr": Out(range(cfg.words("abuf"))),
                "abuf_r_data": In(cfg.acc_bits * L),
                "abuf_w_en": Out(1),
                "abuf_w_addr": Out(range(cfg.words("abuf"))),
                "abuf_w_data": Out(cfg.acc_bits * L),
                "rq_valid": Out(1),  # abuf_w_data is final and goes to PPURequant too (``rq``)
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, enc, L = self.cfg, self.enc, self.cfg.lanes
        m.submodules.array = pe = PEArray(L, depthwise=self.depthwise, dsp=plan_dsps(cfg).pe_array)
        m.submodules.acc = acc = AccUpdate(L, cfg.acc_bits, pe.sum_bits)
        ib, wb, ab = enc.widths["ib"], enc.widths["wb"], enc.widths["ab"]
        ibn, abn = enc.widths["ibn"], enc.widths["abn"]

        # Fields, latched at S (loop counts as count - 1: the walk compares, never subtracts).
        f = fields(enc, Gemm, self.instr)
        n_c1, n_fy1, n_fx1 = Signal(ibn), Signal(ibn), Signal(ibn)
        s_c, s_fy, s_fx, s_oy, s_ox = (Signal(ib, name=n) for n in ("s_c", "s_fy", "s_fx", "s_oy", "s_ox"))
        dst, d_oy, d_ox = Signal(ab), Signal(ab), Signal(ab)
        n_pix = Signal(2 * abn)
        # Walk state. A period ends when ``qrem`` (its cycles left) is 0 and issues
        # pixels while ``prem`` (its pixels left) is not: down-counters, so the
        # per-cycle logic is zero tests; the period lengths are registered.
        issuing, pre, reset_blk, last_blk = Signal(), Signal(), Signal(), Signal()
        R = cfg.ppu_rate  # a fused requantization at R > 1 issues the last block's pixels R cycles apart
        qw = max(2 * abn, L.bit_length()) + 1 + (R - 1).bit_length()
        q, qrem, prem = Signal(qw), Signal(qw), Signal(qw)
        n_pix1, period1, next_last = Signal(qw), Signal(qw), Signal()
        # The walk's tests as registers of their own (each a comparison of a counter, ahead of time):
        # qrem == 0, prem != 0, q < L, q == 0, ox == n_ox - 1, oy == n_oy - 1; the issue logic reads
        # flip-flops only. *_0 are the flags of a fresh period, n_ox2/n_oy2 the bounds for a step.
        qz, pnz, ql, q0 = (
            Signal(name="qrem_zero"),
            Signal(name="prem_nonzero"),
            Signal(name="q_lt_l"),
            Signal(name="q_zero"),
        )
        last_x, last_y, last_x0, last_y0 = (Signal(name=n) for n in ("last_x", "last_y", "last_x0", "last_y0"))
        one_pix = Signal(name="one_pix")
        n_ox2, n_oy2 = Signal(abn, name="n_ox2"), Signal(abn, name="n_oy2")
        c, fy, fx = Signal(ibn), Signal(ibn), Signal(ibn)
        oy, ox = Signal(abn), Signal(abn)
        c_base, fy_base, blk = Signal(ib), Signal(ib), Signal(ib)
        row, pix = Signal(ib), Signal(ib)
        arow, apix = Signal(ab), Signal(ab)
        waddr = Signal(wb)

        with m.If(self.start):
            m.d.sync += [
                n_c1.eq(f["n_c"] - 1),
                n_fy1.eq(f["n_fy"] - 1),
                n_fx1.eq(f["n_fx"] - 1),
                s_c.eq(f["s_c"]),
                s_fy.eq(f["s_fy"]),
                s_fx.eq(f["s_fx"]),
                s_oy.eq(f["s_oy"]),
                s_ox.eq(f["s_ox"]),
                dst.eq(f["dst"]),
                d_oy.eq(f["d_oy"]),
                d_ox.eq(f["d_ox"]),
                n_pix.eq(f["n_pix"]),
                issuing.eq(1),
                pre.eq(1),
                reset_blk.eq(f["reset"]),
                q.eq(0),
                qrem.eq(L - 1),
                qz.eq(0),  # L >= 2
                ql.eq(1),
                q0.eq(1),
                last_x.eq(f["n_ox"] == 1),
                last_y.eq(f["n_oy"] == 1),
                last_x0.eq(f["n_ox"] == 1),
                last_y0.eq(f["n_oy"] == 1),
                n_ox2.eq(f["n_ox"] - 2),
                n_oy2.eq(f["n_oy"] - 2),
                last_blk.eq((f["n_c"] == 1) & (f["n_fy"] == 1) & (f["n_fx"] == 1)),
                c.eq(0),
                fy.eq(0),
                fx.eq(0),
                oy.eq(0),
                ox.eq(0),
                c_base.eq(f["src"]),
                fy_base.eq(f["src"]),
                blk.eq(f["src"]),
                row.eq(f["src"]),
                pix.eq(f["src"]),
                arow.eq(f["dst"]),
                apix.eq(f["dst"]),
                waddr.eq(f["wgt"]),
            ]

        # Registered from registers that are constant for at least a period (>= 2
        # cycles: the preamble is L >= 2, a block period max(P, L, RAW) >= RAW),
        # so they are valid wherever they are used.
        floor = max(L, self.RAW)
        at_fx, at_fy, at_c = fx == n_fx1, fy == n_fy1, c == n_c1
        m.d.sync += [
            n_pix1.eq(n_pix - 1),
            one_pix.eq(n_pix == 1),
            period1.eq(Mux(n_pix > floor, n_pix, floor) - 1),
            next_last.eq(
                Mux(
                    ~at_fx,
                    (fx + 1 == n_fx1) & at_fy & at_c,
                    Mux(~at_fy, (n_fx1 == 0) & (fy + 1 == n_fy1) & at_c, (n_fx1 == 0) & (n_fy1 == 0) & (c + 1 == n_c1)),
                )
            ),
        ]
        # Fused requantization: the instruction's ``rq``; the final sums are the last block's (GEMM)
        # or every pixel's (DW).
        fuse = Signal()
        with m.If(self.start):
            m.d.sync += fuse.eq(f["rq"])
        if self.depthwise:
            with m.Elif(self.dw_start):
                m.d.sync += fuse.eq(fields(enc, Dw, self.instr)["rq"])

        # ``held``: a pacing wait (R > 1 with ``rq``: the last block's pixels go R cycles apart, its
        # period R·(P-1) + 1 cycles, for PPURequant, which takes a word every R cycles).
        # At R = 2 the one-bit counter is the flag (a second flip-flop equal to it, merged by Yosys 0.69,
        # made its ABC9 reintegration fail an assertion on default).
        paced, pace = Signal(), Signal(range(max(R, 2)), name="gemm_pace")
        held = pace if R <= 2 else Signal(name="gemm_pace_held")
        issue_pix = issuing & ~pre & pnz & ~held
        if R > 1:
            with m.If(issue_pix & paced):
                m.d.sync += pace.eq(R - 1)
            with m.Elif(pace != 0):
                m.d.sync += pace.eq(pace - 1)
        if R > 2:
            with m.If(issue_pix & paced):
                m.d.sync += held.eq(1)
            with m.Elif(pace != 0):
                m.d.sync += held.eq(pace != 1)
        issue_w = issuing & ql & (pre | ~last_blk)
        with m.If(issue_w):
            m.d.sync += waddr.eq(waddr + 1)
        with m.If(issue_pix):
            m.d.sync += [prem.eq(prem - 1), pnz.eq(prem != 1)]
            with m.If(~last_x):
                m.d.sync += [ox.eq(ox + 1), last_x.eq(ox == n_ox2), pix.eq(pix + s_ox), apix.eq(apix + d_ox)]
            with m.Elif(~last_y):
                m.d.sync += [
                    ox.eq(0),
                    last_x.eq(last_x0),
                    oy.eq(oy + 1),
                    last_y.eq(oy == n_oy2),
                    row.eq(row + s_oy),
                    pix.eq(row + s_oy),
                    arow.eq(arow + d_oy),
                    apix.eq(arow + d_oy),
                ]
        with m.If(issuing):  # low in the start cycle: the previous GEMM stopped issuing WRITE cycles before its end
            with m.If(qz):
                # The next period is block 0 (after the preamble) or the next block.
                nl = Mux(pre, last_blk, next_last)
                last_q = n_pix1 if R == 1 else Mux(fuse, n_pix1 << (R - 1).bit_length(), n_pix1)
                m.d.sync += [q.eq(0), prem.eq(n_pix), qrem.eq(Mux(nl, last_q, period1))]
                if R > 1:
                    m.d.sync += paced.eq(nl & fuse)
                m.d.sync += [ql.eq(1), q0.eq(1), pnz.eq(1), qz.eq(nl & one_pix)]  # period1 >= RAW - 1 > 0
                with m.If(pre):
                    m.d.sync += pre.eq(0)
                with m.Elif(last_blk):
                    m.d.sync += issuing.eq(0)
                with m.Else():
                    nxt = Signal(ib)
                    with m.If(~at_fx):
                        m.d.comb += nxt.eq(blk + s_fx)
                        m.d.sync += fx.eq(fx + 1)
                    with m.Elif(~at_fy):
                        m.d.comb += nxt.eq(fy_base + s_fy)
                        m.d.sync += [fx.eq(0), fy.eq(fy + 1), fy_base.eq(fy_base + s_fy)]
                    with m.Else():
                        m.d.comb += nxt.eq(c_base + s_c)
                        m.d.sync += [fx.eq(0), fy.eq(0), c.eq(c + 1), c_base.eq(c_base + s_c), fy_base.eq(c_base + s_c)]
                    m.d.sync += [
                        blk.eq(nxt),
                        row.eq(nxt),
                        pix.eq(nxt),
                        oy.eq(0),
                        ox.eq(0),
                        last_x.eq(last_x0),
                        last_y.eq(last_y0),
                        arow.eq(dst),
                        apix.eq(dst),
                        reset_blk.eq(0),
                        last_blk.eq(next_last),
                    ]
            with m.Else():
                m.d.sync += [q.eq(q + 1), qrem.eq(qrem - 1), qz.eq(qrem == 1), ql.eq(ql & (q != L - 1)), q0.eq(0)]

        # DW: its own window walk (dw_unit.py) drives the same array path; ``dw``
        # stays high from a DW's start to the next GEMM's.
        dw = Signal()
        issue = issue_pix
        a0, r0, l0, sw0 = apix, reset_blk, issue_pix & last_blk & last_x & last_y, issue_pix & q0
        fin0 = fuse & last_blk
        if self.depthwise:
            m.submodules.dw = dwu = DwUnit(cfg)
            with m.If(self.dw_start):
                m.d.sync += dw.eq(1)
            with m.Elif(self.start):
                m.d.sync += dw.eq(0)
            m.d.comb += [
                dwu.start.eq(self.dw_start),
                dwu.instr.eq(self.instr),
                pe.mode.eq(Mux(dw, PEMode.DW, PEMode.GEMM)),
                pe.x_words.eq(dwu.window),
                dwu.ibuf_r_data[0].eq(self.ibuf_r_data),
            ]
            for j in range(1, cfg.ibuf_banks):
                m.d.comb += [
                    self.ibuf_x_addr[j - 1].eq(dwu.ibuf_r_addr[j]),
                    self.ibuf_x_en[j - 1].eq(dwu.ibuf_r_en[j]),
                    dwu.ibuf_r_data[j].eq(self.ibuf_x_data[j - 1]),
                ]
            m.d.comb += [
                self.ibuf_r_addr.eq(Mux(dw, dwu.ibuf_r_addr[0], pix)),
                self.wbuf_r_addr.eq(Mux(dw, dwu.wbuf_r_addr, waddr)),
            ]
            issue = issue_pix | dwu.issue
            a0, r0 = Mux(dw, dwu.abuf_addr, a0), Mux(dw, dwu.reset, r0)
            l0, sw0 = Mux(dw, dwu.issue & dwu.last, l0), Mux(dw, dwu.issue & dwu.first, sw0)
            fin0 = fuse & (dw | last_blk)
        else:
            m.d.comb += [self.ibuf_r_addr.eq(pix), self.wbuf_r_addr.eq(waddr)]

        # Issue -> feed: the array takes the IBUF/WBUF read data (GEMM) or the window (DW).
        feed, swap, w_valid = Signal(), Signal(), Signal()
        w_row = Signal(range(L))
        m.d.sync += [feed.eq(issue), swap.eq(sw0), w_valid.eq(issue_w), w_row.eq(q)]
        busy = L * L
        if self.depthwise:
            m.d.comb += [
                pe.w_load_valid.eq(Mux(dw, dwu.w_load_valid, w_valid)),
                pe.w_load_row.eq(Mux(dw, dwu.w_load_row, w_row)),
            ]
            busy = Mux(dw, dwu.n_rows << (L.bit_length() - 1), L * L)  # L a power of two: a shift, not a multiplier
        else:
            m.d.comb += [pe.w_load_valid.eq(w_valid), pe.w_load_row.eq(w_row)]
        m.d.comb += [
            pe.in_valid.eq(feed),
            pe.w_swap.eq(swap),
            pe.x_data.eq(self.ibuf_r_data),
            pe.w_load_data.eq(self.wbuf_r_data),
            self.busy_pe.eq(Mux(feed, busy, 0)),
        ]

        # ABUF address, reset, last-pixel and final-sum flags travel beside the array. (The final-sum
        # flags keep their reset: reset-less, Yosys 0.70 merged them into a P&R netlist with two drivers
        # on the DW window register, which nextpnr refuses.)
        addr, rst, last, fin = [a0], [r0], [l0], [fin0]
        for k in range(1, self.WRITE + 1):
            addr.append(Signal(ab, name=f"abuf_addr_{k}", reset_less=True))
            rst.append(Signal(name=f"reset_{k}", reset_less=True))
            last.append(Signal(name=f"last_{k}"))
            fin.append(Signal(name=f"final_{k}"))
            m.d.sync += [addr[k].eq(addr[k - 1]), rst[k].eq(rst[k - 1]), last[k].eq(last[k - 1]), fin[k].eq(fin[k - 1])]
        m.d.comb += [
            self.abuf_r_addr.eq(addr[self.READ]),
            acc.in_valid.eq(pe.out_valid),
            acc.col_sum.eq(pe.col_sum),
            acc.acc_in.eq(self.abuf_r_data),
            acc.reset.eq(rst[self.SUM]),
            self.abuf_w_en.eq(acc.out_valid),
            self.abuf_w_addr.eq(addr[self.WRITE]),
            self.abuf_w_data.eq(acc.acc_out),
            self.done.eq(acc.out_valid & last[self.WRITE]),
            self.rq_valid.eq(acc.out_valid & fin[self.WRITE]),
        ]
        return m
