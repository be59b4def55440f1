"""PPUAdd: the residual add of the post-processing unit.

``out = clamp(round_shift(a * Ma ± b * Mb, s), lo, hi)`` on L int8 lanes with
per-tensor ``Ma``, ``Mb``, ``s`` (ir/ops.py ``Add``; one rounding; ``subtract``
picks the minus).

The two operands arrive one after the other through one port — ``a`` word,
then ``b`` word, ``operand`` telling which — because the ADD instruction
reads them from IBUF's single read port anyway (2 cycles a word, *(v1)* in
docs/accelerator.md). So each lane needs one int8 × 31-bit multiplier, not
two: the ``a`` product is held until its ``b`` arrives. That product is two
DSP-sized partial products (``M``'s low 17 bits and its high 14), each a DSP
or a LUT product as the config's DSP plan says (``dsp``).

Pipelined for the DSP blocks: a partial product's stage holds nothing but the
multiplier, from registers (``x`` and ``mult`` come from the caller's
flip-flops: CmpEngine selects ``Ma`` or ``Mb`` a cycle ahead) to registers;
the partial products' sum and the pair's sum share the next stage, two short
carry chains. (In one stage with the multiplier — operand mux, MULT18X18D,
adder — PPUAdd was the accelerator's critical path: 99.9 MHz on ECP5.)
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from ..dsp_plan import PIECE_BITS, add_operands, split_parts
from .datapath import check_lanes, kept, pipe_reg
from .multiplier import check_dsp, product
from .ppu_round import RoundClamp

__all__ = ["PPUAdd"]

M_BITS = 31
PROD_BITS = 8 + M_BITS  # signed int8 x unsigned 31-bit


class PPUAdd(wiring.Component):
    """Serial-operand residual add on ``lanes`` int8 lanes.

    Parameters
    ----------
    lanes : int
        Lanes per word, a power of two from 2 to 64.
    dsp : int or None
        How many partial products use ``*`` (a DSP block after synthesis):
        each lane's product is ``x * M[:17] + (x * M[17:] << 17)``, partial
        product k (:func:`~dian.hwgen.dsp_plan.split_parts` order: the 17-bit
        piece, then the 14-bit one) of lane i when ``k * lanes + i < dsp``;
        the others are LUT products, same value and timing. ``None``: all.

    Ports
    -----
    in_valid : In(1)
        ``x`` and ``operand`` are sampled when it is high.
    x : In(ArrayLayout(signed(8), lanes))
        An ``a`` word (``operand`` 0) or a ``b`` word (``operand`` 1). Each
        ``b`` completes the pair with the latest ``a``; idle cycles may come
        between them.
    operand : In(1)
    mult : In(unsigned(31))
        The word's multiplier, sampled with it: ``Ma`` with an ``a`` word,
        ``Mb`` with a ``b`` word (0 .. 2**31 - 1).
    shift : In(unsigned(6))
        ``s``, 0..62, sampled with the ``b`` word.
    lo, hi : In(signed(8))
        Output clamp, sampled with the ``b`` word.
    subtract : In(1)
        ``a * Ma - b * Mb``, sampled with the ``b`` word.
    out_valid : Out(1)
        High ``LATENCY`` edges after the ``b`` word was sampled.
    out : Out(ArrayLayout(signed(8), lanes))

    Timing: one output word every 2 input cycles at best; ``LATENCY`` = 6
    edges from the ``b`` word: partial products, their sum and the pair's,
    :class:`RoundClamp` (4).
    """

    LATENCY = timing.PPU_ADD_LATENCY

    def __init__(self, lanes: int, *, dsp: int | None = None) -> None:
        check_lanes(lanes)
        self.lanes = lanes
        self.dsp = check_dsp(dsp, lanes * len(split_parts(*add_operands())))
        super().__init__(
            {
                "in_valid": In(1),
                "x": In(data.ArrayLayout(signed(8), lanes)),
                "operand": In(1),
                "mult": In(unsigned(M_BITS)),
                "shift": In(unsigned(6)),
                "lo": In(signed(8)),
                "hi": In(signed(8)),
                "subtract": In(1),
                "out_valid": Out(1),
                "out": Out(data.ArrayLayout(signed(8), lanes)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.round = rc = RoundClamp(self.lanes, PROD_BITS + 1)
        # Stage 1: the partial products of each lane, nothing else (registers to registers).
        lo1: list[Signal] = []
        hi1: list[Signal] = []
        valid1, is_b1, sub1 = Signal(), Signal(), Signal()
        shift1, lo_c1, hi_c1 = pipe_reg(6, "shift1"), pipe_reg(signed(8), "lo1"), pipe_reg(signed(8), "hi1")
        parts = split_parts(*add_operands())
        for i in range(self.lanes):
            pps = {
                part.b_lo: product(
                    m,
                    self.x[i],
                    self.mult[part.b_lo : part.b_lo + part.b.bits],
                    dsp=k * self.lanes + i < self.dsp,
                    name=f"mul{i}_{part.b_lo}",
                )
                for k, part in enumerate(parts)
            }
            assert sorted(pps) == [0, PIECE_BITS] and all(part.a_lo == 0 for part in parts)
            lo1.append(pipe_reg(pps[0].shape(), f"pp_lo{i}"))
            hi1.append(pipe_reg(pps[PIECE_BITS].shape(), f"pp_hi{i}"))
            m.d.sync += [lo1[i].eq(pps[0]), hi1[i].eq(pps[PIECE_BITS])]
        m.d.sync += [
            valid1.eq(self.in_valid),
            is_b1.eq(self.operand),
            sub1.eq(self.subtract),
            shift1.eq(self.shift),
            lo_c1.eq(self.lo),
            hi_c1.eq(self.hi),
        ]

        # Stage 2: x * M = lo + hi * 2**17 (lo's low 17 bits pass through); an a product is held,
        # a b product completes the pair with it.
        held = [pipe_reg(signed(PROD_BITS), f"held{i}") for i in range(self.lanes)]
        pair = [pipe_reg(signed(PROD_BITS + 1), f"pair{i}") for i in range(self.lanes)]
        shift2, lo2, hi2 = pipe_reg(6, "shift2"), pipe_reg(signed(8), "lo2"), pipe_reg(signed(8), "hi2")
        valid2 = Signal()
        for i in range(self.lanes):
            upper = kept(signed(PROD_BITS - PIECE_BITS), f"prod_hi{i}")
            m.d.comb += upper.eq((lo1[i] >> PIECE_BITS) + hi1[i])
            prod = Cat(lo1[i][:PIECE_BITS], upper).as_signed()
            with m.If(valid1 & ~is_b1):
                m.d.sync += held[i].eq(prod)
            m.d.sync += pair[i].eq(Mux(sub1, held[i] - prod, held[i] + prod))
        m.d.sync += [valid2.eq(valid1 & is_b1), shift2.eq(shift1), lo2.eq(lo_c1), hi2.eq(hi_c1)]
        m.d.comb += [rc.value[i].eq(pair[i]) for i in range(self.lanes)]
        m.d.comb += [rc.shift[i].eq(shift2) for i in range(self.lanes)]
        m.d.comb += [rc.in_valid.eq(valid2), rc.lo.eq(lo2), rc.hi.eq(hi2)]

        m.d.comb += [self.out_valid.eq(rc.out_valid), self.out.eq(rc.out)]
        return m
