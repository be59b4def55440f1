"""HeadFifo against Amaranth's SyncFIFO: the same random traffic into both, every cycle's r_rdy,
w_rdy and (when ready) r_data must agree, and the data read must be the data written, in order."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib.fifo import SyncFIFO
from amaranth.sim import Simulator
from pipeline_harness import assert_param_error

from dian.hwgen.rtl.head_fifo import HeadFifo


@pytest.mark.parametrize(("depth", "p_write", "p_read"), [(2, 0.5, 0.5), (5, 0.7, 0.3), (36, 0.5, 0.9), (17, 0.9, 0.6)])
def test_matches_sync_fifo(depth: int, p_write: float, p_read: float) -> None:
    m = Module()
    m.submodules.dut = dut = HeadFifo(8, depth)
    m.submodules.ref = ref = SyncFIFO(width=8, depth=depth)
    rng = random.Random(depth)
    written: list[int] = []
    read: list[int] = []

    async def bench(ctx) -> None:  # type: ignore[no-untyped-def]
        for cycle in range(3000):
            w, r, data = rng.random() < p_write, rng.random() < p_read, rng.randrange(256)
            for f in (dut, ref):
                ctx.set(f.w_en, w)
                ctx.set(f.w_data, data)
                ctx.set(f.r_en, r)
            assert ctx.get(dut.w_rdy) == ctx.get(ref.w_rdy), cycle
            assert ctx.get(dut.r_rdy) == ctx.get(ref.r_rdy), cycle
            if ctx.get(ref.r_rdy):
                assert ctx.get(dut.r_data) == ctx.get(ref.r_data), cycle
                if r:
                    read.append(ctx.get(dut.r_data))
            if w and ctx.get(ref.w_rdy):
                written.append(data)
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(read) > 500 and read == written[: len(read)]


def test_depth_error() -> None:
    assert_param_error(HeadFifo, {"width": 2, "depth": 1}, "depth must be an integer of at least 2")
