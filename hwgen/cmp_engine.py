"""CmpEngine: the in-order interpreter of a chunk's CMP stream.

Sequencing as in :mod:`dian.hwgen.mem_engine` (FETCH, DECODE = start cycle,
tokens consumed at the start and signalled at the edge ending the last
execution cycle, END lasts one cycle and halts).

Status: END only; GEMM, DW, REQUANT, ADD, COPY and POOL are not built yet
(an unknown or unbuilt opcode raises ``error`` and halts).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .accel_config import AccelConfig
from .decode import opcode, signal_mask, wait_mask
from .isa import INSTRUCTION_BITS, Encoding, Opcode

__all__ = ["CmpEngine"]


class CmpEngine(wiring.Component):
    """The CMP engine of ``cfg``."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        super().__init__({
            "launch": In(1),
            "halted": Out(1),
            "imem_addr": Out(range(cfg.imem_instructions)),
            "imem_data": In(INSTRUCTION_BITS),
            "tokens": In(4),
            "consume": Out(4),
            "signal": Out(4),
            "busy_pe": Out(32),       # added to the busy-PE counter this cycle
            "error": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        word = self.imem_data
        pc = Signal(range(cfg.imem_instructions))
        sig = Signal(4)
        m.d.comb += self.imem_addr.eq(pc)
        with m.FSM():
            with m.State("HALT"):
                m.d.comb += self.halted.eq(1)
                with m.If(self.launch):
                    m.d.sync += pc.eq(0)
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.next = "DECODE"
            with m.State("DECODE"):
                with m.If((wait_mask(word) & ~self.tokens) == 0):
                    m.d.comb += self.consume.eq(wait_mask(word))
                    m.d.sync += [pc.eq(pc + 1), sig.eq(signal_mask(word))]
                    with m.Switch(opcode(word)):
                        with m.Case(Opcode.END):
                            m.d.comb += self.signal.eq(signal_mask(word))
                            m.next = "HALT"
                        with m.Default():
                            m.d.sync += self.error.eq(1)
                            m.next = "HALT"
        return m
