"""Csr: the accelerator's AXI4-Lite control slave and its registers
(hwgen/csr_map.py has the map; the issue 13 bus spec the behaviour).

Why it is built this way:

* every output is a flip-flop (the readies included), so the slave never
  puts a combinational path from a master's input to its outputs and can sit
  on any interconnect without timing loops;
* AW and W each have a holding register: whichever arrives first is held
  (its ready drops) until the other one comes, so any order, or both in one
  cycle, is accepted; the write takes effect at the edge that accepts the
  second of the two, which is what the ``start``/``soft_reset`` timing counts
  from;
* one transaction per direction is in flight: the readies stay low while B
  (R) waits for bready (rready), so a response is never overwritten;
* a 64-bit counter cannot be read in one 32-bit beat: reading its low word
  latches its high word into a shadow (one per counter), which the read of
  the high word returns, so lo then hi is one consistent 64-bit sample.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..csr_map import (
    ADDR_BITS,
    BASE_ALIGN_BITS,
    CONFIG_HASH_BYTES,
    COUNTERS,
    DATA_BITS,
    ID,
    STATUS_ERROR_CODE_SHIFT,
    VERSION,
    Control,
    Irq,
    Reg,
)
from .axi_ports import s_axil_members

__all__ = ["Csr"]

_STRB_BITS = DATA_BITS // 8
_READIES = ("s_axil_awready", "s_axil_wready", "s_axil_arready")


def _word(reg: Reg) -> int:
    """The register's index on the 32-bit bus (the byte address without its two low bits)."""
    return reg >> 2


def _has(value: Value, flag: int) -> Value:
    return (value & flag).any()


def _bytes_merged(old: Value, data: Value, strb: Value) -> Value:
    """``old`` with the bytes whose ``strb`` bit is set replaced by ``data``'s."""
    return Cat(*(Mux(strb[i], data.word_select(i, 8), old.word_select(i, 8)) for i in range(_STRB_BITS)))


class Csr(wiring.Component):
    """AXI4-Lite slave (32-bit data, 12-bit byte addresses) over the control/status registers.

    Parameters
    ----------
    config_hash : bytes
        The 16-byte config hash (the DRAM image header's); CONFIG_HASH0..3 read it.

    Ports
    -----
    s_axil_aw*, s_axil_w*, s_axil_b*, s_axil_ar*, s_axil_r* : AXI4-Lite slave
        Single ID, no prot. bresp and rresp are always OKAY; unmapped
        addresses read 0, writes to read-only ones are ignored. The two low
        address bits are ignored: a register is a whole word, and a master
        accessing one byte puts that byte's address on the bus. RW registers
        write only the bytes whose wstrb bit is set; CONTROL and the IRQ
        bits (byte 0) only when wstrb[0] is set.
    irq : Out(1)
        Level: IRQ_STATUS.DONE & IRQ_ENABLE.DONE.
    start : Out(1)
        One-cycle pulse in the cycle after the edge that accepted a CONTROL
        write with START set while ``busy`` was 0.
    soft_reset : Out(1)
        One-cycle pulse, same timing, for a CONTROL write with SOFT_RESET set (busy or not).
    base : Out(32)
        BASE_ADDR; its low 12 bits are 0. A write while ``busy`` is ignored.
    busy, done : In(1)
    error_code : In(8)
        Levels from the core; STATUS reads ``busy | done << 1 | (error_code != 0) << 2 | error_code << 8``.
    ended : In(1)
        One-cycle pulse from the core when a run ends: sets IRQ_STATUS.DONE
        (a W1C of it at the same edge loses, so no end is missed).
    cycles, busy_pe, bytes_read, bytes_written : In(64)
        The core's perf counters.

    Timing: a write takes effect at the edge that accepts the later of AW
    and W (both at once: that edge); bvalid rises in the next cycle and
    stays until bready; awready and wready are low from the edge that
    accepted their channel until the one that accepts B. A read samples the
    register at the edge that accepts AR; rvalid rises in the next cycle and
    stays until rready; arready is low meanwhile. With bready and rready
    always high, a new write and a new read are each accepted every 2 cycles.
    """

    def __init__(self, config_hash: bytes) -> None:
        if not isinstance(config_hash, bytes | bytearray) or len(config_hash) != CONFIG_HASH_BYTES:
            raise ValueError(f"config_hash must be {CONFIG_HASH_BYTES} bytes, not {config_hash!r}")
        self.config_hash = bytes(config_hash)
        super().__init__(
            {
                # the bus's members; the address and data readies are registers that leave reset high
                **{n: Out(1, init=1) if n in _READIES else mb for n, mb in s_axil_members().items()},
                "irq": Out(1),
                "start": Out(1),
                "soft_reset": Out(1),
                "base": Out(32),
                "busy": In(1),
                "done": In(1),
                "error_code": In(8),
                "ended": In(1),
                **{name: In(64) for name in COUNTERS},
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.sync += [self.start.eq(0), self.soft_reset.eq(0)]
        irq_enable, irq_status = Signal(name="irq_enable"), Signal(name="irq_status")
        base_hi = Signal(32 - BASE_ALIGN_BITS)
        m.d.comb += self.base.eq(Cat(C(0, BASE_ALIGN_BITS), base_hi))
        # bresp/rresp are never driven: always OKAY.

        # Write: AW and W handshakes, each channel's holding register, the commit.
        aw_addr, w_data, w_strb = Signal(ADDR_BITS), Signal(DATA_BITS), Signal(_STRB_BITS)
        aw_go = self.s_axil_awvalid & self.s_axil_awready
        w_go = self.s_axil_wvalid & self.s_axil_wready
        aw_held = ~self.s_axil_awready & ~self.s_axil_bvalid
        w_held = ~self.s_axil_wready & ~self.s_axil_bvalid
        commit = (aw_go | aw_held) & (w_go | w_held)
        addr = Mux(aw_held, aw_addr, self.s_axil_awaddr)
        data = Mux(w_held, w_data, self.s_axil_wdata)
        strb = Mux(w_held, w_strb, self.s_axil_wstrb)
        with m.If(aw_go):
            m.d.sync += [aw_addr.eq(self.s_axil_awaddr), self.s_axil_awready.eq(0)]
        with m.If(w_go):
            m.d.sync += [w_data.eq(self.s_axil_wdata), w_strb.eq(self.s_axil_wstrb), self.s_axil_wready.eq(0)]
        with m.If(self.s_axil_bvalid & self.s_axil_bready):
            m.d.sync += [self.s_axil_bvalid.eq(0), self.s_axil_awready.eq(1), self.s_axil_wready.eq(1)]

        clear_irq, set_enable = Signal(), Signal()
        with m.If(commit):
            m.d.sync += self.s_axil_bvalid.eq(1)
            with m.Switch(addr[2:]):
                with m.Case(_word(Reg.CONTROL)):
                    m.d.sync += [
                        self.start.eq(strb[0] & _has(data, Control.START) & ~self.busy),
                        self.soft_reset.eq(strb[0] & _has(data, Control.SOFT_RESET)),
                    ]
                with m.Case(_word(Reg.IRQ_ENABLE)):
                    m.d.comb += set_enable.eq(strb[0])
                with m.Case(_word(Reg.IRQ_STATUS)):
                    m.d.comb += clear_irq.eq(strb[0] & _has(data, Irq.DONE))
                with m.Case(_word(Reg.BASE_ADDR)), m.If(~self.busy):
                    merged = _bytes_merged(self.base, data, strb)
                    m.d.sync += base_hi.eq(merged[BASE_ALIGN_BITS:])

        # IRQ: next values, so that ``irq`` is a flip-flop equal to the AND of the two in every cycle.
        enable_next = Mux(set_enable, _has(data, Irq.DONE), irq_enable)
        status_next = self.ended | (irq_status & ~clear_irq)
        m.d.sync += [irq_enable.eq(enable_next), irq_status.eq(status_next), self.irq.eq(enable_next & status_next)]

        # Read: sample the register at the AR handshake; R holds it until rready. A counter's low word
        # also latches its high word into the shadow that the high word's read returns.
        values, latches = self._read_values(irq_enable, irq_status)
        with m.If(self.s_axil_rvalid & self.s_axil_rready):
            m.d.sync += [self.s_axil_rvalid.eq(0), self.s_axil_arready.eq(1)]
        with m.If(self.s_axil_arvalid & self.s_axil_arready):
            m.d.sync += [self.s_axil_rvalid.eq(1), self.s_axil_arready.eq(0), self.s_axil_rdata.eq(0)]
            with m.Switch(self.s_axil_araddr[2:]):
                for reg, value in values.items():
                    with m.Case(_word(reg)):
                        m.d.sync += self.s_axil_rdata.eq(value)
                        if reg in latches:
                            shadow, hi = latches[reg]
                            m.d.sync += shadow.eq(hi)
        return m

    def _read_values(
        self, irq_enable: Signal, irq_status: Signal
    ) -> tuple[dict[Reg, Value | int], dict[Reg, tuple[Signal, Value]]]:
        """What a read of each readable register returns; per counter ``_LO``: its shadow and its high word."""
        status = Cat(self.busy, self.done, self.error_code != 0, C(0, STATUS_ERROR_CODE_SHIFT - 3), self.error_code)
        values: dict[Reg, Value | int] = {
            Reg.ID: ID,
            Reg.VERSION: VERSION,
            Reg.STATUS: status,
            Reg.IRQ_ENABLE: irq_enable,
            Reg.IRQ_STATUS: irq_status,
            Reg.BASE_ADDR: self.base,
        }
        for i in range(CONFIG_HASH_BYTES // 4):
            values[Reg(Reg.CONFIG_HASH0 + 4 * i)] = int.from_bytes(self.config_hash[4 * i : 4 * i + 4], "little")
        latches: dict[Reg, tuple[Signal, Value]] = {}
        for name, lo in COUNTERS.items():
            counter, shadow = getattr(self, name), Signal(32, name=f"{name}_hi_shadow")
            values[lo], values[Reg(lo + 4)] = counter[:32], shadow
            latches[lo] = (shadow, counter[32:])
        return values, latches
