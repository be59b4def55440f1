"""PEArray: the L×L int8 multiply array with one adder tree per column.

``col_sum[c] = sum_r w[r][c] * x[r][c]`` (docs/accelerator.md, "Compute modes
of the PE array"), where the input of PE(r, c) depends on the mode:

* GEMM: ``x[r][c] = x_data[r]`` — one IBUF word, byte r broadcast along row r
  (weights ``w[r][c] = W[k=c, ci=r]``);
* DW: ``x[r][c] = x_words[r][c]`` — row r gets its own word (the pixel under
  tap r), byte c to column c (weights ``w[t][c] = W[ch=c, tap t]``).

DW port structure: a separate ``x_words`` input of L words, present only when
the array is built with ``depthwise=True``; the mode selects per PE between
the broadcast GEMM byte and the DW byte (one 2:1 byte mux per PE, no mux at
all for a GEMM-only array). The controller drives ``x_data`` straight from the
IBUF read port and ``x_words`` from its DW window register.

Weights are double-buffered: a shadow set is written one row per cycle from a
WBUF word while the active set computes, and ``w_swap`` copies shadow to
active in one edge.

Busy-PE counting is outside the array (:class:`~dian.hwgen.rtl.gemm_unit.GemmUnit`):
it counts *array-occupied* PE-cycles, ``L*L`` on every cycle a GEMM pixel
enters (``in_valid``) and ``T*L`` for a DW window of ``T`` taps, padding rows
and lanes included, as sim/machine and the cost model do (hwgen/timing.py's
``busy_pe``); useful MACs are the schedules' business, not a counter's.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from .datapath import check_lanes, kept, pipe_reg
from .multiplier import check_dsp, product

__all__ = ["PEArray", "PEMode"]


class PEMode(enum.Enum, shape=1):  # type: ignore[call-arg]  # amaranth is untyped: mypy checks shape= against object
    GEMM = 0
    DW = 1


class PEArray(wiring.Component):
    """``lanes`` × ``lanes`` int8 PEs, column adder trees, double-buffered weights.

    Parameters
    ----------
    lanes : int
        L = rows = columns, a power of two from 2 to 64.
    depthwise : bool
        Build the DW input path (``mode``, ``x_words``). Default True.
    dsp : int or None
        How many PE products use ``*`` (a DSP block after synthesis): those
        of PE(r, c) with ``r * lanes + c < dsp``; the others are LUT products
        (:mod:`dian.hwgen.rtl.multiplier`), same value and timing. ``None``: all
        (the count comes from :func:`dian.hwgen.dsp_plan.plan_dsps`).

    Ports
    -----
    w_load_valid : In(1)
        Write ``w_load_data`` into shadow row ``w_load_row`` at this edge.
    w_load_row : In(range(lanes))
    w_load_data : In(ArrayLayout(signed(8), lanes))
        One WBUF word; byte c is the weight of PE(row, c).
    w_swap : In(1)
        Copy the shadow weights to the active set at this edge. The shadow
        copied is the one before this edge's load, if any (so the first row of
        the next block may load in the swap cycle). An input sampled at the
        swap edge already uses the new weights (the weights meet the operand
        one edge later), so the swap goes with the new block's first input.
    mode : In(PEMode)        (only with ``depthwise``)
    in_valid : In(1)
        ``x_data``/``x_words``/``mode`` are sampled when it is high.
    x_data : In(ArrayLayout(signed(8), lanes))
        GEMM input word.
    x_words : In(ArrayLayout(ArrayLayout(signed(8), lanes), lanes))   (only with ``depthwise``)
        DW input: ``x_words[r][c]`` goes to PE(r, c).
    out_valid : Out(1)
        High ``LATENCY`` edges after the ``in_valid`` it belongs to.
    col_sum : Out(ArrayLayout(signed(sum_bits), lanes))
        ``sum_bits = 16 + log2(lanes)``: the exact column sum, never wrapping
        (``lanes * 128 * 128`` needs it). The ABUF update
        (:class:`~dian.hwgen.rtl.accumulator.AccUpdate`) brings it to ``acc_bits``.

    Timing: one input per cycle; ``LATENCY`` = 4 edges: each PE's operand
    (after the GEMM/DW select) registered, products registered, the first
    ``ceil(log2(L) / 2)`` tree levels registered, the rest of the tree
    registered into ``col_sum``.
    """

    LATENCY = timing.PE_ARRAY_LATENCY

    def __init__(self, lanes: int, *, depthwise: bool = True, dsp: int | None = None) -> None:
        check_lanes(lanes)
        if not isinstance(depthwise, bool):
            raise TypeError(f"depthwise must be a bool, not {depthwise!r}")
        self.lanes = lanes
        self.depthwise = depthwise
        self.dsp = check_dsp(dsp, lanes * lanes)
        self.levels = lanes.bit_length() - 1
        self.sum_bits = 16 + self.levels
        word = data.ArrayLayout(signed(8), lanes)
        members = {
            "w_load_valid": In(1),
            "w_load_row": In(range(lanes)),
            "w_load_data": In(word),
            "w_swap": In(1),
            "in_valid": In(1),
            "x_data": In(word),
            "out_valid": Out(1),
            "col_sum": Out(data.ArrayLayout(signed(self.sum_bits), lanes)),
        }
        if depthwise:
            members["mode"] = In(PEMode)
            members["x_words"] = In(data.ArrayLayout(word, lanes))
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        L = self.lanes
        shadow = [[pipe_reg(signed(8), f"w_shadow_{r}_{c}") for c in range(L)] for r in range(L)]
        active = [[pipe_reg(signed(8), f"w_{r}_{c}") for c in range(L)] for r in range(L)]
        for r in range(L):
            with m.If(self.w_load_valid & (self.w_load_row == r)):
                m.d.sync += [shadow[r][c].eq(self.w_load_data[c]) for c in range(L)]
        with m.If(self.w_swap):
            m.d.sync += [active[r][c].eq(shadow[r][c]) for r in range(L) for c in range(L)]

        # Stage 1: each PE's operand, selected by the mode, registered (so the
        # multiplier starts from flip-flops). Stage 2: products.
        dw = (self.mode == PEMode.DW) if self.depthwise else None
        operand = [[pipe_reg(signed(8), f"x_{r}_{c}") for c in range(L)] for r in range(L)]
        prod = [[pipe_reg(signed(16), f"p_{r}_{c}") for c in range(L)] for r in range(L)]
        for r in range(L):
            for c in range(L):
                x = Mux(dw, self.x_words[r][c], self.x_data[r]) if self.depthwise else self.x_data[r]
                p = product(m, active[r][c], operand[r][c], dsp=r * L + c < self.dsp, name=f"mul_{r}_{c}")
                m.d.sync += [operand[r][c].eq(x), prod[r][c].eq(p)]

        # Stage 3: the first ``split`` tree levels (split >= 1). Stage 4: the rest.
        split = (self.levels + 1) // 2
        for c in range(L):
            half = _add_levels(m, [prod[r][c] for r in range(L)], split, f"s_{c}")
            regs = [pipe_reg(t.shape(), f"t_{c}_{k}") for k, t in enumerate(half)]
            m.d.sync += [reg.eq(t) for reg, t in zip(regs, half, strict=True)]
            total = pipe_reg(signed(self.sum_bits), f"col_sum_{c}")
            m.d.sync += total.eq(_add_levels(m, regs, self.levels - split, f"u_{c}")[0])
            m.d.comb += self.col_sum[c].eq(total)

        valid = self.in_valid
        for k in range(self.LATENCY):
            nxt = Signal(name=f"valid_{k + 1}")
            m.d.sync += nxt.eq(valid)
            valid = nxt
        m.d.comb += self.out_valid.eq(valid)
        return m


def _add_levels(m: Module, terms: list, levels: int, name: str) -> list:
    """``levels`` levels of pairwise adds (each widens by one bit), every sum a
    kept wire so that Yosys builds each as a carry chain."""
    for level in range(levels):
        sums = []
        for k in range(0, len(terms), 2):
            s = kept(signed(len(terms[k]) + 1), f"{name}_l{level}_{k // 2}")
            m.d.comb += s.eq(terms[k] + terms[k + 1])
            sums.append(s)
        terms = sums
    return terms
