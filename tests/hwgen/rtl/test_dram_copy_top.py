"""The stand-in top level in amaranth.sim, against a Python model of the DRAM
with the harness's exact semantics (rtl_templates/verilator_harness.cpp.j2)."""

from __future__ import annotations

import random
from collections import deque

import pytest
from amaranth.sim import Simulator
from dram_copy_top import DramCopyTop
from tool_helpers import expected_cycles, expected_dram

COUNTERS = ("perf_cycles", "perf_busy_pe_cycles", "perf_dram_bytes_read", "perf_dram_bytes_written")


def simulate(dut: DramCopyTop, dram: bytearray, latency: int, max_cycles: int = 200) -> dict[str, int]:
    """Run ``dut`` with the DRAM model; ``dram`` is updated in place. Returns the counters."""
    bus_bytes = dut.bus_bits // 8
    result: dict[str, int] = {}

    async def bench(ctx) -> None:
        ctx.set(dut.mem_req_ready, 1)
        pending: deque[tuple[int, bytes]] = deque()
        for cycle in range(max_cycles + 1):
            ctx.set(dut.start, cycle == 0)
            answer = pending and pending[0][0] == cycle
            ctx.set(dut.mem_resp_valid, bool(answer))
            if answer:
                ctx.set(dut.mem_resp_rdata, int.from_bytes(pending.popleft()[1], "little"))
            if ctx.get(dut.done):
                assert not ctx.get(dut.mem_req_valid)
                result.update({name: ctx.get(getattr(dut, name)) for name in COUNTERS}, cycles=cycle)
                return
            if ctx.get(dut.mem_req_valid):
                addr = ctx.get(dut.mem_req_addr)
                assert addr % bus_bytes == 0 and addr + bus_bytes <= len(dram)
                if ctx.get(dut.mem_req_write):
                    dram[addr : addr + bus_bytes] = ctx.get(dut.mem_req_wdata).to_bytes(bus_bytes, "little")
                else:
                    pending.append((cycle + latency, bytes(dram[addr : addr + bus_bytes])))
            await ctx.tick()
        raise AssertionError(f"done did not rise within {max_cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return result


@pytest.mark.parametrize("bus_bits, n_words, latency", [(32, 1, 1), (64, 4, 3), (128, 5, 1), (64, 3, 7)])
def test_copy_adds_one_with_exact_cycles_and_counters(bus_bits: int, n_words: int, latency: int) -> None:
    src, dst = 2 * bus_bits // 8, 16 * bus_bits // 8
    rng = random.Random(bus_bits * 100 + n_words)
    image = bytes(rng.randrange(256) for _ in range(32 * bus_bits // 8))
    dram = bytearray(image)
    dut = DramCopyTop(bus_bits=bus_bits, n_words=n_words, src=src, dst=dst)
    counters = simulate(dut, dram, latency)
    assert bytes(dram) == expected_dram(image, bus_bits=bus_bits, n_words=n_words, src=src, dst=dst)
    cycles = expected_cycles(n_words, latency)
    assert counters == {
        "cycles": cycles,
        "perf_cycles": cycles,
        "perf_busy_pe_cycles": n_words,
        "perf_dram_bytes_read": n_words * bus_bits // 8,
        "perf_dram_bytes_written": n_words * bus_bits // 8,
    }
