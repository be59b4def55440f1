"""cocotb tests of Csr's AXI4-Lite slave through cocotbext-axi's AxiLiteMaster, an AXI model that
dian did not write (run by test_csr_cocotb.py). Every channel has a random pause generator (valid
gaps on AW, W, AR; ready back-pressure on B, R), and the master keeps several requests in flight
and sends partial writes with their byte address and wstrb as any AXI master does. Expected values
are the spec's (the issue 13 register map), written here.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

ID, VERSION, CONFIG_HASH0, CONTROL, STATUS = 0x00, 0x04, 0x08, 0x18, 0x1C
IRQ_ENABLE, IRQ_STATUS, BASE_ADDR, CYCLES_LO, CYCLES_HI = 0x20, 0x24, 0x28, 0x30, 0x34


def _pauses(seed: int, p: float) -> Iterator[bool]:
    """Runs of 1..6 cycles, each paused with probability ``p``: long enough gaps that one of AW and W
    often reaches the slave cycles before the other (a source whose item waits for ready keeps it)."""
    rng = random.Random(seed)
    while True:
        yield from [rng.random() < p] * rng.randint(1, 6)


async def _setup(dut: Any, seed: int) -> AxiLiteMaster:
    """Clock, reset, core inputs idle, and the master with a pause generator on all five channels."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("busy", "done", "error_code", "ended", "cycles", "busy_pe", "bytes_read", "bytes_written"):
        getattr(dut, name).value = 0
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    channels = [master.write_if.aw_channel, master.write_if.w_channel, master.write_if.b_channel]
    channels += [master.read_if.ar_channel, master.read_if.r_channel]
    for i, channel in enumerate(channels):
        channel.set_pause_generator(_pauses(seed * 10 + i, 0.3 + 0.1 * i))
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    return master


@cocotb.test(timeout_time=200, timeout_unit="us")
async def identity_registers(dut: Any) -> None:
    axil = await _setup(dut, seed=1)
    config_hash = bytes.fromhex(os.environ["CONFIG_HASH"])
    assert await axil.read_dword(ID) == 0x4E414944  # "DIAN"
    assert await axil.read_dword(VERSION) == 0x00010000
    assert (await axil.read(CONFIG_HASH0, 16)).data == config_hash  # four reads, bytes in order
    assert (
        await axil.read_dword(CONTROL) == 0 and await axil.read_dword(0x2C) == 0 and await axil.read_dword(0xFFC) == 0
    )


@cocotb.test(timeout_time=200, timeout_unit="us")
async def base_and_irq_enable_by_bytes(dut: Any) -> None:
    axil = await _setup(dut, seed=2)
    await axil.write_dword(BASE_ADDR, 0xFFFFFFFF)
    assert await axil.read_dword(BASE_ADDR) == 0xFFFFF000 == int(dut.base.value)
    await axil.write(BASE_ADDR + 2, b"\x34")  # one byte: awaddr 0x2A, wstrb 0b0100
    assert await axil.read_dword(BASE_ADDR) == 0xFF34F000
    await axil.write(BASE_ADDR + 1, b"\xab\xcd")  # bytes 1 and 2; bits [11:0] stay 0
    assert await axil.read_dword(BASE_ADDR) == 0xFFCDA000 == int(dut.base.value)
    assert (await axil.read(BASE_ADDR + 3, 1)).data == b"\xff"  # a byte read: araddr 0x2B
    dut.busy.value = 1
    await axil.write_dword(BASE_ADDR, 0x12345000)  # ignored while busy
    assert await axil.read_dword(BASE_ADDR) == 0xFFCDA000
    assert await axil.read_dword(STATUS) == 1
    dut.busy.value = 0
    await axil.write_dword(IRQ_ENABLE, 1)
    assert await axil.read_dword(IRQ_ENABLE) == 1
    await axil.write(IRQ_ENABLE + 1, b"\x00\x00\x00")  # bytes 1..3 only: bit 0 unchanged
    assert await axil.read_dword(IRQ_ENABLE) == 1
    await axil.write_dword(IRQ_ENABLE, 0)
    assert await axil.read_dword(IRQ_ENABLE) == 0


@cocotb.test(timeout_time=200, timeout_unit="us")
async def irq_set_by_ended_cleared_by_w1c(dut: Any) -> None:
    axil = await _setup(dut, seed=3)
    await axil.write_dword(IRQ_ENABLE, 1)
    assert int(dut.irq.value) == 0
    dut.ended.value = 1
    await RisingEdge(dut.clk)
    dut.ended.value = 0
    await RisingEdge(dut.clk)
    assert int(dut.irq.value) == 1
    assert await axil.read_dword(IRQ_STATUS) == 1
    await axil.write_dword(IRQ_STATUS, 0)  # writing 0 clears nothing
    assert await axil.read_dword(IRQ_STATUS) == 1 and int(dut.irq.value) == 1
    await axil.write_dword(IRQ_STATUS, 1)
    assert await axil.read_dword(IRQ_STATUS) == 0 and int(dut.irq.value) == 0


@cocotb.test(timeout_time=200, timeout_unit="us")
async def counter_hi_latched_by_lo(dut: Any) -> None:
    axil = await _setup(dut, seed=4)
    dut.cycles.value = 0x0000_0007_FFFF_FFFE
    lo = await axil.read_dword(CYCLES_LO)
    dut.cycles.value = 0x0000_0008_0000_0003  # the low word wrapped between the two reads
    hi = await axil.read_dword(CYCLES_HI)
    assert (hi << 32 | lo) == 0x0000_0007_FFFF_FFFE


@cocotb.test(timeout_time=1000, timeout_unit="us")
async def reads_and_writes_in_flight_together(dut: Any) -> None:
    """Reads of the constant registers in three tasks, write-then-read of BASE_ADDR and of IRQ_ENABLE
    in two more: the master has several requests in flight and interleaves them on the bus."""
    axil = await _setup(dut, seed=5)
    config_hash = bytes.fromhex(os.environ["CONFIG_HASH"])
    constant = {ID: 0x4E414944, VERSION: 0x00010000}
    constant |= {CONFIG_HASH0 + 4 * i: int.from_bytes(config_hash[4 * i : 4 * i + 4], "little") for i in range(4)}
    rng = random.Random(5)

    async def reader() -> None:
        for _ in range(20):
            addr = rng.choice(list(constant))
            assert await axil.read_dword(addr) == constant[addr], hex(addr)

    async def writer() -> None:
        for k in range(20):
            value = (k * 0x01010101 + 0x10203040) & 0xFFFFFFFF
            await axil.write_dword(BASE_ADDR, value)
            assert await axil.read_dword(BASE_ADDR) == value & 0xFFFFF000

    async def enabler() -> None:  # a second writer, of another register: the writes queue up
        for k in range(20):
            await axil.write_dword(IRQ_ENABLE, 0xFFFFFFFE | (k % 3 == 0))
            assert await axil.read_dword(IRQ_ENABLE) == (k % 3 == 0)

    tasks = [cocotb.start_soon(task()) for task in (reader, reader, reader, writer, enabler)]
    for task in tasks:
        await task


@cocotb.test(timeout_time=1000, timeout_unit="us")
async def queued_writes_to_two_registers(dut: Any) -> None:
    """Writes queued four at a time: BASE_ADDR (a word), IRQ_ENABLE, BASE_ADDR (one byte), IRQ_ENABLE.
    The master presents the next AW or W while the slave holds the previous one; each write must
    hit its own register with its own bytes."""
    axil = await _setup(dut, seed=6)
    rng = random.Random(6)
    for _ in range(16):
        base, byte2, enable = rng.getrandbits(32), rng.getrandbits(8), [rng.getrandbits(1) for _ in range(2)]
        tasks = [
            cocotb.start_soon(axil.write_dword(BASE_ADDR, base)),
            cocotb.start_soon(axil.write_dword(IRQ_ENABLE, 0xFFFFFFFE | enable[0])),
            cocotb.start_soon(axil.write(BASE_ADDR + 2, bytes([byte2]))),  # wstrb 0b0100
            cocotb.start_soon(axil.write_dword(IRQ_ENABLE, 0xFFFFFFFE | enable[1])),
        ]
        for task in tasks:
            await task
        assert await axil.read_dword(BASE_ADDR) == (base & 0xFF00F000) | byte2 << 16
        assert await axil.read_dword(IRQ_ENABLE) == enable[1]
