"""The top level (hwgen/rtl/top.py) as a host sees it: registers over AXI4-Lite, the image in an
AXI4 memory (tests/hwgen/axi_memory.py) at a base address, ``irq`` at the end; the ID registers
and the counters read through the bus. Expected values: hwgen/csr_map.py's constants, the
image's config hash, and sim/machine's counters."""

from __future__ import annotations

from accel_programs import build_image, copy_program, run_machine
from amaranth.sim import Simulator
from axi_memory import AxiMemory

from dian.hwgen.accel_config import config_hash
from dian.hwgen.csr_map import ID, VERSION, Control, Irq, Reg, Status
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.top import TOP_NAME, Accelerator, top_ports

TINY = PRESETS["tiny"]


class _Lite:
    """A plain AXI4-Lite master: one transaction at a time, every channel's handshake waited for;
    ``mem.step`` runs the memory each cycle."""

    def __init__(self, ctx, dut, mem: AxiMemory) -> None:
        self.ctx, self.dut, self.mem, self.cycle = ctx, dut, mem, 0

    async def tick(self) -> None:
        self.mem.step(self.ctx, self.dut, self.cycle)
        await self.ctx.tick()
        self.cycle += 1

    async def write(self, reg: int, value: int) -> None:
        ctx, d = self.ctx, self.dut
        ctx.set(d.s_axil_awaddr, reg)
        ctx.set(d.s_axil_wdata, value)
        ctx.set(d.s_axil_wstrb, 0xF)
        ctx.set(d.s_axil_awvalid, 1)
        ctx.set(d.s_axil_wvalid, 1)
        ctx.set(d.s_axil_bready, 1)
        aw = w = False
        while not (aw and w):
            aw_now, w_now = ctx.get(d.s_axil_awready), ctx.get(d.s_axil_wready)
            await self.tick()
            aw, w = aw or aw_now, w or w_now
            ctx.set(d.s_axil_awvalid, int(not aw))
            ctx.set(d.s_axil_wvalid, int(not w))
        while not ctx.get(d.s_axil_bvalid):
            await self.tick()
        assert ctx.get(d.s_axil_bresp) == 0
        await self.tick()
        ctx.set(d.s_axil_bready, 0)

    async def read(self, reg: int) -> int:
        ctx, d = self.ctx, self.dut
        ctx.set(d.s_axil_araddr, reg)
        ctx.set(d.s_axil_arvalid, 1)
        ctx.set(d.s_axil_rready, 1)
        while not ctx.get(d.s_axil_arready):
            await self.tick()
        await self.tick()
        ctx.set(d.s_axil_arvalid, 0)
        while not ctx.get(d.s_axil_rvalid):
            await self.tick()
        value = ctx.get(d.s_axil_rdata)
        await self.tick()
        ctx.set(d.s_axil_rready, 0)
        return value

    async def read64(self, lo: Reg) -> int:
        low = await self.read(lo)
        return low | await self.read(lo + 4) << 32


def test_top_has_the_bus_ports() -> None:
    names = set(top_ports(TINY.dram_bus_bits))
    for ch in ("aw", "w", "b", "ar", "r"):
        assert f"m_axi_{ch}valid" in names and f"m_axi_{ch}ready" in names
        assert f"s_axil_{ch}valid" in names and f"s_axil_{ch}ready" in names
    # one-bit IDs, so AXI4 slaves and interconnects that require them connect with no shim
    assert {"m_axi_awid", "m_axi_arid", "m_axi_bid", "m_axi_rid"} <= names
    assert TOP_NAME == "dian_accel" and "irq" in names


def test_a_run_through_the_registers() -> None:
    image = build_image(TINY, *copy_program(TINY)[:2])[0]
    want_dram, want = run_machine(TINY, image)
    base = 0x7000
    dram = bytearray(base) + bytearray(image)
    dut = Accelerator(TINY)
    seen: dict[str, int] = {}

    async def bench(ctx) -> None:
        bus = _Lite(ctx, dut, AxiMemory(dram, TINY.bus_bytes, TINY.dram_latency, "random", 11))
        seen["id"], seen["version"] = await bus.read(Reg.ID), await bus.read(Reg.VERSION)
        seen["hash"] = sum([await bus.read(Reg.CONFIG_HASH0 + 4 * i) << (32 * i) for i in range(4)])
        await bus.write(Reg.BASE_ADDR, base | 0xABC)  # the low 12 bits are not kept
        seen["base"] = await bus.read(Reg.BASE_ADDR)
        await bus.write(Reg.IRQ_ENABLE, Irq.DONE)
        await bus.write(Reg.CONTROL, Control.START)
        seen["busy"] = await bus.read(Reg.STATUS)
        for _ in range(50_000):
            if ctx.get(dut.irq):
                break
            await bus.tick()
        seen["status"] = await bus.read(Reg.STATUS)
        for name, reg in (("cycles", Reg.CYCLES_LO), ("bytes_read", Reg.BYTES_READ_LO)):
            seen[name] = await bus.read64(reg)
        seen["bytes_written"] = await bus.read64(Reg.BYTES_WRITTEN_LO)
        await bus.write(Reg.IRQ_STATUS, Irq.DONE)
        seen["irq_after_clear"] = ctx.get(dut.irq)
        seen["quiet"] = bus.mem.quiet

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert (seen["id"], seen["version"]) == (ID, VERSION)
    assert seen["hash"] == int.from_bytes(config_hash(TINY), "little")
    assert seen["base"] == base
    assert seen["busy"] & Status.BUSY
    assert seen["status"] == Status.DONE and seen["irq_after_clear"] == 0 and seen["quiet"]
    assert bytes(dram[base:]) == want_dram
    assert seen["cycles"] > want["cycles"]  # the random memory is slower than the ideal one
    assert (seen["bytes_read"], seen["bytes_written"]) == (
        want["perf_dram_bytes_read"],
        want["perf_dram_bytes_written"],
    )
