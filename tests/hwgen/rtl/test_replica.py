"""Replicated flags (hwgen/rtl/replica.py): every copy follows the set/clear rule written out by
hand, and the copies stay separate flip-flops through Yosys's ECP5 synthesis, which merges
flip-flops of identical inputs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Fragment, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator
from tool_helpers import needs

from dian.hwgen.rtl.replica import replicas
from dian.hwgen.tools.synth import synthesize

COPIES = 3


class Flags(wiring.Component):
    """Three copies of a set/clear flag on three outputs."""

    def __init__(self) -> None:
        super().__init__({"set_": In(1), "clear": In(1), "q": Out(COPIES)})

    def elaborate(self, platform) -> Module:  # type: ignore[no-untyped-def]
        m = Module()
        flags = replicas(m, self.set_, self.clear, *(f"copy{i}" for i in range(COPIES)))
        m.d.comb += [self.q[i].eq(f) for i, f in enumerate(flags)]
        return m


def test_copies_follow_set_and_clear() -> None:
    dut, rng = Flags(), random.Random(3)

    async def bench(ctx) -> None:  # type: ignore[no-untyped-def]
        model = 0  # the flag: set wins over clear, else it holds
        for cycle in range(400):
            s, c = rng.random() < 0.2, rng.random() < 0.3
            ctx.set(dut.set_, s)
            ctx.set(dut.clear, c)
            assert ctx.get(dut.q) == (0b111 if model else 0), cycle
            await ctx.tick()
            model = 1 if s else 0 if c else model

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_needs_distinct_names() -> None:
    m = Module()
    with pytest.raises(ValueError, match="distinct"):
        replicas(m, 1, 0, "a", "a")
    Fragment.get(m, None)  # elaborated: no "created but never used" warning


@needs("yosys")
def test_copies_survive_ecp5_synthesis(tmp_path: Path) -> None:
    src = tmp_path / "flags.v"
    src.write_text(verilog.convert(Flags(), name="flags", emit_src=False))
    rep = synthesize([src], "flags", "ecp5-85k", 100, tmp_path / "build", place_and_route=False)
    assert rep.cell_types.get("TRELLIS_FF") == COPIES
