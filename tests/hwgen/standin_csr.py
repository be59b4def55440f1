"""A minimal register block with the signature of the spec's ``Csr`` (hwgen/rtl/csr.py, issue 13),
for the stand-in top level (dram_copy_top.py) until the real one is merged: every register of
hwgen/csr_map.py but SOFT_RESET's draining (it only pulses ``soft_reset``).

AXI4-Lite: AW and W are taken in either order or together (each ready while its register is
empty and no B is pending); the write happens at the edge that completes the pair, and B is
presented from the next cycle until bready. AR is taken while no R is pending; R (OKAY) is
presented from the next cycle until rready, with the value at the AR edge. Reading a counter's low
word latches its high word, which the high word's read returns.

``start`` (``soft_reset``) is high in the cycle after the edge that accepted a CONTROL write with
bit 0 (bit 1) set, ``start`` only while ``busy`` was 0. IRQ_STATUS is set at the edge ending a cycle
with ``ended`` high (a set wins over a W1C clear at the same edge); ``irq`` = IRQ_STATUS & IRQ_ENABLE.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dian.hwgen.csr_map import COUNTERS, ID, STATUS_ERROR_CODE_SHIFT, VERSION, Control, Irq, Reg
from dian.hwgen.rtl.axi_ports import s_axil_members


class StandinCsr(wiring.Component):
    def __init__(self, config_hash: bytes) -> None:
        if len(config_hash) != 16:
            raise ValueError(f"config_hash must be 16 bytes, not {len(config_hash)}")
        self.config_hash = config_hash
        core = {"start": Out(1), "soft_reset": Out(1), "base": Out(32), "busy": In(1), "done": In(1)}
        core |= {"error_code": In(8), "ended": In(1)}
        core |= {name: In(64) for name in COUNTERS}
        super().__init__({**s_axil_members(), "irq": Out(1), **core})

    def elaborate(self, platform) -> Module:
        m = Module()
        irq_enable, irq_status = Signal(), Signal()
        m.d.comb += self.irq.eq(irq_enable & irq_status)

        # Write channel: AW and W in either order.
        aw_full, w_full, bvalid = Signal(), Signal(), Signal()
        aw_addr, w_data = Signal(12), Signal(32)
        m.d.comb += [
            self.s_axil_awready.eq(~aw_full & ~bvalid),
            self.s_axil_wready.eq(~w_full & ~bvalid),
            self.s_axil_bvalid.eq(bvalid),
        ]
        aw_hs = self.s_axil_awvalid & self.s_axil_awready
        w_hs = self.s_axil_wvalid & self.s_axil_wready
        addr = Mux(aw_full, aw_addr, self.s_axil_awaddr)
        data = Mux(w_full, w_data, self.s_axil_wdata)
        fire = (aw_full | aw_hs) & (w_full | w_hs) & ~bvalid
        m.d.sync += [self.start.eq(0), self.soft_reset.eq(0)]
        with m.If(bvalid & self.s_axil_bready):
            m.d.sync += bvalid.eq(0)
        with m.If(fire):
            m.d.sync += [bvalid.eq(1), aw_full.eq(0), w_full.eq(0)]
            with m.Switch(addr):
                with m.Case(Reg.CONTROL):
                    m.d.sync += [
                        self.start.eq(((data & Control.START) != 0) & ~self.busy),
                        self.soft_reset.eq((data & Control.SOFT_RESET) != 0),
                    ]
                with m.Case(Reg.IRQ_ENABLE):
                    m.d.sync += irq_enable.eq(data[0])
                with m.Case(Reg.IRQ_STATUS), m.If(data[0]):
                    m.d.sync += irq_status.eq(0)
                with m.Case(Reg.BASE_ADDR), m.If(~self.busy):
                    m.d.sync += self.base.eq(data & ~0xFFF)
        with m.Else():
            with m.If(aw_hs):
                m.d.sync += [aw_full.eq(1), aw_addr.eq(self.s_axil_awaddr)]
            with m.If(w_hs):
                m.d.sync += [w_full.eq(1), w_data.eq(self.s_axil_wdata)]
        with m.If(self.ended):
            m.d.sync += irq_status.eq(Irq.DONE)

        # Read channel.
        rvalid, rdata = Signal(), Signal(32)
        m.d.comb += [self.s_axil_arready.eq(~rvalid), self.s_axil_rvalid.eq(rvalid), self.s_axil_rdata.eq(rdata)]
        with m.If(rvalid & self.s_axil_rready):
            m.d.sync += rvalid.eq(0)
        status = Cat(self.busy, self.done, self.error_code != 0, Const(0, STATUS_ERROR_CODE_SHIFT - 3), self.error_code)
        words = {Reg.ID: Const(ID, 32), Reg.VERSION: Const(VERSION, 32), Reg.STATUS: status}
        words |= {
            Reg.CONFIG_HASH0 + 4 * i: Const(int.from_bytes(self.config_hash[4 * i : 4 * i + 4], "little"), 32)
            for i in range(4)
        }
        words |= {Reg.IRQ_ENABLE: irq_enable, Reg.IRQ_STATUS: irq_status, Reg.BASE_ADDR: self.base}
        with m.If(self.s_axil_arvalid & ~rvalid):
            m.d.sync += [rvalid.eq(1), rdata.eq(0)]
            with m.Switch(self.s_axil_araddr):
                for reg, value in words.items():
                    with m.Case(reg):
                        m.d.sync += rdata.eq(value)
                for name, lo in COUNTERS.items():
                    counter, hi = getattr(self, name), Signal(32, name=f"{name}_hi")
                    with m.Case(lo):
                        m.d.sync += [rdata.eq(counter[:32]), hi.eq(counter[32:])]
                    with m.Case(lo + 4):
                        m.d.sync += rdata.eq(hi)
        return m
