"""The stand-in top level (an AXI copy engine) in amaranth.sim, against a Python ideal AXI memory
written here from the spec's words (independently of rtl_templates/axi_memory.h) and a plain
AXI4-Lite master: the copy, the CYCLES register against the hand formula in dram_copy_top.py, and
irq one cycle after DONE."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

import pytest
from amaranth.sim import Simulator
from dram_copy_top import DramCopyTop, ideal_cycles
from tool_helpers import expected_dram

from dian.hwgen.csr_map import Control, Irq, Reg, Status


@dataclass
class IdealMemory:
    """The spec's ideal memory: readies 1; read beat k in max(t + L + k, previous beat + 1); B in
    max(last W + L, AW + 1, previous B + 1); writes land at their W handshake (AW before W here)."""

    dram: bytearray
    latency: int
    nbytes: int
    reads: deque[list[int]] = field(default_factory=deque)  # [addr, beats, t, beat]
    writes: deque[list[int]] = field(default_factory=deque)  # [addr, beats, aw, got, last W]
    r_free: int = 0
    b_free: int = 0

    def outputs(self, cycle: int) -> dict[str, int]:
        out = {"arready": 1, "awready": 1, "wready": 1, "rvalid": 0, "bvalid": 0}
        if self.reads:
            addr, beats, t, k = self.reads[0]
            if cycle >= max(t + self.latency + k, self.r_free):
                a = addr + k * self.nbytes
                out |= {"rvalid": 1, "rlast": int(k == beats - 1)}
                out["rdata"] = int.from_bytes(self.dram[a : a + self.nbytes], "little")
        if self.writes and self.writes[0][3] == self.writes[0][1]:
            _, _, aw, _, w = self.writes[0]
            out["bvalid"] = int(cycle >= max(w + self.latency, aw + 1, self.b_free))
        return out

    def edge(self, cycle: int, out: dict[str, int], m: dict[str, int]) -> None:
        if out["rvalid"] and m["rready"]:
            self.reads[0][3] += 1
            self.r_free = cycle + 1
            if self.reads[0][3] == self.reads[0][1]:
                self.reads.popleft()
        if out["bvalid"] and m["bready"]:
            self.writes.popleft()
            self.b_free = cycle + 1
        if m["arvalid"]:
            self.reads.append([m["araddr"], m["arlen"] + 1, cycle, 0])
        if m["awvalid"]:
            self.writes.append([m["awaddr"], m["awlen"] + 1, cycle, 0, 0])
        if m["wvalid"]:
            w = next(w for w in self.writes if w[3] < w[1])
            a = w[0] + w[3] * self.nbytes
            self.dram[a : a + self.nbytes] = m["wdata"].to_bytes(self.nbytes, "little")
            w[3] += 1
            w[4] = cycle
            assert m["wlast"] == (w[3] == w[1])


def simulate(dut: DramCopyTop, dram: bytearray, latency: int, base: int = 0x1000) -> dict[str, int]:
    """START a run over AXI4-Lite, wait for irq, read STATUS and CYCLES; the memory [base, ...) is ``dram``."""
    window = bytearray(base) + dram
    mem = IdealMemory(window, latency, dut.bus_bits // 8)
    got: dict[str, int] = {}
    master = (
        "arvalid",
        "araddr",
        "arlen",
        "rready",
        "awvalid",
        "awaddr",
        "awlen",
        "wvalid",
        "wdata",
        "wlast",
        "bready",
    )

    async def bench(ctx) -> None:
        cycle = 0

        async def step(**lite: int) -> dict[str, int]:
            nonlocal cycle
            for name in ("awvalid", "awaddr", "wvalid", "wdata", "bready", "arvalid", "araddr", "rready"):
                ctx.set(getattr(dut, f"s_axil_{name}"), lite.get(name, 0))
            ctx.set(dut.s_axil_wstrb, 0b1111)
            out = mem.outputs(cycle)
            for name, value in out.items():
                ctx.set(getattr(dut, f"m_axi_{name}"), value)
            slave = {n: ctx.get(getattr(dut, f"s_axil_{n}")) for n in ("awready", "wready", "bvalid", "arready")}
            slave |= {n: ctx.get(getattr(dut, f"s_axil_{n}")) for n in ("rvalid", "rdata")}
            slave["irq"] = ctx.get(dut.irq)
            mem.edge(cycle, out, {n: ctx.get(getattr(dut, f"m_axi_{n}")) for n in master})
            await ctx.tick()
            cycle += 1
            return slave

        async def write(addr: int, data: int) -> int:  # the edge that accepted it
            s = await step(awvalid=1, awaddr=addr, wvalid=1, wdata=data, bready=1)
            assert s["awready"] and s["wready"]
            accepted = cycle - 1
            while not (await step(bready=1))["bvalid"]:
                pass
            return accepted

        async def read(addr: int) -> int:
            assert (await step(arvalid=1, araddr=addr, rready=1))["arready"]
            while not (s := await step(rready=1))["rvalid"]:
                pass
            return s["rdata"]

        await write(Reg.BASE_ADDR, base)
        await write(Reg.IRQ_ENABLE, Irq.DONE)
        start = await write(Reg.CONTROL, Control.START)
        while not (await step())["irq"]:
            assert cycle < 10_000
        got["irq_cycles"] = cycle - 1 - start
        got["status"] = await read(Reg.STATUS)
        got["cycles"] = await read(Reg.CYCLES_LO) | await read(Reg.CYCLES_HI) << 32
        got["busy_pe"] = await read(Reg.BUSY_PE_LO)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    dram[:] = window[base:]
    return got


@pytest.mark.parametrize(
    "bus_bits, n_words, latency, burst", [(32, 1, 1, 1), (64, 4, 3, 4), (128, 5, 1, 2), (64, 7, 7, 3)]
)
def test_copy_adds_one_with_the_hand_computed_cycles(bus_bits: int, n_words: int, latency: int, burst: int) -> None:
    src, dst = 2 * bus_bits // 8, 16 * bus_bits // 8
    rng = random.Random(bus_bits * 100 + n_words)
    image = bytes(rng.randrange(256) for _ in range(32 * bus_bits // 8))
    dram = bytearray(image)
    dut = DramCopyTop(bus_bits=bus_bits, n_words=n_words, src=src, dst=dst, burst=burst)
    got = simulate(dut, dram, latency)
    assert bytes(dram) == expected_dram(image, bus_bits=bus_bits, n_words=n_words, src=src, dst=dst)
    assert got == {
        "cycles": ideal_cycles(n_words, latency),
        "irq_cycles": ideal_cycles(n_words, latency) + 1,
        "status": Status.DONE,
        "busy_pe": n_words,
    }
