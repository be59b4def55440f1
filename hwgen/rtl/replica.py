"""Replicated flags: copies of one set/clear flip-flop, each driving its own share of a large fan-out.

One ECP5 net to thousands of loads is slow to route wherever its driver is placed (the engines'
abort reset reached ~2,850 flip-flops' LSR through one LUT: 7 ns of routing at seed 2 of
issue 15). Copies of the flag, each with the same next value, split the net. Yosys merges
flip-flops whose inputs are the same nets (``opt_merge``), and a ``keep`` on the cells that would
prevent it breaks synth_ecp5's abc9 step (Yosys 0.69): so each copy's next value is written as
``(set | own value) & ~(clear & ~set)``, an expression of the copy's own output. No two copies then
share an input net, and ``opt_dff`` (which turns only a multiplexer's feedback into an enable)
leaves the expression as it is. (Written ``set | (own value & ~clear)``, the same function, it made
ABC9's reintegration fail the same assertion in the bare ``synth_ecp5`` of ``tiny``,
tests/hwgen/tools/test_synth_tiny.py, while the P&R wrapper's synthesis passed.)
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value

__all__ = ["replicas"]


def replicas(m: Module, set_: Value, clear: Value, *names: str) -> list[Signal]:
    """One flag per name, all ``1`` from the edge after ``set_`` until the edge after ``clear``
    (``set_`` wins when both are high); the domain's reset clears them."""
    if not names or len(set(names)) != len(names):
        raise ValueError(f"replicas need at least one name and distinct names, not {names!r}")
    flags = [Signal(name=n) for n in names]
    for f in flags:
        m.d.sync += f.eq((set_ | f) & ~(clear & ~set_))
    return flags
