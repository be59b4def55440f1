"""RoundClamp: the last two PPU stages — round half up, shift, clamp to int8.

Every rescale in dian ends here (ir/ops.py's one rounding rule):
``out = clamp(round_shift(value, s), lo, hi)`` with
``round_shift(x, s) = floor((x + 2**(s-1)) / 2**s)`` for ``s > 0`` and ``x``
for ``s == 0``. Used by :class:`~dian.hwgen.rtl.ppu_requant.PPURequant` and
:class:`~dian.hwgen.rtl.ppu_add.PPUAdd`.

How it rounds without a wide rounding adder: ``t = (2·x) >>> s`` (arithmetic
shift) equals ``floor(x / 2**(s-1))`` for ``s > 0`` and ``2x`` for ``s == 0``,
and ``round_shift(x, s) = (t + [s > 0]) >>> 1``. The barrel shift is split
into a coarse step (multiples of 8, stage 1) and a fine one (0..7, stage 3);
the saturation (2) and the clamp (4) have stages of their own.
After the coarse step the value is saturated to 17 bits: every saturated value
still lands outside [-128, 127] after the fine shift, so the final clamp (to
``lo..hi`` within int8) gives the same answer as with the exact value. That
keeps the fine shifter, the +1 and the comparators 17 bits wide whatever the
input width.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from .datapath import check_lanes, pipe_reg

__all__ = ["RoundClamp"]

#: Width the value is saturated to after the coarse shift (see module docstring).
_SAT_BITS = 17


class RoundClamp(wiring.Component):
    """Lane-parallel ``clamp(round_shift(value, shift), lo, hi)`` to int8.

    Parameters
    ----------
    lanes : int
        Lanes per word, a power of two from 2 to 64.
    in_bits : int
        Width of each signed input value, 2 to 96.

    Ports
    -----
    in_valid : In(1)
        ``value``, ``shift``, ``lo`` and ``hi`` are sampled when it is high.
    value : In(ArrayLayout(signed(in_bits), lanes))
    shift : In(ArrayLayout(unsigned(6), lanes))
        Per-lane shift, 0..62 (63 also computes the formula).
    lo, hi : In(signed(8))
        Clamp bounds, ``lo <= hi``; ``out = min(max(r, lo), hi)`` like ``np.clip``.
    out_valid : Out(1)
        High ``LATENCY`` cycles after the ``in_valid`` it belongs to.
    out : Out(ArrayLayout(signed(8), lanes))

    Timing: fully pipelined, one word per cycle; ``LATENCY`` = 4 clock edges
    from sampling the inputs to ``out``/``out_valid``: coarse shift;
    saturation; fine shift and rounding; clamp.
    """

    LATENCY = timing.ROUND_CLAMP_LATENCY

    def __init__(self, lanes: int, in_bits: int) -> None:
        check_lanes(lanes)
        if not isinstance(in_bits, int) or not 2 <= in_bits <= 96:
            raise ValueError(f"in_bits must be an integer from 2 to 96, not {in_bits!r}")
        self.lanes = lanes
        self.in_bits = in_bits
        super().__init__(
            {
                "in_valid": In(1),
                "value": In(data.ArrayLayout(signed(in_bits), lanes)),
                "shift": In(data.ArrayLayout(unsigned(6), lanes)),
                "lo": In(signed(8)),
                "hi": In(signed(8)),
                "out_valid": Out(1),
                "out": Out(data.ArrayLayout(signed(8), lanes)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        sat_hi, sat_lo = 2 ** (_SAT_BITS - 1) - 1, -(2 ** (_SAT_BITS - 1))

        # Stage 1: t = (2x) >>> (s & ~7). Stage 2: t saturated to 17 bits.
        # (One stage for both missed 150 MHz on ECP5: an 8-way mux of ~65 bits,
        # then two ~65-bit comparisons.)
        wide = [pipe_reg(signed(self.in_bits + 1), f"wide{i}") for i in range(self.lanes)]
        fine0 = [pipe_reg(3, f"fine0_{i}") for i in range(self.lanes)]
        rnd0 = [pipe_reg(1, f"rnd0_{i}") for i in range(self.lanes)]
        lo0, hi0, valid0 = pipe_reg(signed(8), "lo0"), pipe_reg(signed(8), "hi0"), Signal()
        for i in range(self.lanes):
            twice = Cat(C(0, 1), self.value[i]).as_signed()  # 2x, in_bits + 1 wide
            m.d.sync += [
                wide[i].eq(twice >> Cat(C(0, 3), self.shift[i][3:6])),
                fine0[i].eq(self.shift[i][0:3]),
                rnd0[i].eq(self.shift[i] != 0),
            ]
        m.d.sync += [lo0.eq(self.lo), hi0.eq(self.hi), valid0.eq(self.in_valid)]

        coarse = [pipe_reg(signed(_SAT_BITS), f"coarse{i}") for i in range(self.lanes)]
        fine = [pipe_reg(3, f"fine{i}") for i in range(self.lanes)]
        rnd = [pipe_reg(1, f"rnd{i}") for i in range(self.lanes)]
        lo1, hi1, valid1 = pipe_reg(signed(8), "lo1"), pipe_reg(signed(8), "hi1"), Signal()
        for i in range(self.lanes):
            shifted = wide[i]
            m.d.sync += [
                coarse[i].eq(Mux(shifted > sat_hi, sat_hi, Mux(shifted < sat_lo, sat_lo, shifted))),
                fine[i].eq(fine0[i]),
                rnd[i].eq(rnd0[i]),
            ]
        m.d.sync += [lo1.eq(lo0), hi1.eq(hi0), valid1.eq(valid0)]

        # Stage 3: fine shift, +1 (s > 0), >>> 1. Stage 4: clamp.
        rounded = [pipe_reg(signed(_SAT_BITS), f"rounded{i}") for i in range(self.lanes)]
        lo2, hi2, valid2 = pipe_reg(signed(8), "lo2"), pipe_reg(signed(8), "hi2"), Signal()
        for i in range(self.lanes):
            t = coarse[i] >> fine[i]
            m.d.sync += rounded[i].eq((t + rnd[i]) >> 1)
        m.d.sync += [lo2.eq(lo1), hi2.eq(hi1), valid2.eq(valid1)]
        # The clamp's two comparisons run side by side (in series they missed
        # 150 MHz on ECP5); with ``lo <= hi``, min(max(r, lo), hi) is
        # ``r > hi ? hi : r < lo ? lo : r``.
        for i in range(self.lanes):
            out = pipe_reg(signed(8), f"out{i}")
            m.d.sync += out.eq(Mux(rounded[i] > hi2, hi2, Mux(rounded[i] < lo2, lo2, rounded[i])))
            m.d.comb += self.out[i].eq(out)
        m.d.sync += self.out_valid.eq(valid2)
        return m
