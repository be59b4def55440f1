"""The instruction head both engines share: program counter, instruction
register, and the HALT / FETCH / DECODE states of an in-order interpreter.

An engine halts until the controller's ``launch``; FETCH lasts one cycle
(the IMEM read port is synchronous), and DECODE starts the instruction as
soon as every token of its ``wait`` mask is available, consuming them: that
DECODE cycle is the instruction's start cycle ``S`` of hwgen/timing.py. DECODE
reads an *instruction register* loaded every cycle from the IMEM port, which
always presents ``pc``: the block RAM's slow output then ends at a flip-flop,
not in the decode logic. ``pc`` advances at ``S``, so the next word is in the
register from ``S + 3``, in time for a DECODE in ``S + D + 1`` since every
instruction but END lasts ``D >= 2`` cycles; after a launch the first word was
read in the launch cycle itself. The timing is therefore that of a decode
straight from the port.

END signals its tokens in its start cycle and halts the engine; an opcode
the engine has no case for raises its sticky ``error`` and halts it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from amaranth.hdl import Module, Signal, Value

from ..accel_config import AccelConfig
from ..isa import INSTRUCTION_BITS, Opcode
from .decode import opcode, signal_mask, wait_mask

__all__ = ["InstructionHead"]


class InstructionHead:
    """``pc``, the instruction register ``word`` and the latched ``sig`` mask of ``engine``, whose
    ports ``launch``, ``halted``, ``imem_addr``, ``imem_data``, ``tokens``, ``consume``, ``signal`` and
    ``error`` it drives or reads."""

    def __init__(self, m: Module, cfg: AccelConfig, engine) -> None:
        self.m, self.engine = m, engine
        self.pc = Signal(range(cfg.imem_instructions))
        self.sig = Signal(4)
        self.word = Signal(INSTRUCTION_BITS)
        m.d.sync += self.word.eq(engine.imem_data)
        m.d.comb += engine.imem_addr.eq(self.pc)

    @property
    def op(self) -> Value:
        return opcode(self.word)

    def finish(self) -> None:
        """The current instruction ends this cycle: signal its tokens, fetch the next."""
        self.m.d.comb += self.engine.signal.eq(self.sig)
        self.m.next = "FETCH"

    @contextmanager
    def states(self, on_start: Sequence[Any] = (), refuse: Value | None = None) -> Iterator[None]:
        """Emit HALT, FETCH and DECODE into the enclosing FSM; the body adds ``m.Case`` s for the
        engine's opcodes, run in the start cycle (END and the error default are added here).
        ``on_start`` are sync assignments made in every start cycle, before the opcode's own; an
        instruction for which ``refuse`` is high is an error like an unknown opcode."""
        m, eng, word = self.m, self.engine, self.word
        with m.State("HALT"):
            m.d.comb += eng.halted.eq(1)
            with m.If(eng.launch):
                m.next = "FETCH"
        with m.State("FETCH"):
            m.next = "DECODE"
        with m.State("DECODE"), m.If((wait_mask(word) & ~eng.tokens) == 0):
            m.d.comb += eng.consume.eq(wait_mask(word))
            m.d.sync += [self.pc.eq(self.pc + 1), self.sig.eq(signal_mask(word)), *on_start]
            with m.If(refuse if refuse is not None else 0):
                m.d.sync += [eng.error.eq(1), self.pc.eq(0)]
                m.next = "HALT"
            with m.Else(), m.Switch(self.op):
                with m.Case(Opcode.END):
                    m.d.comb += eng.signal.eq(signal_mask(word))
                    m.d.sync += self.pc.eq(0)
                    m.next = "HALT"
                yield
                with m.Default():
                    m.d.sync += [eng.error.eq(1), self.pc.eq(0)]
                    m.next = "HALT"
