"""PPUPool: the window reducer of the post-processing unit.

Per lane, the max or the sum of a stream of int8 window words; ``first``
marks a window's first word, ``last`` its last. The result is an
``acc_bits``-wide word that goes on to :class:`~dian.hwgen.rtl.ppu_requant.PPURequant`
— the PPU's one rescaling unit — as its ``acc`` input with bias 0:

* ``AVGPOOL``/``GAP``: ``clamp(round_shift(sum * M, s), -128, 127)`` with the
  op's per-tensor M, s (the divisor, padded positions included, is in M);
* ``MAXPOOL``: M = 1, s = 0, clamp [-128, 127], which passes the max through.

Sharing the requantizer saves its ``acc_bits`` × 31-bit multipliers (four
18×18 DSPs per lane) that a private avg rescale would duplicate; POOL,
COPY and the GEMM/DW that requantize are different instructions and never
use the requantizer at once.

Padding: max pooling must never let a padded position win (ir/ops.py); the
IBUF tile's padding is zeros, so the POOL instruction streams only the
in-bounds positions of a window (for avg pooling the skipped zeros add
nothing to the sum either).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from .datapath import check_lanes, fits_signed, pipe_reg

__all__ = ["PPUPool", "PoolOp"]


class PoolOp(enum.Enum, shape=1):  # type: ignore[call-arg]  # amaranth is untyped: mypy checks shape= against object
    MAX = 0
    SUM = 1


class PPUPool(wiring.Component):
    """Max or sum over a window stream on ``lanes`` int8 lanes.

    Parameters
    ----------
    lanes : int
        Lanes per word, a power of two from 2 to 64.
    acc_bits : int
        Width of the running sum and of ``out``, 16 to 32 (a window of up to
        ``2**(acc_bits - 8)`` words cannot overflow it).

    Ports
    -----
    in_valid : In(1)
        ``x``, ``first``, ``last`` and ``op`` are sampled when it is high.
    x : In(ArrayLayout(signed(8), lanes))
    first, last : In(1)
        The word starts / ends its window (both for a 1-word window). Idle
        cycles may come anywhere in a window.
    op : In(PoolOp)
        Must stay the same through a window.
    out_valid : Out(1)
        High ``LATENCY`` edges after a ``last`` word was sampled.
    out : Out(ArrayLayout(signed(acc_bits), lanes))
        The window's max (an int8 value) or sum.
    overflow : Out(1)
        With ``out_valid``: a sum left the ``acc_bits`` range during the
        window (a simulation assertion; the lowering bounds windows).

    Timing: one word per cycle, ``LATENCY`` = 1 edge from the ``last`` word.
    """

    LATENCY = timing.PPU_POOL_LATENCY

    def __init__(self, lanes: int, acc_bits: int = 32) -> None:
        check_lanes(lanes)
        if not isinstance(acc_bits, int) or not 16 <= acc_bits <= 32:
            raise ValueError(f"acc_bits must be an integer from 16 to 32, not {acc_bits!r}")
        self.lanes, self.acc_bits = lanes, acc_bits
        super().__init__(
            {
                "in_valid": In(1),
                "x": In(data.ArrayLayout(signed(8), lanes)),
                "first": In(1),
                "last": In(1),
                "op": In(PoolOp),
                "out_valid": Out(1),
                "out": Out(data.ArrayLayout(signed(acc_bits), lanes)),
                "overflow": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        run = [pipe_reg(signed(self.acc_bits), f"run{i}") for i in range(self.lanes)]
        outs = [pipe_reg(signed(self.acc_bits), f"out{i}") for i in range(self.lanes)]
        sticky = Signal()
        over = []
        nxt = []
        for i, r in enumerate(run):
            x = self.x[i]
            total = r + x
            over.append(~self.first & (self.op == PoolOp.SUM) & ~fits_signed(total, self.acc_bits))
            r8 = r[:8].as_signed()  # in MAX mode the running value is an int8
            combined = Mux(self.op == PoolOp.SUM, total, Mux(x > r8, x, r8))
            nxt.append(Mux(self.first, x, combined))
        ovf = (sticky & ~self.first) | Cat(*over).any()
        with m.If(self.in_valid):
            m.d.sync += [r.eq(n) for r, n in zip(run, nxt, strict=True)]
            m.d.sync += sticky.eq(ovf)
            with m.If(self.last):
                m.d.sync += [o.eq(n) for o, n in zip(outs, nxt, strict=True)]
                m.d.sync += self.overflow.eq(ovf)
        m.d.sync += self.out_valid.eq(self.in_valid & self.last)
        m.d.comb += [self.out[i].eq(o) for i, o in enumerate(outs)]
        return m
