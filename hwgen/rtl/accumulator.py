"""AccUpdate: the ABUF read-modify-write datapath.

Between the PE array's column sums and the ABUF write port:
``acc_out[c] = reset ? col_sum[c] : acc_in[c] + col_sum[c]`` on every lane.
``reset`` is high for the first weight block of an output tile (the
instruction's "accumulate" flag clear), so ABUF never needs clearing.

Wrapping is impossible by the IR verifier's proof (``|acc| <= sum|w|*128 +
|bias| < 2**(acc_bits-1)`` bounds every partial sum too); the ``overflow``
output flags it anyway so simulations catch a broken proof or a scheduling
bug. The controller owns the read-after-write hazard: an ABUF word must not be
read again before its update, ``LATENCY`` edges after this block sampled it,
has been written.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from .datapath import check_lanes, fits_signed, pipe_reg

__all__ = ["AccUpdate"]


class AccUpdate(wiring.Component):
    """``reset ? sum : acc + sum`` on ``lanes`` lanes of ``acc_bits``.

    Parameters
    ----------
    lanes : int
        Lanes per word, a power of two from 2 to 64.
    acc_bits : int
        ABUF lane width, 16 to 32.
    sum_bits : int
        Width of the column sums (``PEArray.sum_bits``), 2 to 40.

    Ports
    -----
    in_valid : In(1)
        ``col_sum``, ``acc_in`` and ``reset`` are sampled when it is high.
    col_sum : In(ArrayLayout(signed(sum_bits), lanes))
    acc_in : In(ArrayLayout(signed(acc_bits), lanes))
        The ABUF word read for this update (ignored when ``reset``).
    reset : In(1)
    out_valid : Out(1)
        High ``LATENCY`` edges after the ``in_valid`` it belongs to; the
        ABUF write enable.
    acc_out : Out(ArrayLayout(signed(acc_bits), lanes))
    overflow : Out(1)
        With ``out_valid``: some lane's exact result did not fit ``acc_bits``
        (``acc_out`` then holds it wrapped). A simulation assertion.

    Timing: one word per cycle, ``LATENCY`` = 1 (the sum is registered).
    """

    LATENCY = timing.ACC_UPDATE_LATENCY

    def __init__(self, lanes: int, acc_bits: int = 32, sum_bits: int | None = None) -> None:
        check_lanes(lanes)
        if not isinstance(acc_bits, int) or not 16 <= acc_bits <= 32:
            raise ValueError(f"acc_bits must be an integer from 16 to 32, not {acc_bits!r}")
        if sum_bits is None:
            sum_bits = acc_bits
        if not isinstance(sum_bits, int) or not 2 <= sum_bits <= 40:
            raise ValueError(f"sum_bits must be an integer from 2 to 40, not {sum_bits!r}")
        self.lanes, self.acc_bits, self.sum_bits = lanes, acc_bits, sum_bits
        super().__init__(
            {
                "in_valid": In(1),
                "col_sum": In(data.ArrayLayout(signed(sum_bits), lanes)),
                "acc_in": In(data.ArrayLayout(signed(acc_bits), lanes)),
                "reset": In(1),
                "out_valid": Out(1),
                "acc_out": Out(data.ArrayLayout(signed(acc_bits), lanes)),
                "overflow": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        over = []
        for c in range(self.lanes):
            total = Mux(self.reset, self.col_sum[c], self.acc_in[c] + self.col_sum[c])
            over.append(~fits_signed(total, self.acc_bits))
            out = pipe_reg(signed(self.acc_bits), f"acc_out{c}")
            m.d.sync += out.eq(total)
            m.d.comb += self.acc_out[c].eq(out)
        m.d.sync += [
            self.overflow.eq(self.in_valid & Cat(*over).any()),
            self.out_valid.eq(self.in_valid),
        ]
        return m
