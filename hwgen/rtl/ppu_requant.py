"""PPURequant: the lane-parallel requantizer of the post-processing unit.

``out[i] = clamp(round_shift((acc[i] + bias[i]) * M[i], s[i]), lo, hi)``, the
integer contract of ir/ops.py (round half up). It serves every instruction
whose arithmetic has this form: a GEMM's or DW's fused requantization (each
final sum as it is written to ABUF, with the bias and per-channel M, s of a
PBUF entry), ``COPY`` (int8 word, bias 0, per-input M, s) and
the rescale of ``AVGPOOL``/``GAP`` window sums from
:class:`~dian.hwgen.rtl.ppu_pool.PPUPool` (bias 0, per-tensor M, s), so the
costly multipliers exist once per lane.

The ``acc_bits`` × 31-bit multiply is split into DSP-sized partial products
(ECP5 MULT18X18D takes 18×18 signed): ``v = acc + bias`` as a 17-bit unsigned
low part and a signed high part (a single signed part when ``acc_bits <= 18``),
``M`` as 17 + 14 unsigned bits; every partial product fits one 18×18
multiplier (4 per lane at ``acc_bits > 18``, 2 at ``acc_bits <= 18``), and
the two middle ones are added before the full product is formed. The split
is :func:`dian.hwgen.dsp_plan.split_parts`'s; each partial product is a DSP
or a LUT product as the config's DSP plan says (``dsp``).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from ..dsp_plan import PIECE_BITS, Operand, Part, requant_operands, split_parts
from .datapath import check_lanes, fits_signed, pipe_reg
from .multiplier import check_dsp, product
from .ppu_round import RoundClamp

__all__ = ["PPURequant"]

_SPLIT = PIECE_BITS  # bits in the low partial operand (unsigned, fits 18-bit signed)
M_BITS = 31  # Requant.MULTIPLIER_BITS
BIAS_BITS = 32


class PPURequant(wiring.Component):
    """``clamp(round_shift((acc + bias) * M, s), lo, hi)`` on ``lanes`` lanes.

    Parameters
    ----------
    lanes : int
        Lanes per word, a power of two from 2 to 64.
    acc_bits : int
        Accumulator width, 16 to 32. ``acc + bias`` must fit it (the IR
        verifier proves ``|acc| + |bias| < 2**(acc_bits-1)``); if not,
        ``overflow`` is raised for that word.
    rate : int
        Cycles a word takes (1, 2 or 4, at most ``lanes / 2``): the unit has
        ``lanes / rate`` *slots* of multipliers and rounding, and lanes
        ``r·S .. r·S + S - 1`` (``S`` slots) pass them in the word's cycle
        ``r``, the inputs latched in its first. ``in_valid`` may be high at
        most once every ``rate`` cycles.
    dsp : int or None
        How many partial products use ``*`` (a DSP block after synthesis):
        partial product k (:func:`~dian.hwgen.dsp_plan.split_parts` order,
        largest first) of slot i when ``k * slots + i < dsp``; the others are
        LUT products, same value and timing. ``None``: all.

    Ports
    -----
    in_valid : In(1)
        All other inputs are sampled together when it is high (parameters may
        change from one word to the next).
    acc : In(ArrayLayout(signed(acc_bits), lanes))
    bias : In(ArrayLayout(signed(32), lanes))
    multiplier : In(ArrayLayout(unsigned(31), lanes))
        ``M``, 0 .. 2**31 - 1.
    shift : In(ArrayLayout(unsigned(6), lanes))
        ``s``, 0..62.
    lo, hi : In(signed(8))
        Output clamp, ``lo <= hi`` (int8 range, narrowed by a fused ReLU/ReLU6).
    out_valid : Out(1)
        High ``latency`` cycles after the ``in_valid`` it belongs to.
    out : Out(ArrayLayout(signed(8), lanes))
    overflow : Out(1)
        Simulation assertion, with ``out_valid``: some lane's
        ``acc + bias`` did not fit ``acc_bits`` (its output is then wrong).

    Timing: one word every ``rate`` cycles; ``latency`` = ``LATENCY`` (8
    edges: bias add, partial products, middle sum, full product, then
    :class:`RoundClamp` (4)) plus ``rate - 1``, the word's further cycles
    (:func:`dian.hwgen.timing.requant_latency`).
    """

    LATENCY = timing.PPU_REQUANT_LATENCY

    def __init__(self, lanes: int, acc_bits: int = 32, *, rate: int = 1, dsp: int | None = None) -> None:
        check_lanes(lanes)
        if not isinstance(acc_bits, int) or not 16 <= acc_bits <= 32:
            raise ValueError(f"acc_bits must be an integer from 16 to 32, not {acc_bits!r}")
        if rate not in timing.PPU_RATES or lanes < 2 * rate:
            allowed = f"one of {timing.PPU_RATES} and at most lanes / 2 ({lanes // 2})"
            raise ValueError(f"rate must be {allowed}, not {rate!r}")
        self.lanes = lanes
        self.acc_bits = acc_bits
        self.rate = rate
        self.slots = lanes // rate
        self.latency = timing.requant_latency(rate)
        self.dsp = check_dsp(dsp, self.slots * len(split_parts(*requant_operands(acc_bits))))
        super().__init__(
            {
                "in_valid": In(1),
                "acc": In(data.ArrayLayout(signed(acc_bits), lanes)),
                "bias": In(data.ArrayLayout(signed(BIAS_BITS), lanes)),
                "multiplier": In(data.ArrayLayout(unsigned(M_BITS), lanes)),
                "shift": In(data.ArrayLayout(unsigned(6), lanes)),
                "lo": In(signed(8)),
                "hi": In(signed(8)),
                "out_valid": Out(1),
                "out": Out(data.ArrayLayout(signed(8), lanes)),
                "overflow": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        S, R = self.slots, self.rate
        m.submodules.round = rc = RoundClamp(S, self.acc_bits + M_BITS)
        n = self.acc_bits
        lanes = range(S)

        def delayed(sig, stages: int, name: str, reset_less: bool = True):
            """``sig`` registered ``stages`` times."""
            for k in range(stages):
                nxt = Signal(sig.shape(), name=f"{name}_d{k + 1}", reset_less=reset_less)
                m.d.sync += nxt.eq(sig)
                sig = nxt
            return sig

        # The slots' inputs: lanes r*S .. r*S + S - 1 in phase r; phase 0 is the cycle in_valid is
        # high (the live inputs), phases 1 .. R-1 the next cycles (the word latched at phase 0).
        acc = [Signal(signed(n), name=f"s_acc{j}") for j in lanes]
        bias = [Signal(signed(BIAS_BITS), name=f"s_bias{j}") for j in lanes]
        mult = [Signal(M_BITS, name=f"s_mult{j}") for j in lanes]
        shift = [Signal(6, name=f"s_shift{j}") for j in lanes]
        lo, hi, valid, phase = Signal(signed(8)), Signal(signed(8)), Signal(), Signal(range(R))
        live = [(self.acc[j], self.bias[j], self.multiplier[j], self.shift[j]) for j in range(self.lanes)]
        if R == 1:
            for j in lanes:
                m.d.comb += [acc[j].eq(live[j][0]), bias[j].eq(live[j][1]), mult[j].eq(live[j][2])]
                m.d.comb += shift[j].eq(live[j][3])
            m.d.comb += [lo.eq(self.lo), hi.eq(self.hi), valid.eq(self.in_valid)]
        else:
            slot_in = [(acc[j], bias[j], mult[j], shift[j]) for j in lanes]
            nxt = Signal(range(R), name="phase_next")  # the phase of the next cycle (0: idle or a new word)
            m.d.sync += nxt.eq(Mux(self.in_valid, 1, Mux((nxt == 0) | (nxt == R - 1), 0, nxt + 1)))
            m.d.comb += [phase.eq(nxt), valid.eq(self.in_valid | (nxt != 0))]
            # lanes S .. L-1 wait for their phase (lanes 0 .. S-1 pass in phase 0, live)
            held = {
                j: tuple(pipe_reg(x.shape(), f"held{j}_{k}") for k, x in enumerate(live[j]))
                for j in range(S, self.lanes)
            }
            held_lo, held_hi = pipe_reg(signed(8), "held_lo"), pipe_reg(signed(8), "held_hi")
            with m.If(self.in_valid):
                m.d.sync += [h.eq(x) for j in held for h, x in zip(held[j], live[j], strict=True)]
                m.d.sync += [held_lo.eq(self.lo), held_hi.eq(self.hi)]
            with m.Switch(nxt):
                with m.Case(0):
                    m.d.comb += [lo.eq(self.lo), hi.eq(self.hi)]
                    for j in lanes:
                        m.d.comb += [t.eq(x) for t, x in zip(slot_in[j], live[j], strict=True)]
                for r in range(1, R):
                    with m.Case(r):
                        m.d.comb += [lo.eq(held_lo), hi.eq(held_hi)]
                        for j in lanes:
                            m.d.comb += [t.eq(x) for t, x in zip(slot_in[j], held[r * S + j], strict=True)]

        # Stage 1: v = acc + bias, range check; each partial product's operand pieces in registers
        # of its own (:func:`_operand_registers`).
        parts = split_parts(*requant_operands(n))
        ovf_lane = []
        operands = []
        for i in lanes:
            total = acc[i] + bias[i]
            ovf_lane.append(~fits_signed(total, n))
            operands.append(_operand_registers(m, i, parts, total, mult[i], valid))
        ovf1 = Signal(name="ovf1")
        m.d.sync += ovf1.eq(Cat(*ovf_lane).any())

        # Stage 2: partial products, each within an 18x18 signed multiplier.
        # Stage 3: the two products at offset 17 summed. Stage 4: full product.
        for i in lanes:
            by_offset: dict[int, list[Signal]] = {}
            for k, part in enumerate(parts):
                vp, mp = operands[i][k]
                prod = product(m, vp, mp, dsp=k * S + i < self.dsp, name=f"mul{i}_{part.a_lo}_{part.b_lo}")
                pp = pipe_reg(prod.shape(), f"pp{i}_{part.a_lo}_{part.b_lo}")
                m.d.sync += pp.eq(prod)
                by_offset.setdefault(part.offset, []).append(pp)
            low = by_offset[0][0]
            mid = sum(by_offset[_SPLIT][1:], start=by_offset[_SPLIT][0])
            mid3 = pipe_reg(mid.shape(), f"mid{i}")
            low3 = pipe_reg(low.shape(), f"low{i}")
            m.d.sync += [mid3.eq(mid), low3.eq(low)]
            if 2 * _SPLIT in by_offset:
                high3 = pipe_reg(by_offset[2 * _SPLIT][0].shape(), f"high{i}")
                m.d.sync += high3.eq(by_offset[2 * _SPLIT][0])
                outer = Cat(low3, high3).as_signed()  # low3 is exactly 34 bits unsigned
            else:
                outer = low3
            full = pipe_reg(signed(n + M_BITS), f"product{i}")
            m.d.sync += full.eq(outer + (mid3 << _SPLIT))
            m.d.comb += rc.value[i].eq(full)

        m.d.comb += [rc.shift[i].eq(delayed(shift[i], 4, f"shift{i}")) for i in lanes]
        m.d.comb += [
            rc.lo.eq(delayed(lo, 4, "lo")),
            rc.hi.eq(delayed(hi, 4, "hi")),
            rc.in_valid.eq(delayed(valid, 4, "valid", reset_less=False)),
        ]
        ovf = delayed(ovf1, 3 + RoundClamp.LATENCY, "ovf", reset_less=False)
        if R == 1:
            m.d.comb += [self.out_valid.eq(rc.out_valid), self.out.eq(rc.out), self.overflow.eq(ovf)]
            return m
        # The phases' results leave RoundClamp one a cycle; phases 0 .. R-2 wait in registers and the
        # word goes out with phase R-1's.
        phase_out = delayed(phase, 4 + RoundClamp.LATENCY, "phase")
        done = [pipe_reg(unsigned(8 * S), f"out_part{r}") for r in range(R - 1)]
        ovf_seen = Signal(name="ovf_seen")
        for r in range(R - 1):
            with m.If(rc.out_valid & (phase_out == r)):
                m.d.sync += done[r].eq(rc.out.as_value())
        with m.If(rc.out_valid):
            m.d.sync += ovf_seen.eq(Mux(phase_out == 0, ovf, ovf_seen | ovf))
        m.d.comb += [
            self.out_valid.eq(rc.out_valid & (phase_out == R - 1)),
            self.out.eq(Cat(*done, rc.out.as_value())),
            self.overflow.eq(self.out_valid & (ovf_seen | ovf)),
        ]
        return m


def _operand_registers(
    m: Module, lane: int, parts: tuple[Part, ...], v: Value, mult: Value, valid: Value
) -> list[tuple[Value, Value]]:
    """Per partial product, its two operand pieces (of ``v = acc + bias`` and of ``M``) registered.

    Every piece feeds two products, whose DSPs the placer puts apart: from one register the 8x8's
    critical path was M's register -> MULT18X18D -> product register, 3.5 ns of logic and 7.7 of
    routing (issue 15). So each product gets a copy of its pieces. Yosys merges flip-flops with the
    same inputs (``opt_merge``), so a piece's second copy loads only while ``valid`` (an enable: a
    different cell), which changes no result (a word's pieces are used in the cycle after its
    ``valid``).
    """
    copies: dict[tuple[str, int], int] = {}

    def piece(which: str, value: Value, lo: int, operand: Operand, k: int) -> Value:
        copy = copies.get((which, lo), 0)
        copies[(which, lo)] = copy + 1
        if copy > 1:
            raise AssertionError(f"a {which} piece feeds more than two products: {parts}")
        reg = pipe_reg(operand.bits, f"{which}{lane}_{lo}_p{k}")
        if copy == 0:
            m.d.sync += reg.eq(value[lo : lo + operand.bits])
        else:
            with m.If(valid):
                m.d.sync += reg.eq(value[lo : lo + operand.bits])
        return _piece(reg, 0, operand.bits, operand.signed)

    return [
        (piece("v", v, part.a_lo, part.a, k), piece("m", mult, part.b_lo, part.b, k)) for k, part in enumerate(parts)
    ]


def _piece(value: Value, lo: int, bits: int, signed: bool) -> Value:
    """``value[lo : lo + bits]``, signed when it holds the sign bit."""
    piece = value[lo : lo + bits]
    return piece.as_signed() if signed else piece
