"""cocotb tests of the whole accelerator through cocotbext-axi (run by test_accel_cocotb.py): its
AXI4 master against an ``AxiRam``, its registers through an ``AxiLiteMaster``, both with random
runs of pauses on every channel. The program is a compiled network; the wrapper hands over its
image with the inputs written (``ACCEL_IMAGE``), sim/machine's DRAM after a run (``ACCEL_EXPECTED``),
sim/machine's counters (``ACCEL_MACHINE``), the config hash (``CONFIG_HASH``) and a file for the
memory after the last run at base B (``ACCEL_FINAL``).

After every run the whole RAM is compared: the image's range with sim/machine's bytes, every other
byte with what it held before (a seeded random background), so a write outside the image shows.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from dian.hwgen.csr_map import COUNTERS, STATUS_ERROR_CODE_SHIFT, Control, ErrorCode, Irq, Reg, Status

BASE_A, BASE_B = 0x00000, 0x23000
RAM_SIZE = 0x40000  # covers BASE_B + the image (checked); AxiRam wraps addresses modulo its size
CLOCK_NS = 10


def _pauses(seed: int, p: float, longest: int) -> Iterator[bool]:
    """Runs of 1..``longest`` cycles, each paused with probability ``p``."""
    rng = random.Random(seed)
    while True:
        yield from [rng.random() < p] * rng.randint(1, longest)


class Bench:
    """The DUT with its clock, memory (a random background) and register master, after a reset."""

    def __init__(self, dut: Any, seed: int) -> None:
        self.dut = dut
        self.image = Path(os.environ["ACCEL_IMAGE"]).read_bytes()
        self.expected = Path(os.environ["ACCEL_EXPECTED"]).read_bytes()
        self.machine = json.loads(Path(os.environ["ACCEL_MACHINE"]).read_text())
        assert BASE_B + len(self.image) <= RAM_SIZE and len(self.image) <= BASE_B - BASE_A
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=RAM_SIZE)
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        memory = [self.ram.write_if.aw_channel, self.ram.write_if.w_channel, self.ram.write_if.b_channel]
        memory += [self.ram.read_if.ar_channel, self.ram.read_if.r_channel]
        for i, channel in enumerate(memory):  # ready held low / data withheld for up to 8 cycles at a time
            channel.set_pause_generator(_pauses(seed * 100 + i, 0.3 + 0.05 * i, 8))
        registers = [self.axil.write_if.aw_channel, self.axil.write_if.w_channel, self.axil.write_if.b_channel]
        registers += [self.axil.read_if.ar_channel, self.axil.read_if.r_channel]
        for i, channel in enumerate(registers):
            channel.set_pause_generator(_pauses(seed * 100 + 10 + i, 0.4, 4))
        self.ram.write(0, random.Random(seed).randbytes(RAM_SIZE))

    async def reset(self) -> None:
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def start(self, base: int, image: bytes) -> bytes:
        """Write ``image`` at ``base``, BASE_ADDR, IRQ_ENABLE and START; the RAM as it was at START."""
        self.ram.write(base, image)
        before = self.ram.read(0, RAM_SIZE)
        await self.axil.write_dword(Reg.BASE_ADDR, base)
        assert await self.axil.read_dword(Reg.BASE_ADDR) == base
        await self.axil.write_dword(Reg.IRQ_ENABLE, Irq.DONE)
        await self.axil.write_dword(Reg.CONTROL, Control.START)
        return before

    async def wait_irq(self) -> None:
        if not int(self.dut.irq.value):
            timeout = 30 * self.machine["cycles"] * CLOCK_NS
            await with_timeout(RisingEdge(self.dut.irq), timeout, "ns")

    async def counter(self, lo: Reg) -> int:
        low = await self.axil.read_dword(lo)  # latches the high word
        return (await self.axil.read_dword(lo + 4)) << 32 | low

    async def end_of_run(self) -> tuple[int, dict[str, int]]:
        """After irq: STATUS and the counters, then IRQ_STATUS cleared (W1C) and irq low."""
        status = await self.axil.read_dword(Reg.STATUS)
        counters = {name: await self.counter(lo) for name, lo in COUNTERS.items()}
        assert await self.axil.read_dword(Reg.IRQ_STATUS) == Irq.DONE
        await self.axil.write_dword(Reg.IRQ_STATUS, Irq.DONE)
        assert int(self.dut.irq.value) == 0, "irq still high after IRQ_STATUS was cleared"
        assert await self.axil.read_dword(Reg.IRQ_STATUS) == 0
        return status, counters

    def check_ram(self, before: bytes, base: int, want: bytes, what: str) -> None:
        """The RAM is ``before`` with ``want`` at ``base``; else the first differing address."""
        after = self.ram.read(0, RAM_SIZE)
        expect = before[:base] + want + before[base + len(want) :]
        if after != expect:
            first = next(i for i in range(RAM_SIZE) if after[i] != expect[i])
            n = sum(a != b for a, b in zip(after, expect, strict=True))
            where = f"image offset {first - base:#x}" if base <= first < base + len(want) else "outside the image"
            raise AssertionError(
                f"{what}: RAM differs at {first:#x} ({where}): {after[first]:#04x} != {expect[first]:#04x}, "
                f"{n} bytes differ"
            )

    def check_partial(self, before: bytes, base: int, what: str) -> None:
        """After an aborted run of the image at ``base``: outside the image the RAM is ``before``; inside,
        every byte is the image's or sim/machine's final one."""
        after = self.ram.read(0, RAM_SIZE)
        end = base + len(self.image)
        for lo, hi in ((0, base), (end, RAM_SIZE)):
            if after[lo:hi] != before[lo:hi]:
                first = next(i for i in range(lo, hi) if after[i] != before[i])
                raise AssertionError(f"{what}: a write outside the image, first at {first:#x}")
        stray = [i for i in range(len(self.image)) if after[base + i] not in (self.image[i], self.expected[i])]
        assert not stray, f"{what}: {len(stray)} bytes neither the image's nor final, first at offset {stray[0]:#x}"

    async def inference(self, base: int, what: str) -> dict[str, int]:
        """A good run of the image at ``base``: DONE, no error, sim/machine's DRAM and byte counters."""
        before = await self.start(base, self.image)
        await self.wait_irq()
        status, counters = await self.end_of_run()
        assert status == Status.DONE, f"{what}: STATUS {status:#x}, not DONE alone"
        self.check_ram(before, base, self.expected, what)
        for name in ("busy_pe", "bytes_read", "bytes_written"):  # they do not depend on the timing
            assert counters[name] == self.machine[name], f"{what}: {name} {counters[name]} != {self.machine[name]}"
        assert counters["cycles"] >= self.machine["cycles"], f"{what}: faster than the ideal memory"
        self.dut._log.info("%s: %d cycles (ideal memory %d)", what, counters["cycles"], self.machine["cycles"])
        return counters


class BusWatch:
    """Counts the AXI4 master's handshakes every cycle: read bursts whose last beat has not come, W beats
    owed to accepted AW bursts, B responses not yet received."""

    def __init__(self, dut: Any) -> None:
        self.dut = dut
        self.r_bursts_owed = self.w_owed = self.b_owed = self.cycles_since_start = 0
        self._task = cocotb.start_soon(self._watch())

    def started(self) -> None:
        self.cycles_since_start = 0

    def snapshot(self) -> dict[str, int]:
        return {"r_bursts_owed": self.r_bursts_owed, "w_owed": self.w_owed, "b_owed": self.b_owed}

    def quiet(self) -> bool:
        return not any(self.snapshot().values())

    def stop(self) -> None:
        self._task.cancel()

    async def until(self, condition: Any, limit: int) -> None:
        for _ in range(limit):
            if condition():
                return
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"the bus never reached the moment looked for in {limit} cycles")

    async def _watch(self) -> None:
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            self.cycles_since_start += 1
            if int(d.m_axi_arvalid.value) and int(d.m_axi_arready.value):
                self.r_bursts_owed += 1
            if int(d.m_axi_rvalid.value) and int(d.m_axi_rready.value) and int(d.m_axi_rlast.value):
                self.r_bursts_owed -= 1
            if int(d.m_axi_awvalid.value) and int(d.m_axi_awready.value):
                self.w_owed += int(d.m_axi_awlen.value) + 1
                self.b_owed += 1
            if int(d.m_axi_wvalid.value) and int(d.m_axi_wready.value):
                self.w_owed -= 1
            if int(d.m_axi_bvalid.value) and int(d.m_axi_bready.value):
                self.b_owed -= 1


@cocotb.test(timeout_time=40, timeout_unit="ms")
async def identity_and_three_inferences(dut: Any) -> None:
    """ID, VERSION and the config hash; two runs at base A, one at base B (kept for the wrapper)."""
    bench = Bench(dut, seed=1)
    await bench.reset()
    axil = bench.axil
    assert await axil.read_dword(Reg.ID) == 0x4E414944  # "DIAN"
    assert await axil.read_dword(Reg.VERSION) == 0x00010000
    words = [await axil.read_dword(Reg.CONFIG_HASH0 + 4 * i) for i in range(4)]
    assert b"".join(w.to_bytes(4, "little") for w in words) == bytes.fromhex(os.environ["CONFIG_HASH"])
    assert await axil.read_dword(Reg.STATUS) == 0
    await bench.inference(BASE_A, "run 1 at A")
    await bench.inference(BASE_A, "run 2 at A")
    await bench.inference(BASE_B, "run 3 at B")
    Path(os.environ["ACCEL_FINAL"]).write_bytes(bench.ram.read(BASE_B, len(bench.image)))


@cocotb.test(timeout_time=40, timeout_unit="ms")
async def soft_resets_in_mid_run(dut: Any) -> None:
    """SOFT_RESET at three moments of a run: early (the header read), with write bursts open (W beats
    still owed or B responses awaited) and with several read bursts outstanding. Each time the
    accelerator drains the bus (the RAM's slave finishes every burst it accepted) and goes idle with
    STATUS clear and no irq, having written nothing outside the image and, inside it, nothing but
    final results (every tensor has its own slot and a store writes final values); then a run is exact."""
    bench = Bench(dut, seed=2)
    await bench.reset()
    bus = BusWatch(dut)
    cycles = bench.machine["cycles"]
    moments = {
        "early": lambda: bus.cycles_since_start >= 2,
        "writes open": lambda: bus.w_owed > 0,
        "reads outstanding": lambda: bus.r_bursts_owed >= 3,
    }
    seen = {}
    for what, moment in moments.items():
        before = await bench.start(BASE_B, bench.image)
        bus.started()
        await bus.until(moment, 2 * cycles)
        write = cocotb.start_soon(bench.axil.write_dword(Reg.CONTROL, Control.SOFT_RESET))
        await RisingEdge(dut.s_axil_bvalid)  # the write took effect (the pulse went out) a cycle before
        seen[what] = bus.snapshot()
        await write
        for _ in range(1000):
            status = await bench.axil.read_dword(Reg.STATUS)
            if not status & Status.BUSY:
                break
        assert status == 0, f"soft reset ({what}): STATUS {status:#x} after the drain, not 0"
        assert await bench.axil.read_dword(Reg.IRQ_STATUS) == 0 and int(dut.irq.value) == 0
        assert bus.quiet(), f"soft reset ({what}): bus not idle after BUSY fell: {bus.snapshot()}"
        bench.check_partial(before, BASE_B, what)
        dut._log.info("soft reset (%s) with %s in flight", what, seen[what])
    bus.stop()
    assert seen["writes open"]["w_owed"] > 0 or seen["writes open"]["b_owed"] > 0, seen
    assert seen["reads outstanding"]["r_bursts_owed"] > 0, seen
    await bench.inference(BASE_A, "run after soft resets")


@cocotb.test(timeout_time=40, timeout_unit="ms")
async def bad_magic_then_a_good_run(dut: Any) -> None:
    """An image whose magic is damaged ends with DONE, ERROR and BAD_IMAGE, writes nothing; the next
    run (a good image at the other base) is exact."""
    bench = Bench(dut, seed=3)
    await bench.reset()
    bad = bytes([bench.image[0] ^ 0x20]) + bench.image[1:]  # "dIAN"
    before = await bench.start(BASE_A, bad)
    await bench.wait_irq()
    status, counters = await bench.end_of_run()
    assert status == Status.DONE | Status.ERROR | ErrorCode.BAD_IMAGE << STATUS_ERROR_CODE_SHIFT, hex(status)
    assert counters["bytes_written"] == 0
    bench.check_ram(before, BASE_A, bad, "bad magic")
    await bench.inference(BASE_B, "run after BAD_IMAGE")
