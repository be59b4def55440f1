"""The AXI master's run splitter (hwgen/rtl/axi_master.py ``_Splitter``) against AXI's burst rule.

A run of ``beats`` bus words from a bus-aligned byte address must leave as INCR bursts of at most
``max_burst_beats`` beats, none crossing a 4 KiB boundary, in order and back to back. The
expected bursts come from the greedy rule written out below (take the most the three limits
allow), not from the RTL's arithmetic, which computes the next address and the beats left beside
the burst length rather than after it (005b8af). The cases include the edges of that arithmetic:
a burst that ends exactly on a page boundary, one that starts on it, a run inside the page's
last beat, and runs far longer than a page. Issue is withheld at random, so that both ways a run
starts are covered: its first burst in the cycle the command is taken, or the command registered
first. ``fits(room)`` must equal ``room >= burst`` in every cycle.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from dian.hwgen.accel_config import validate
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.axi_master import _Splitter

PAGE = 4096
RUN_BITS = 12


def expected_bursts(addr: int, beats: int, bus_bytes: int, max_beats: int) -> list[tuple[int, int]]:
    """AXI's rule, greedily: each burst as long as the run, the burst limit and the page allow."""
    out = []
    while beats:
        n = min(beats, max_beats, (PAGE - addr % PAGE) // bus_bytes)
        out.append((addr, n))
        addr, beats = addr + n * bus_bytes, beats - n
    return out


def _cases(bus_bytes: int, max_beats: int, rng: random.Random) -> list[tuple[int, int]]:
    page_beats = PAGE // bus_bytes
    edges = [
        (0x3000 + (page_beats - max_beats) * bus_bytes, max_beats),  # ends exactly on the boundary
        (0x3000 + (page_beats - max_beats) * bus_bytes, max_beats + 1),  # one beat past it
        (0x7000, 1),  # starts on a boundary
        (0x7000 - bus_bytes, 1),  # the page's last beat
        (0x7000 - bus_bytes, 2),  # the page's last beat, then the next page
        (0x1000 + bus_bytes, min(2 * page_beats, 2**RUN_BITS - 1)),  # across two boundaries
    ]
    rand = [
        (rng.randrange(0, 1 << 20) * bus_bytes, rng.choice([1, 2, max_beats, max_beats + 1, rng.randrange(1, 600)]))
        for _ in range(40)
    ]
    return edges + rand


@pytest.mark.parametrize(
    ("preset", "bus_bits", "max_beats"),
    [("tiny", 32, 16), ("tiny", 32, 3), ("tiny", 8, 256), ("default", 64, 1), ("default", 128, 256)],
)
def test_splitter_cuts_runs_as_axi_requires(preset: str, bus_bits: int, max_beats: int) -> None:
    cfg = validate(
        dataclasses.replace(PRESETS[preset], name="split", dram_bus_bits=bus_bits, max_burst_beats=max_beats)
    )
    B = cfg.bus_bytes
    m = Module()
    split = _Splitter(m, "t", cfg, RUN_BITS)
    room, fit = Signal(range(2 * 256 + 2)), Signal()
    m.d.comb += fit.eq(split.fits(room))
    rng = random.Random(bus_bits * 1000 + max_beats)
    cases = _cases(B, max_beats, rng)
    got: list[list[tuple[int, int]]] = []

    async def bench(ctx) -> None:
        for addr, beats in cases:
            bursts: list[tuple[int, int]] = []
            ctx.set(split.cmd_valid, 1)
            ctx.set(split.cmd_addr, addr)
            ctx.set(split.cmd_beats, beats)
            assert ctx.get(split.ready), "a new command waits although the splitter is idle"
            first = True
            while first or ctx.get(split.busy):
                issue = rng.random() < 0.7
                ctx.set(split.issue, issue)
                r = rng.randrange(0, max_beats + 2)
                ctx.set(room, r)
                burst = ctx.get(split.burst)
                assert ctx.get(fit) == (r >= burst), (addr, beats, r, burst)
                if issue:
                    bursts.append((ctx.get(split.addr), burst))
                await ctx.tick()
                ctx.set(split.cmd_valid, 0)
                first = False
            ctx.set(split.issue, 0)
            got.append(bursts)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for (addr, beats), bursts in zip(cases, got, strict=True):
        assert bursts == expected_bursts(addr, beats, B, max_beats), (hex(addr), beats)
