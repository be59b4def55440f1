"""DwUnit: the sequencer of one DW instruction (docs/accelerator.md, "Depthwise v2"): it loads
the tap group's weight rows (row r = WBUF word ``wgt + r``) into the array's shadow weights, then
walks the window *columns* of every output pixel through the banked IBUF (hwgen/rtl/ibuf_banks.py,
one word per kernel row of the group, each from its own bank) into a shifting window register
whose row r is the word under tap r (kernel row ``r // n_gx``, column ``r % n_gx``), and hands
each finished window to the array path of :class:`~dian.hwgen.rtl.gemm_unit.GemmUnit` (PEArray in
DW mode, AccUpdate, ABUF read-modify-write), which it shares with GEMM.

The window takes one column a cycle: rows of the group's last kernel column take the words just
read (kernel row j's from read j), every other row of the group the word of row ``r + 1`` (the
next column). An output row's first pixel loads all ``n_gx`` columns, each further pixel the
``n_gx - keep`` new ones (``keep``, the derived field: the columns shared with the pixel before).
With ``sfb`` (fusion stage P2) the same reads address FBUF, banked alike: the CMP engine gives the
unit FBUF's data instead of IBUF's (hwgen/rtl/cmp_engine.py), so neither the walk nor its timing
changes.

Timing (cycle ``S`` = the CMP engine's DECODE, ``start`` high; ``R = n_rows = n_gy * n_gx``,
``N`` = the columns read, ``n_oy * (n_gx + (n_ox - 1) * (n_gx - keep))``):

* ``S``: fields latched (``n_rows`` and ``keep`` are derived fields: no multiplier here);
* ``S+1 .. S+R``: weight row r's WBUF read, written into the shadow row one edge later; in
  ``S+1`` also the per-row window wiring (last column? which kernel row?) and the kernel rows'
  IBUF offsets ``j * s_fy`` (adders) are registered and the window cleared;
* ``C0 + k`` for k < N, ``C0 = S+1+R``: column k's reads are presented (read j at ``col + j *
  s_fy``, enabled for j < n_gy); the words land in the window one edge after the next;
* the cycle after a pixel's last column read (its words on the read ports, written into the
  window at its end) is the pixel's *issue* in GemmUnit's sense: the array takes the window with
  ``in_valid`` in ``i + 1`` (with ``w_swap`` for the first pixel: the last shadow row was written
  at the edge ending ``S+R+1 <= i``), and the ABUF write is in ``i + GemmUnit.WRITE``.

The last ABUF write is the instruction's last cycle: ``D = R + N + 2 + WRITE`` (= ``R + N + 8``;
hwgen/timing.py's ``dw_cycles``). With ``rq`` on a config whose ``ppu_rate`` is above 1, a pixel's
last column read waits until ``ppu_rate`` cycles after the previous pixel's (the walk stalls; a
stalled cycle lands nothing), so ``N`` counts ``max(columns, ppu_rate)`` for every pixel but the
first (hwgen/timing.py's ``dw_paced_columns``). Window rows ``>= R`` are cleared at ``S+1`` and never written,
so the array's other rows add 0 whatever their weights. Pixels of one instruction must map to
distinct ABUF words, and the group's kernel rows to distinct IBUF banks.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, Dw
from .decode import fields

__all__ = ["DwUnit"]


def _sources(row: int, lanes: int, banks: int) -> list[tuple[int, int]]:
    """``(n_gx, j)``: the group widths for which window row ``row`` is in its kernel row's last
    column, and that kernel row ``j`` (only those within the IBUF's banks)."""
    return [(d, (row + 1) // d - 1) for d in range(1, lanes + 1) if (row + 1) % d == 0 and (row + 1) // d <= banks]


class DwUnit(wiring.Component):
    """DW window walk for ``cfg`` (timing in the module docstring).

    Ports: ``start``/``instr`` as GemmUnit's; ``ibuf_r_addr[j]``/``ibuf_r_en``/``ibuf_r_data[j]``,
    the banked IBUF's reads (one per kernel row of the group), ``wbuf_r_addr`` (the WBUF data goes
    to the array directly); to the array path: ``w_load_valid``/``w_load_row`` (with the WBUF
    read data, one edge after the read), ``issue`` with ``abuf_addr``, ``reset``, ``first`` (swap
    the weights) and ``last`` (the instruction's last pixel) in the issue cycle, ``window`` (the
    array's ``x_words``, valid from the cycle after ``issue``) and ``n_rows`` (for the busy-PE
    count).
    """

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        L, nb = cfg.lanes, cfg.ibuf_banks
        word = data.ArrayLayout(signed(8), L)
        super().__init__(
            {
                "start": In(1),
                "instr": In(INSTRUCTION_BITS),
                "ibuf_r_addr": Out(data.ArrayLayout(range(cfg.words("ibuf")), nb)),
                "ibuf_r_en": Out(nb),
                "ibuf_r_data": In(data.ArrayLayout(word, nb)),
                "wbuf_r_addr": Out(range(cfg.words("wbuf"))),
                "w_load_valid": Out(1),
                "w_load_row": Out(range(L)),
                "issue": Out(1),
                "abuf_addr": Out(range(cfg.words("abuf"))),
                "reset": Out(1),
                "first": Out(1),
                "last": Out(1),
                "window": Out(data.ArrayLayout(word, L)),
                "n_rows": Out(self.enc.widths["ibn"]),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        enc, L, nb = self.enc, self.cfg.lanes, self.cfg.ibuf_banks
        ib, ab, ibn, abn = (enc.widths[k] for k in ("ib", "ab", "ibn", "abn"))
        f = fields(enc, Dw, self.instr)

        # Latched at S. Loop counts as count - 1: the walk compares, never subtracts.
        n_rows, n_rows1, n_gy, n_gx = self.n_rows, Signal(ibn), Signal(ibn), Signal(ibn)
        n_gx1, n_new1, keep = Signal(ibn), Signal(ibn), Signal(ibn)
        n_oy1, n_ox1 = Signal(abn), Signal(abn)
        s_fy, s_fx, s_oy, s_ox = (Signal(ib, name=n) for n in ("s_fy", "s_fx", "s_oy", "s_ox"))
        d_oy, d_ox, wgt = Signal(ab), Signal(ab), Signal(self.wbuf_r_addr.shape())
        reset = Signal()
        pre, loading, walking, first = Signal(), Signal(), Signal(), Signal()
        wr = Signal(ibn)  # the weight row being read
        cl = Signal(ibn)  # columns left to read for this pixel, minus one
        oy, ox = Signal(abn), Signal(abn)
        row, pix, col, arow, apix = Signal(ib), Signal(ib), Signal(ib), Signal(ab), Signal(ab)

        # A fused requantization at ppu_rate R > 1: a pixel's last column read waits until R cycles
        # after the previous pixel's (PPURequant takes a word every R cycles); the walk stalls.
        R = self.cfg.ppu_rate
        paced, pw = Signal(name="dw_paced"), Signal(range(max(R, 2)), name="dw_pace")
        with m.If(self.start):
            m.d.sync += [paced.eq(f["rq"] if R > 1 else 0), pw.eq(0)]
        with m.If(self.start):
            m.d.sync += [
                n_rows.eq(f["n_rows"]),
                n_rows1.eq(f["n_rows"] - 1),
                n_gy.eq(f["n_gy"]),
                n_gx.eq(f["n_gx"]),
                n_gx1.eq(f["n_gx"] - 1),
                n_new1.eq(f["n_gx"] - f["keep"] - 1),
                keep.eq(f["keep"]),
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
                pre.eq(1),
                loading.eq(1),
                walking.eq(0),
                first.eq(1),
                wr.eq(0),
                cl.eq(f["n_gx"] - 1),
                oy.eq(0),
                ox.eq(0),
                row.eq(f["src"]),
                pix.eq(f["src"]),
                col.eq(f["src"]),
                arow.eq(f["dst"]),
                apix.eq(f["dst"]),
            ]
        # ``pre``, ``loading`` and ``walking`` are low in the start cycle (the previous DW stopped
        # walking 1 + WRITE cycles before its end), so ``start`` need not gate them.

        # S+1: the kernel rows' IBUF offsets (j * s_fy by adders) and each window row's wiring.
        off = [Signal(ib, name=f"row_off_{j}") for j in range(nb)]
        last_col = [Signal(name=f"last_col_{r}") for r in range(L)]
        active = [Signal(name=f"active_{r}") for r in range(L)]
        src_row = [Signal(range(max(2, nb)), name=f"src_row_{r}") for r in range(L)]
        with m.If(pre):
            m.d.sync += pre.eq(0)
            for j in range(nb):
                m.d.sync += off[j].eq(sum(((s_fy << k) for k in range(j.bit_length()) if j >> k & 1), start=0))
            for r in range(L):
                src = _sources(r, L, nb)
                m.d.sync += [
                    active[r].eq(n_rows > r),
                    last_col[r].eq(Cat(*(n_gx == d for d, _ in src)).any() if src else 0),
                    src_row[r].eq(sum((Mux(n_gx == d, j, 0) for d, j in src), start=0) if src else 0),
                ]

        # S+1 .. S+R: the weight rows; the walk starts the cycle after the last one's read.
        m.d.comb += self.wbuf_r_addr.eq(wgt + wr)
        with m.If(loading):
            m.d.sync += wr.eq(wr + 1)
            with m.If(wr == n_rows1):
                m.d.sync += [loading.eq(0), walking.eq(1)]
        w_valid, w_row = Signal(), Signal(range(L))
        m.d.sync += [w_valid.eq(loading), w_row.eq(wr)]

        # The column walk: one window column a cycle, kernel row j's word at col + j * s_fy.
        for j in range(nb):
            m.d.comb += [self.ibuf_r_addr[j].eq(col + off[j]), self.ibuf_r_en[j].eq(walking & (n_gy > j))]
        last_x, last_y, pixel_done = ox == n_ox1, oy == n_oy1, cl == 0
        step = walking & ~(pixel_done & (pw != 0))  # a stalled cycle reads again and lands nothing
        with m.If(pw != 0):
            m.d.sync += pw.eq(pw - 1)
        with m.If(step & pixel_done & paced):
            m.d.sync += pw.eq(R - 1)
        with m.If(step):
            with m.If(~pixel_done):
                m.d.sync += [cl.eq(cl - 1), col.eq(col + s_fx)]
            with m.Elif(~last_x):
                # The next pixel's new columns follow on (keep > 0) or start over at its first column.
                m.d.sync += [
                    cl.eq(n_new1),
                    ox.eq(ox + 1),
                    pix.eq(pix + s_ox),
                    apix.eq(apix + d_ox),
                    col.eq(Mux(keep != 0, col + s_fx, pix + s_ox)),
                ]
            with m.Elif(~last_y):
                m.d.sync += [
                    cl.eq(n_gx1),
                    ox.eq(0),
                    oy.eq(oy + 1),
                    row.eq(row + s_oy),
                    pix.eq(row + s_oy),
                    col.eq(row + s_oy),
                    arow.eq(arow + d_oy),
                    apix.eq(arow + d_oy),
                ]
            with m.Else():
                m.d.sync += walking.eq(0)

        # One edge later the words are on the read ports: into the window (a column shift).
        rd_valid, rd_done, rd_first, rd_last = Signal(), Signal(), Signal(), Signal()
        rd_apix = Signal(ab)
        m.d.sync += [
            rd_valid.eq(step),
            rd_done.eq(pixel_done),
            rd_first.eq(first),
            rd_last.eq(pixel_done & last_x & last_y),
            rd_apix.eq(apix),
        ]
        with m.If(step & pixel_done):
            m.d.sync += first.eq(0)
        window = [Signal(data.ArrayLayout(signed(8), L), name=f"window_{r}") for r in range(L)]
        for r in range(L):
            src = _sources(r, L, nb)
            new = self.ibuf_r_data[0]
            for _, j in src:
                new = Mux(src_row[r] == j, self.ibuf_r_data[j], new) if j else new
            shifted = window[r + 1] if r + 1 < L else new
            with m.If(pre):  # S+1: before the first word lands (C0 + 1 >= S+3)
                m.d.sync += window[r].eq(0)
            with m.Elif(rd_valid & active[r]):
                m.d.sync += window[r].eq(Mux(last_col[r], new, shifted))
            m.d.comb += self.window[r].eq(window[r])
        m.d.comb += [
            self.w_load_valid.eq(w_valid),
            self.w_load_row.eq(w_row),
            self.issue.eq(rd_valid & rd_done),
            self.abuf_addr.eq(rd_apix),
            self.reset.eq(reset),
            self.first.eq(rd_first),
            self.last.eq(rd_last),
        ]
        return m
