"""DwUnit: the sequencer of one DW instruction (docs/accelerator.md, "Compute
modes of the PE array", DW): it walks the taps of every output pixel through
the IBUF read port into a window register whose row t is the word under tap
t, loads the tap group's weights (row t = WBUF word ``wgt + t``) into the
array's shadow weights, and hands each finished window to the array path of
:class:`~dian.hwgen.rtl.gemm_unit.GemmUnit` (PEArray in DW mode, AccUpdate, ABUF
read-modify-write), which it shares with GEMM.

*(v1)* One IBUF word per cycle: a pixel costs ``n_taps`` cycles (no window
reuse between neighbouring pixels, no banked reads), so at most ``n_taps``
of the L array rows work per cycle in the mean — ``1/L`` of the array for
any kernel (25 % at L = 4, 6 % at L = 16), against the design's row-
interleaved banks and shifting window register.

Timing (cycle ``S`` = the CMP engine's DECODE, ``start`` high; ``T =
n_taps``, ``P = n_oy * n_ox``):

* ``S``: fields latched, among them the encoder's derived ``fx0 = tap0 %
  n_fx``, ``row_off0 = (tap0 // n_fx)*s_fy`` and ``off0 = row_off0 +
  fx0*s_fx`` (hwgen/isa.py: no divider or multiplier in the RTL);
* ``S+1``: the tap walk (column, row offset, offset) loaded from them;
* ``S+2+p*T+t``: the IBUF read of pixel p, tap t is presented (and, for
  p = 0, the WBUF read of weight row t); its word lands in window row t one
  edge after the read (the port is synchronous), the weight row in the
  shadow set likewise;
* the cycle ``i = S+2+(p+1)*T`` that writes pixel p's last word is the
  pixel's *issue* in GemmUnit's sense: the array takes the window with
  ``in_valid`` in ``i + 1`` (with ``w_swap`` for p = 0: the last shadow row
  was written at the edge ending ``S+2+T``), and the ABUF write is in
  ``i + GemmUnit.WRITE``.

The last ABUF write is the instruction's last cycle:
``D = P*T + 2 + 1 + WRITE`` (= ``P*T + 9``; hwgen/timing.py's ``dw_cycles``).
Window rows ``>= T`` are cleared at ``S+1``, so the array's other rows add 0
whatever their weights. Pixels of one instruction must map to distinct ABUF
words (so no read-after-write race between them).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, Dw
from .decode import fields

__all__ = ["DwUnit"]


class DwUnit(wiring.Component):
    """DW tap walk for ``cfg`` (timing in the module docstring).

    Ports: ``start``/``instr`` as GemmUnit's; ``ibuf_r_addr``/``ibuf_r_data``,
    ``wbuf_r_addr`` (the WBUF data goes to the array directly); to the array
    path: ``w_load_valid``/``w_load_row`` (with the WBUF read data, one edge
    after the read), ``issue`` with ``abuf_addr``, ``reset``, ``first``
    (swap the weights) and ``last`` (the instruction's last pixel) in the
    issue cycle, ``window`` (the array's ``x_words``, valid from the cycle
    after ``issue``) and ``n_taps`` (for the busy-PE count).
    """

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        L = cfg.lanes
        word = data.ArrayLayout(signed(8), L)
        super().__init__(
            {
                "start": In(1),
                "instr": In(INSTRUCTION_BITS),
                "ibuf_r_addr": Out(range(cfg.words("ibuf"))),
                "ibuf_r_data": In(word),
                "wbuf_r_addr": Out(range(cfg.words("wbuf"))),
                "w_load_valid": Out(1),
                "w_load_row": Out(range(L)),
                "issue": Out(1),
                "abuf_addr": Out(range(cfg.words("abuf"))),
                "reset": Out(1),
                "first": Out(1),
                "last": Out(1),
                "window": Out(data.ArrayLayout(word, L)),
                "n_taps": Out(self.enc.widths["ibn"]),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        enc, L = self.enc, self.cfg.lanes
        ib, ab, ibn, abn = (enc.widths[k] for k in ("ib", "ab", "ibn", "abn"))
        f = fields(enc, Dw, self.instr)

        # Loop counts as count - 1: the walk compares, never subtracts.
        n_taps, n_taps1, n_fx1, n_oy1, n_ox1 = self.n_taps, Signal(ibn), Signal(ibn), Signal(abn), Signal(abn)
        s_fy, s_fx, s_oy, s_ox = (Signal(ib, name=n) for n in ("s_fy", "s_fx", "s_oy", "s_ox"))
        d_oy, d_ox, wgt = Signal(ab), Signal(ab), Signal(self.wbuf_r_addr.shape())
        reset = Signal()
        fx0 = Signal(ibn)
        off0, row_off0 = Signal(ib), Signal(ib)  # offset of tap0 and of its kernel row
        pre, issuing, first = Signal(), Signal(), Signal()
        t = Signal(ibn)
        fx, off, row_off = Signal(ibn), Signal(ib), Signal(ib)
        oy, ox = Signal(abn), Signal(abn)
        row, pix, arow, apix = Signal(ib), Signal(ib), Signal(ab), Signal(ab)

        with m.If(self.start):
            m.d.sync += [
                n_taps.eq(f["n_taps"]),
                n_taps1.eq(f["n_taps"] - 1),
                n_fx1.eq(f["n_fx"] - 1),
                n_oy1.eq(f["n_oy"] - 1),
                n_ox1.eq(f["n_ox"] - 1),
                s_fy.eq(f["s_fy"]),
                s_fx.eq(f["s_fx"]),
                s_oy.eq(f["s_oy"]),
                s_ox.eq(f["s_ox"]),
                d_oy.eq(f["d_oy"]),
                d_ox.eq(f["d_ox"]),
                wgt.eq(f["wgt"]),
                reset.eq(f["reset"]),
                fx0.eq(f["fx0"]),
                row_off0.eq(f["row_off0"]),
                off0.eq(f["off0"]),
                pre.eq(1),
                issuing.eq(0),
                first.eq(1),
                t.eq(0),
                oy.eq(0),
                ox.eq(0),
                row.eq(f["src"]),
                pix.eq(f["src"]),
                arow.eq(f["dst"]),
                apix.eq(f["dst"]),
            ]
        # ``pre`` and ``issuing`` are low in the start cycle (the previous DW
        # stopped issuing 1 + WRITE cycles before its end), so ``start`` need not
        # gate them: it stays off these paths.
        with m.If(pre):
            m.d.sync += [row_off.eq(row_off0), off.eq(off0), fx.eq(fx0), pre.eq(0), issuing.eq(1)]

        last_tap = t == n_taps1
        last_x, last_y = ox == n_ox1, oy == n_oy1
        m.d.comb += [self.ibuf_r_addr.eq(pix + off), self.wbuf_r_addr.eq(wgt + t)]
        with m.If(issuing):
            with m.If(last_tap):
                m.d.sync += [t.eq(0), fx.eq(fx0), off.eq(off0), row_off.eq(row_off0)]
                with m.If(~last_x):
                    m.d.sync += [ox.eq(ox + 1), pix.eq(pix + s_ox), apix.eq(apix + d_ox)]
                with m.Elif(~last_y):
                    m.d.sync += [
                        ox.eq(0),
                        oy.eq(oy + 1),
                        row.eq(row + s_oy),
                        pix.eq(row + s_oy),
                        arow.eq(arow + d_oy),
                        apix.eq(arow + d_oy),
                    ]
                with m.Else():
                    m.d.sync += issuing.eq(0)
            with m.Else():
                m.d.sync += t.eq(t + 1)
                with m.If(fx == n_fx1):
                    m.d.sync += [fx.eq(0), row_off.eq(row_off + s_fy), off.eq(row_off + s_fy)]
                with m.Else():
                    m.d.sync += [fx.eq(fx + 1), off.eq(off + s_fx)]

        # One edge later the read data is on the ports: into the window / shadow row.
        rd_valid, rd_last_tap, rd_first, rd_last = Signal(), Signal(), Signal(), Signal()
        rd_tap, rd_apix = Signal(ibn), Signal(ab)
        m.d.sync += [
            rd_valid.eq(issuing),
            rd_tap.eq(t),
            rd_last_tap.eq(last_tap),
            rd_first.eq(first),
            rd_last.eq(last_tap & last_x & last_y),
            rd_apix.eq(apix),
        ]
        with m.If(issuing & last_tap):
            m.d.sync += first.eq(0)
        window = [Signal(data.ArrayLayout(signed(8), L), name=f"window_{r}") for r in range(L)]
        for r in range(L):
            with m.If(pre):  # S+1: before the first word lands (S+3), after the last window was taken
                m.d.sync += window[r].eq(0)
            with m.Elif(rd_valid & (rd_tap == r)):
                m.d.sync += window[r].eq(self.ibuf_r_data)
            m.d.comb += self.window[r].eq(window[r])
        m.d.comb += [
            self.w_load_valid.eq(rd_valid & rd_first),
            self.w_load_row.eq(rd_tap),
            self.issue.eq(rd_valid & rd_last_tap),
            self.abuf_addr.eq(rd_apix),
            self.reset.eq(reset),
            self.first.eq(rd_first),
            self.last.eq(rd_last),
        ]
        return m
