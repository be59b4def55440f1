"""Accelerator: the top level generated from an AccelConfig — the
:class:`~dian.hwgen.rtl.core.AcceleratorCore` behind its register block
(:class:`~dian.hwgen.rtl.csr.Csr`).

Ports (docs/accelerator.md, "Bus interface"), named as SoC builders expect
them so that LiteX, Vivado IP integrator or a hand-written SoC connect them
without a translation layer:

* ``m_axi_*``: an AXI4 master of the config's bus width for every DRAM
  access (INCR bursts of at most ``max_burst_beats``, never across 4 KiB,
  from the image's base address);
* ``s_axil_*``: an AXI4-Lite slave (32-bit data, 12-bit addresses) for the
  control and status registers of hwgen/csr_map.py;
* ``irq``: a level, a run ended while IRQ_ENABLE is set, until cleared.

Clock ``clk``, synchronous active-high reset ``rst``.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from ..accel_config import AccelConfig, config_hash
from ..csr_map import COUNTERS
from .axi_ports import m_axi_members, s_axil_members, top_ports
from .core import AcceleratorCore, forward, refuse_unbuilt_fields
from .csr import Csr

__all__ = ["TOP_NAME", "Accelerator", "top_ports"]

TOP_NAME = "dian_accel"


class Accelerator(wiring.Component):
    """The whole accelerator for ``cfg``."""

    def __init__(self, cfg: AccelConfig) -> None:
        refuse_unbuilt_fields(cfg)
        self.cfg = cfg
        super().__init__(top_ports(cfg.dram_bus_bits))

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        m.submodules.core = core = AcceleratorCore(cfg)
        m.submodules.csr = csr = Csr(config_hash(cfg))
        for name, member in {**s_axil_members(), "irq": wiring.Out(1)}.items():
            forward(m, member, getattr(self, name), getattr(csr, name))
        for name, member in m_axi_members(cfg.dram_bus_bits).items():
            forward(m, member, getattr(self, name), getattr(core, name))
        m.d.comb += [
            core.start.eq(csr.start),
            core.soft_reset.eq(csr.soft_reset),
            core.base.eq(csr.base),
            csr.busy.eq(core.busy),
            csr.done.eq(core.done),
            csr.error_code.eq(core.error_code),
            csr.ended.eq(core.ended),
            *(getattr(csr, n).eq(getattr(core, n)) for n in COUNTERS),
        ]
        return m
