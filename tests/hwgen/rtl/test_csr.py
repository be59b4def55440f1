"""Csr, the AXI4-Lite control slave, in amaranth.sim against the issue 13 bus spec.

The master below runs one transaction at a time (test_streams_... also lets the
request channels run ahead of the responses) with random valid delays, random
ready back-pressure and random junk on the address and data lines while their
valid is low, and checks the slave's side of the protocol in every cycle: no
output moves when the inputs do (every output from a flip-flop), B only after
both AW and W were accepted, R only after AR, a response held unchanged until
accepted, always OKAY. Offsets and values are copied from the spec here, never
read from hwgen/csr_map.py (test_csr_map_matches_spec checks that one) or the RTL.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from amaranth.back import verilog
from amaranth.lib.wiring import Flow
from amaranth.sim import Simulator
from pipeline_harness import assert_param_error

from dian.hwgen import csr_map
from dian.hwgen.rtl.csr import Csr

REG = {
    "ID": 0x00, "VERSION": 0x04, "CONFIG_HASH0": 0x08, "CONFIG_HASH1": 0x0C, "CONFIG_HASH2": 0x10,
    "CONFIG_HASH3": 0x14, "CONTROL": 0x18, "STATUS": 0x1C, "IRQ_ENABLE": 0x20, "IRQ_STATUS": 0x24,
    "BASE_ADDR": 0x28, "CYCLES_LO": 0x30, "CYCLES_HI": 0x34, "BUSY_PE_LO": 0x38, "BUSY_PE_HI": 0x3C,
    "BYTES_READ_LO": 0x40, "BYTES_READ_HI": 0x44, "BYTES_WRITTEN_LO": 0x48, "BYTES_WRITTEN_HI": 0x4C,
}  # fmt: skip
COUNTER_LO = {"cycles": 0x30, "busy_pe": 0x38, "bytes_read": 0x40, "bytes_written": 0x48}
ID_DIAN, VERSION_1_0 = 0x4E414944, 0x00010000
HASH = bytes.fromhex("00112233445566778899aabbccddeeff")
HASH_WORDS = (0x33221100, 0x77665544, 0xBBAA9988, 0xFFEEDDCC)  # word i = bytes 4i..4i+3, little-endian
START, SOFT_RESET = 1, 2

# The spec's "Internal interface of the CSR block": name -> (direction as seen by Csr, width).
PORTS = {
    **{n: ("in", w) for n, w in [("awvalid", 1), ("awaddr", 12), ("wvalid", 1), ("wdata", 32), ("wstrb", 4)]},
    **{n: ("in", w) for n, w in [("bready", 1), ("arvalid", 1), ("araddr", 12), ("rready", 1)]},
    **{n: ("out", w) for n, w in [("awready", 1), ("wready", 1), ("bvalid", 1), ("bresp", 2)]},
    **{n: ("out", w) for n, w in [("arready", 1), ("rvalid", 1), ("rdata", 32), ("rresp", 2)]},
}
PORTS = {f"s_axil_{n}": v for n, v in PORTS.items()} | {
    "irq": ("out", 1), "start": ("out", 1), "soft_reset": ("out", 1), "base": ("out", 32),
    "busy": ("in", 1), "done": ("in", 1), "error_code": ("in", 8), "ended": ("in", 1),
    "cycles": ("in", 64), "busy_pe": ("in", 64), "bytes_read": ("in", 64), "bytes_written": ("in", 64),
}  # fmt: skip
OUTPUTS = [n for n, (d, _) in PORTS.items() if d == "out"]
CORE = ("busy", "done", "error_code", "ended", "cycles", "busy_pe", "bytes_read", "bytes_written")
MAX_WAIT = 200


@dataclass
class Accepted:
    aw: int  # edge (= index of the cycle it ends) that accepted AW
    w: int

    @property
    def commit(self) -> int:
        """The edge at which the write takes effect: the later of AW and W."""
        return max(self.aw, self.w)


class Master:
    """An AXI4-Lite master with random timing, and a monitor of the slave's side."""

    def __init__(self, dut: Csr, ctx: Any, rng: random.Random, ready_p: float) -> None:
        self.dut, self.ctx, self.rng, self.ready_p = dut, ctx, rng, ready_p
        self.core: dict[str, int] = dict.fromkeys(CORE, 0)
        self.trace: list[dict[str, int]] = []  # the outputs in each cycle
        self.in_write = self.in_read = False

    @property
    def cycle(self) -> int:
        return len(self.trace)

    def now(self) -> dict[str, int]:
        return {n: self.ctx.get(getattr(self.dut, n)) for n in OUTPUTS}

    async def step(self, **drive: int) -> dict[str, int]:
        """One cycle: drive the core's lines and ``drive`` (other master lines idle, with junk), then the edge.
        Returns the outputs of the cycle, which the edge sampled."""
        before, rng = self.now(), self.rng
        junk = {"s_axil_awaddr": 12, "s_axil_wdata": 32, "s_axil_wstrb": 4, "s_axil_araddr": 12}
        junk |= {"s_axil_bready": 1, "s_axil_rready": 1}
        lines = {
            "s_axil_awvalid": 0,
            "s_axil_wvalid": 0,
            "s_axil_arvalid": 0,
            **{name: rng.getrandbits(bits) for name, bits in junk.items()},
            **self.core,
            **drive,
        }
        for name, value in lines.items():
            self.ctx.set(getattr(self.dut, name), value)
        outs = self.now()
        moved = {n: (before[n], outs[n]) for n in OUTPUTS if before[n] != outs[n]}
        assert not moved, f"cycle {self.cycle}: outputs followed the inputs without a clock edge: {moved}"
        assert self.in_write or not outs["s_axil_bvalid"], f"cycle {self.cycle}: B with no write"
        assert self.in_read or not outs["s_axil_rvalid"], f"cycle {self.cycle}: R with no read"
        self.trace.append(outs)
        await self.ctx.tick()
        return outs

    def _ready(self, held: int, delay: int) -> int:
        return int(held >= delay and self.rng.random() < self.ready_p)

    async def write(
        self, addr: int, data: int, strb: int = 0xF, *, order: str = "random", b_delay: int = 0, **first: int
    ) -> Accepted:
        """Write; AW and W become valid in ``order`` (random delays 0..3 cycles each, or ``aw_first``,
        ``w_first``, ``same``); bready stays low for the first ``b_delay`` cycles of bvalid. ``first``:
        core lines for the first cycle only."""
        rng = self.rng
        aw_at, w_at = {
            "random": (rng.randint(0, 3), rng.randint(0, 3)),
            "aw_first": (0, rng.randint(1, 3)),
            "w_first": (rng.randint(1, 3), 0),
            "same": (0, 0),
        }[order]
        aw = w = None
        held, last = 0, None
        self.in_write = True
        for t in range(MAX_WAIT):
            drive: dict[str, int] = dict(first) if t == 0 else {}
            if aw is None and t >= aw_at:
                drive.update(s_axil_awvalid=1, s_axil_awaddr=addr)
            if w is None and t >= w_at:
                drive.update(s_axil_wvalid=1, s_axil_wdata=data, s_axil_wstrb=strb)
            drive["s_axil_bready"] = ready = self._ready(held, b_delay)
            outs = await self.step(**drive)
            b = (outs["s_axil_bvalid"], outs["s_axil_bresp"])
            assert last is None or b == last, f"cycle {self.cycle - 1}: B changed before bready: {last} -> {b}"
            if b[0]:
                assert aw is not None and w is not None, f"cycle {self.cycle - 1}: B before both AW and W"
                assert b[1] == 0, "bresp is not OKAY"
                held, last = held + 1, b
                if ready:
                    self.in_write = False
                    return Accepted(aw, w)
            if drive.get("s_axil_awvalid") and outs["s_axil_awready"]:
                aw = self.cycle - 1
            if drive.get("s_axil_wvalid") and outs["s_axil_wready"]:
                w = self.cycle - 1
        raise AssertionError(f"write of {addr:#x} not answered in {MAX_WAIT} cycles")

    async def read(self, addr: int, *, r_delay: int = 0) -> int:
        """Read; arvalid after 0..3 cycles, rready low for the first ``r_delay`` cycles of rvalid."""
        ar_at, ar = self.rng.randint(0, 3), None
        held, last = 0, None
        self.in_read = True
        for t in range(MAX_WAIT):
            drive = {"s_axil_arvalid": 1, "s_axil_araddr": addr} if ar is None and t >= ar_at else {}
            drive["s_axil_rready"] = ready = self._ready(held, r_delay)
            outs = await self.step(**drive)
            r = (outs["s_axil_rvalid"], outs["s_axil_rdata"], outs["s_axil_rresp"])
            assert last is None or r == last, f"cycle {self.cycle - 1}: R changed before rready: {last} -> {r}"
            if r[0]:
                assert ar is not None, f"cycle {self.cycle - 1}: R before AR"
                assert r[2] == 0, "rresp is not OKAY"
                held, last = held + 1, r
                if ready:
                    self.in_read = False
                    return r[1]
            if drive.get("s_axil_arvalid") and outs["s_axil_arready"]:
                ar = self.cycle - 1
        raise AssertionError(f"read of {addr:#x} not answered in {MAX_WAIT} cycles")

    async def idle(self, cycles: int = 1, **core: int) -> None:
        for _ in range(cycles):
            await self.step(**core)

    def pulses(self, name: str) -> list[int]:
        return [c for c, outs in enumerate(self.trace) if outs[name]]


def run(
    scenario: Callable[[Master], Awaitable[None]], *, seed: int = 0, ready_p: float = 0.5, config_hash: bytes = HASH
) -> Master:
    dut = Csr(config_hash)
    masters: list[Master] = []

    async def bench(ctx: Any) -> None:
        masters.append(Master(dut, ctx, random.Random(seed), ready_p))
        await scenario(masters[0])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return masters[0]


def status_word(busy: int, done: int, error_code: int) -> int:
    return busy | done << 1 | (error_code != 0) << 2 | error_code << 8


def test_csr_map_matches_spec() -> None:
    assert {r.name: r.value for r in csr_map.Reg} == REG
    assert (csr_map.ID, csr_map.VERSION) == (ID_DIAN, VERSION_1_0)
    assert {n: r.value for n, r in csr_map.COUNTERS.items()} == COUNTER_LO
    assert (csr_map.Control.START, csr_map.Control.SOFT_RESET, csr_map.Irq.DONE) == (START, SOFT_RESET, 1)
    assert (csr_map.Status.BUSY, csr_map.Status.DONE, csr_map.Status.ERROR) == (1, 2, 4)
    assert csr_map.STATUS_ERROR_CODE_SHIFT == 8
    codes = ["NONE", "BAD_IMAGE", "CONFIG_MISMATCH", "READ_ERROR", "WRITE_ERROR", "MEM_ILLEGAL", "CMP_ILLEGAL"]
    assert [(c.name, c.value) for c in csr_map.ErrorCode] == list(zip(codes, range(7), strict=True))
    writable = {r: a.name for r, a in csr_map.ACCESS.items() if a != csr_map.Access.R}
    assert writable == {0x18: "W", 0x20: "RW", 0x24: "W1C", 0x28: "RW"}


def test_signature_and_verilog_ports_match_spec() -> None:
    dut = Csr(HASH)
    got = {n: ("in" if m.flow == Flow.In else "out", len(getattr(dut, n))) for n, m in dut.signature.members.items()}
    assert got == PORTS
    text = verilog.convert(dut, name="csr", emit_src=False)  # the flattened names are the spec's
    decls = re.findall(r"^\s*(input|output) (?:\[(\d+):0\] )?(\w+);$", text, re.M)
    assert {n: (d.removesuffix("put"), int(msb or 0) + 1) for d, msb, n in decls} == {
        **PORTS,
        "clk": ("in", 1),
        "rst": ("in", 1),
    }


def test_config_hash_must_be_16_bytes() -> None:
    assert_param_error(Csr, {"config_hash": bytes(15)}, "config_hash must be 16 bytes")
    assert_param_error(Csr, {"config_hash": "0" * 16}, "config_hash must be 16 bytes")


def test_identity_registers_and_unmapped_reads() -> None:
    async def scenario(m: Master) -> None:
        assert await m.read(REG["ID"]) == ID_DIAN
        assert await m.read(REG["VERSION"]) == VERSION_1_0
        for i, want in enumerate(HASH_WORDS):
            assert await m.read(REG["CONFIG_HASH0"] + 4 * i) == want
        for addr in (REG["CONTROL"], 0x2C, 0x50, 0x54, 0x400, 0xFFC):  # CONTROL is write-only: reads 0
            assert await m.read(addr) == 0, hex(addr)

    run(scenario)


def test_writes_to_read_only_and_unmapped_addresses_are_ignored() -> None:
    async def scenario(m: Master) -> None:
        m.core.update(cycles=0x11, busy_pe=0x22, bytes_read=0x33, bytes_written=0x44)
        read_only = [a for n, a in REG.items() if n not in ("CONTROL", "IRQ_ENABLE", "IRQ_STATUS", "BASE_ADDR")]
        for addr in [*read_only, 0x2C, 0x50, 0xFFC]:
            await m.write(addr, 0xFFFFFFFF)
        assert await m.read(REG["ID"]) == ID_DIAN
        assert await m.read(REG["VERSION"]) == VERSION_1_0
        assert await m.read(REG["CONFIG_HASH3"]) == HASH_WORDS[3]
        assert await m.read(REG["STATUS"]) == 0
        for name in ("IRQ_ENABLE", "IRQ_STATUS", "BASE_ADDR"):
            assert await m.read(REG[name]) == 0, name
        for lo, want in zip(COUNTER_LO.values(), (0x11, 0x22, 0x33, 0x44), strict=True):
            assert (await m.read(lo), await m.read(lo + 4)) == (want, 0)

    m = run(scenario)
    assert m.pulses("start") == m.pulses("soft_reset") == m.pulses("irq") == []


@pytest.mark.parametrize("busy, done, error_code", [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 1, 3), (1, 1, 255), (0, 0, 6)])
def test_status(busy: int, done: int, error_code: int) -> None:
    want = {(0, 0, 0): 0, (1, 0, 0): 1, (0, 1, 0): 2, (0, 1, 3): 0x306, (1, 1, 255): 0xFF07, (0, 0, 6): 0x604}

    async def scenario(m: Master) -> None:
        m.core.update(busy=busy, done=done, error_code=error_code)
        assert await m.read(REG["STATUS"]) == want[busy, done, error_code] == status_word(busy, done, error_code)

    run(scenario)


@pytest.mark.parametrize("order", ["aw_first", "w_first", "same"])
def test_write_orders(order: str) -> None:
    """AW before W, W before AW, both in one cycle: the write takes effect at the later handshake,
    where a CONTROL write's start pulse counts from."""
    commits: list[int] = []

    async def scenario(m: Master) -> None:
        for seed in range(4):
            acc = await m.write(REG["BASE_ADDR"], 0x1000 * (seed + 1), order=order)
            assert {"aw_first": acc.aw < acc.w, "w_first": acc.w < acc.aw, "same": acc.aw == acc.w}[order]
            assert await m.read(REG["BASE_ADDR"]) == 0x1000 * (seed + 1)
            assert m.now()["base"] == 0x1000 * (seed + 1)
            commits.append((await m.write(REG["CONTROL"], START, order=order)).commit)

    m = run(scenario, seed=len(order), ready_p=0.7)
    assert m.pulses("start") == [c + 1 for c in commits]


def test_back_pressure_holds_b_and_r() -> None:
    async def scenario(m: Master) -> None:
        for delay in (1, 5, 17):
            await m.write(REG["IRQ_ENABLE"], 1, b_delay=delay)
            assert await m.read(REG["IRQ_ENABLE"], r_delay=delay) == 1
            await m.write(REG["IRQ_ENABLE"], 0, b_delay=delay)
            assert await m.read(REG["ID"], r_delay=delay) == ID_DIAN
        assert sum(o["s_axil_bvalid"] for o in m.trace) >= 2 * (1 + 5 + 17)

    run(scenario, ready_p=0.3)


def test_start_and_soft_reset_pulses() -> None:
    """START is sampled with ``busy`` at the edge that accepts the write; SOFT_RESET pulses busy or not."""
    want_start: list[int] = []
    want_soft: list[int] = []

    async def scenario(m: Master) -> None:
        want_start.append((await m.write(REG["CONTROL"], START)).commit + 1)
        m.core["busy"] = 1
        await m.write(REG["CONTROL"], START)  # ignored while busy
        want_soft.append((await m.write(REG["CONTROL"], SOFT_RESET | START)).commit + 1)
        # busy 0 only in the cycle whose edge accepts the write (AW and W together, readies high)
        want_start.append((await m.write(REG["CONTROL"], START, order="same", busy=0)).commit + 1)
        m.core["busy"] = 0
        await m.write(REG["CONTROL"], START, order="same", busy=1)  # busy at that edge: ignored
        acc = await m.write(REG["CONTROL"], START | SOFT_RESET)
        want_start.append(acc.commit + 1)
        want_soft.append(acc.commit + 1)
        await m.write(REG["CONTROL"], START | SOFT_RESET, strb=0b1110)  # byte 0 not written
        await m.write(REG["CONTROL"], 0xFFFFFFFC)  # no bit of CONTROL
        await m.idle(3)

    m = run(scenario)
    assert m.pulses("start") == want_start
    assert m.pulses("soft_reset") == want_soft


def test_irq_set_by_ended_cleared_by_w1c_and_masked() -> None:
    async def scenario(m: Master) -> None:
        await m.idle(1, ended=1)
        assert m.now()["irq"] == 0  # IRQ_ENABLE is 0
        assert await m.read(REG["IRQ_STATUS"]) == 1
        end = (await m.write(REG["IRQ_ENABLE"], 1)).commit
        assert m.trace[end]["irq"] == 0 and m.trace[end + 1]["irq"] == 1
        for data, strb in ((0xFFFFFFFE, 0xF), (1, 0b1110)):  # bit 0 not 1, or byte 0 not written: no clear
            await m.write(REG["IRQ_STATUS"], data, strb)
            assert m.now()["irq"] == 1 and await m.read(REG["IRQ_STATUS"]) == 1
        clear = (await m.write(REG["IRQ_STATUS"], 1, strb=0b0001)).commit
        assert m.trace[clear]["irq"] == 1 and m.trace[clear + 1]["irq"] == 0
        assert await m.read(REG["IRQ_STATUS"]) == 0
        await m.step(ended=1)
        ended_at = m.cycle - 1
        assert m.trace[ended_at]["irq"] == 0 and m.now()["irq"] == 1
        await m.write(REG["IRQ_ENABLE"], 0, strb=0b1110)  # byte 0 not written: still enabled
        assert await m.read(REG["IRQ_ENABLE"]) == 1 and m.now()["irq"] == 1
        await m.write(REG["IRQ_ENABLE"], 0)
        assert m.now()["irq"] == 0 and await m.read(REG["IRQ_STATUS"]) == 1
        await m.write(REG["IRQ_ENABLE"], 1)
        assert m.now()["irq"] == 1
        # an end at the edge of a W1C is not lost
        acc = await m.write(REG["IRQ_STATUS"], 1, order="same", ended=1)
        assert acc.commit == acc.aw == acc.w and m.now()["irq"] == 1

    run(scenario, ready_p=0.6)


def test_counter_hi_is_latched_by_the_lo_read() -> None:
    def value(i: int, k: int) -> int:
        return ((0xA0 + 16 * i + k) << 32) | (0x1000 * i + k)

    async def scenario(m: Master) -> None:
        m.core.update({n: value(i, 0) for i, n in enumerate(COUNTER_LO)})
        los = [await m.read(lo) for lo in COUNTER_LO.values()]  # every lo first, then change every counter
        m.core.update({n: value(i, 1) for i, n in enumerate(COUNTER_LO)})
        his = [await m.read(lo + 4) for lo in COUNTER_LO.values()]
        assert [h << 32 | lo for h, lo in zip(his, los, strict=True)] == [value(i, 0) for i in range(4)]
        for i, lo in enumerate(COUNTER_LO.values()):  # lo, change, hi, one counter at a time
            m.core.update({n: value(j, 2 + i) for j, n in enumerate(COUNTER_LO)})
            low = await m.read(lo)
            m.core.update({n: value(j, 9) for j, n in enumerate(COUNTER_LO)})
            assert (await m.read(lo + 4)) << 32 | low == value(i, 2 + i)
            assert await m.read(lo + 4) == value(i, 2 + i) >> 32  # until the next lo read

    run(scenario)


def test_base_addr_bytes_low_bits_and_busy() -> None:
    async def scenario(m: Master) -> None:
        await m.write(REG["BASE_ADDR"], 0xFFFFFFFF)
        assert await m.read(REG["BASE_ADDR"]) == 0xFFFFF000 == m.now()["base"]
        await m.write(REG["BASE_ADDR"], 0x12345ABC, strb=0b0110)  # bytes 1, 2 of 0x12345ABC; [11:0] stay 0
        assert await m.read(REG["BASE_ADDR"]) == 0xFF345000 == m.now()["base"]
        await m.write(REG["BASE_ADDR"], 0xEEDDCCBB, strb=0b1000)
        assert await m.read(REG["BASE_ADDR"]) == 0xEE345000
        m.core["busy"] = 1
        await m.write(REG["BASE_ADDR"], 0x00010000)  # ignored while busy
        assert await m.read(REG["BASE_ADDR"]) == 0xEE345000 == m.now()["base"]
        m.core["busy"] = 0
        await m.write(REG["BASE_ADDR"], 0x00010FFF)
        assert await m.read(REG["BASE_ADDR"]) == 0x00010000 == m.now()["base"]

    run(scenario)


def test_streams_lose_no_request_or_response() -> None:
    """A master need not wait for a response before its next request: AR, AW and W each run their own
    queue (W ahead of AW or behind), with random valid gaps and ready back-pressure. Every read is
    answered in order with its own data, every write with one B, and the CONTROL writes pulse in order."""
    rng = random.Random(5)
    constant = {0x00: ID_DIAN, 0x04: VERSION_1_0, **{0x08 + 4 * i: w for i, w in enumerate(HASH_WORDS)}, 0x2C: 0}
    reads = [rng.choice(list(constant)) for _ in range(60)]
    writes = [rng.choice([START, SOFT_RESET, START | SOFT_RESET, 0]) for _ in range(60)]
    got: list[int] = []

    async def scenario(m: Master) -> None:
        m.in_write = m.in_read = True
        count = {"ar": 0, "aw": 0, "w": 0, "b": 0}
        total = {"ar": len(reads), "aw": len(writes), "w": len(writes)}
        on = dict.fromkeys(total, False)
        held_b = held_r = None
        while len(got) < len(reads) or count["b"] < len(writes):
            assert m.cycle < 20 * (len(reads) + len(writes)), "the streams stalled"
            on = {ch: on[ch] or (count[ch] < total[ch] and rng.random() < 0.6) for ch in total}
            drive = {"s_axil_bready": int(rng.random() < 0.5), "s_axil_rready": int(rng.random() < 0.5)}
            if on["ar"]:
                drive.update(s_axil_arvalid=1, s_axil_araddr=reads[count["ar"]])
            if on["aw"]:
                drive.update(s_axil_awvalid=1, s_axil_awaddr=REG["CONTROL"])
            if on["w"]:
                drive.update(s_axil_wvalid=1, s_axil_wdata=writes[count["w"]], s_axil_wstrb=0xF)
            outs = await m.step(**drive)
            b, r = (outs["s_axil_bvalid"], outs["s_axil_bresp"]), (outs["s_axil_rvalid"], outs["s_axil_rdata"])
            assert held_b is None or b == held_b, f"cycle {m.cycle - 1}: B changed before bready"
            assert held_r is None or r == held_r, f"cycle {m.cycle - 1}: R changed before rready"
            assert not b[0] or count["b"] < min(count["aw"], count["w"]), f"cycle {m.cycle - 1}: B with no write"
            assert not r[0] or len(got) < count["ar"], f"cycle {m.cycle - 1}: R with no read"
            held_b = b if b[0] and not drive["s_axil_bready"] else None
            held_r = r if r[0] and not drive["s_axil_rready"] else None
            count["b"] += b[0] and drive["s_axil_bready"]
            if r[0] and drive["s_axil_rready"]:
                got.append(r[1])
            for ch in total:
                if on[ch] and outs[f"s_axil_{ch}ready"]:
                    count[ch], on[ch] = count[ch] + 1, False
        await m.idle(2)

    m = run(scenario)
    assert got == [constant[a] for a in reads]
    pulses = [(o["start"], o["soft_reset"]) for o in m.trace if o["start"] or o["soft_reset"]]
    assert pulses == [(w & 1, w >> 1) for w in writes if w]


class SpecModel:
    """The registers as the spec describes them (written here from the spec, not from the RTL)."""

    def __init__(self) -> None:
        self.base = self.irq_enable = self.irq_status = 0
        self.shadow: dict[int, int | None] = dict.fromkeys(COUNTER_LO.values())  # None: no lo read yet

    def write(self, addr: int, data: int, strb: int, busy: int) -> tuple[int, int]:
        """Apply a write; the (start, soft_reset) pulses it must give."""
        byte0 = strb & 1
        if addr == REG["CONTROL"]:
            return int(byte0 and data & START and not busy), int(byte0 and data & SOFT_RESET != 0)
        if addr == REG["IRQ_ENABLE"] and byte0:
            self.irq_enable = data & 1
        if addr == REG["IRQ_STATUS"] and byte0 and data & 1:
            self.irq_status = 0
        if addr == REG["BASE_ADDR"] and not busy:
            merged = sum((data if strb >> i & 1 else self.base) & 0xFF << 8 * i for i in range(4))
            self.base = merged & 0xFFFFF000
        return 0, 0

    def read(self, addr: int, core: dict[str, int]) -> int | None:
        """What a read returns (None: the hi word of a counter whose lo was never read)."""
        counters = {lo: core[name] for name, lo in COUNTER_LO.items()}
        if addr in counters:
            self.shadow[addr] = counters[addr] >> 32
            return counters[addr] & 0xFFFFFFFF
        if addr - 4 in counters:
            return self.shadow[addr - 4]
        fixed = {REG["ID"]: ID_DIAN, REG["VERSION"]: VERSION_1_0, REG["IRQ_ENABLE"]: self.irq_enable}
        fixed |= {REG["CONFIG_HASH0"] + 4 * i: word for i, word in enumerate(HASH_WORDS)}
        fixed |= {REG["IRQ_STATUS"]: self.irq_status, REG["BASE_ADDR"]: self.base}
        fixed[REG["STATUS"]] = status_word(core["busy"], core["done"], core["error_code"])
        return fixed.get(addr, 0)


@pytest.mark.parametrize("seed", range(4))
def test_random_traffic_against_the_spec(seed: int) -> None:
    rng = random.Random(seed)
    model = SpecModel()
    want: dict[str, list[int]] = {"start": [], "soft_reset": []}
    addrs = [*REG.values(), 0x2C, 0x50, rng.randrange(0x54, 0x1000, 4)]
    writable = [REG[n] for n in ("CONTROL", "IRQ_ENABLE", "IRQ_STATUS", "BASE_ADDR")]

    async def scenario(m: Master) -> None:
        for _ in range(200):
            op = rng.choice(["write", "write", "read", "read", "read", "core", "ended"])
            addr = rng.choice(addrs + writable * 3 if op == "write" else addrs)
            if op == "write":
                data = rng.choice([rng.getrandbits(32), rng.getrandbits(2), 0xFFFFFFFF])
                strb = rng.choice([0xF, 0xF, rng.getrandbits(4)])
                acc = await m.write(addr, data, strb)
                for name, pulse in zip(want, model.write(addr, data, strb, m.core["busy"]), strict=True):
                    want[name] += [acc.commit + 1] * pulse
            elif op == "read":
                expected, got = model.read(addr, m.core), await m.read(addr, r_delay=rng.choice([0, 0, 3]))
                assert expected is None or got == expected, f"read {addr:#x}: {got:#x}, the spec says {expected:#x}"
            elif op == "core":
                m.core.update(
                    busy=rng.getrandbits(1), done=rng.getrandbits(1), error_code=rng.choice([0, 0, 2, 3, 6, 255])
                )
                m.core.update({name: rng.getrandbits(64) for name in COUNTER_LO})
                await m.idle(rng.randint(0, 2))
            else:
                await m.step(ended=1)
                model.irq_status = 1
            assert m.now()["irq"] == model.irq_status & model.irq_enable
            assert m.now()["base"] == model.base
        await m.idle(2)

    m = run(scenario, seed=seed, ready_p=[0.3, 0.5, 0.8, 1.0][seed])
    assert {name: m.pulses(name) for name in want} == want
