"""HeadFifo: a synchronous FIFO whose head entry is a register, with the timing of Amaranth's SyncFIFO.

Amaranth's :class:`~amaranth.lib.fifo.SyncFIFO` presents its head through an asynchronous read of
its storage (distributed RAM and a mux of the RAM blocks), so ``r_data`` comes late in the cycle;
:class:`~amaranth.lib.fifo.SyncFIFOBuffered` registers it but makes a write into an empty queue
visible a cycle later. This one keeps the head in a register *and* SyncFIFO's timing: a write into
an empty queue (or one whose only entry is read in the same cycle) goes straight into the head
register, so it is readable in the next cycle, and every other write waits in an inner SyncFIFO of
``depth - 1`` entries that refills the head. ``r_rdy``, ``r_data`` and ``w_rdy`` are
SyncFIFO's cycle for cycle (tests/hwgen/rtl/test_head_fifo.py drives both with the same random
traffic); ``r_rdy`` and ``r_data`` are flip-flops.

The MEM engine's slot descriptors use it: the response side's decision (take the head; was it the
box's last slot?) ends the instruction and signals its tokens, so the head must come early.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

__all__ = ["HeadFifo"]


class HeadFifo(wiring.Component):
    """``depth`` (>= 2) entries of ``width`` bits; ports as Amaranth's FIFOs (``w_data``, ``w_en``,
    ``w_rdy``, ``r_data``, ``r_en``, ``r_rdy``)."""

    def __init__(self, width: int, depth: int) -> None:
        if not isinstance(depth, int) or depth < 2:
            raise ValueError(f"depth must be an integer of at least 2, not {depth!r}")
        self.width, self.depth = width, depth
        super().__init__(
            {
                "w_data": In(width),
                "w_en": In(1),
                "w_rdy": Out(1),
                "r_data": Out(width),
                "r_en": In(1),
                "r_rdy": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.inner = inner = SyncFIFO(width=self.width, depth=self.depth - 1)
        head = Signal(self.width, name="head", reset_less=True)
        valid = Signal(name="head_valid")
        read = self.r_en & valid
        write = self.w_en & self.w_rdy
        # The head register takes the inner FIFO's next entry, or the write when nothing waits there.
        bypass = write & ~inner.r_rdy & (~valid | read)
        m.d.comb += [
            self.w_rdy.eq(inner.w_rdy),
            self.r_data.eq(head),
            self.r_rdy.eq(valid),
            inner.w_data.eq(self.w_data),
            inner.w_en.eq(write & ~bypass),
            inner.r_en.eq(inner.r_rdy & (~valid | read)),
        ]
        with m.If(inner.r_rdy & (~valid | read)):
            m.d.sync += [head.eq(inner.r_data), valid.eq(1)]
        with m.Elif(bypass):
            m.d.sync += [head.eq(self.w_data), valid.eq(1)]
        with m.Elif(read):
            m.d.sync += valid.eq(0)
        return m
