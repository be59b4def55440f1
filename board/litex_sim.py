"""The board build's SoC for simulation (``dian build DIR --board sim``): the same composition as on
a board (board/litex_soc.py adds the accelerator, its DRAM port, its register region and irq CSR)
on LiteX's SimPlatform, with LiteDRAM's SDRAM model (MT48LC16M16 behind a 16-bit SDR PHY model,
as on the ULX3S) instead of a PHY and pins, and the UARTBone bridge on byte streams instead of a
UART: no baud rate, one byte per handshake. Verilog only: a harness (LiteX's litex_sim C++
modules, or a Verilator harness of one's own) drives the top level. Runs in the SoC script's
process, like litex_soc.

Top-level ports of the Verilog (module ``dian_soc``):

* ``sys_clk``, ``sys_rst`` (active high; LiteX's CRG holds the SoC in reset while it is high);
* ``serial_sink_valid``, ``serial_sink_ready``, ``serial_sink_data[7:0]``: bytes into the SoC
  (the host's UARTBone requests);
* ``serial_source_valid``, ``serial_source_ready``, ``serial_source_data[7:0]``: bytes out of the
  SoC (UARTBone's read answers);
* ``sim_trace``: SimPlatform's trace enable, unused here (tie it to 0);
* ``accel_clk``, only when the accelerator has a clock of its own (``--accel-clk-freq`` other than
  ``--sys-clk-freq``; by default it shares ``sys_clk``): its reset follows ``sys_rst``.
"""

from __future__ import annotations

import os
from typing import Any

from litedram.modules import MT48LC16M16
from litedram.phy.model import SDRAMPHYModel
from litex.build.generic_platform import Pins, Subsignal
from litex.build.sim import SimPlatform
from litex.soc.cores.uart import RS232PHYModel, UARTBone
from litex.soc.integration.soc_core import SoCCore
from migen import ClockDomain
from migen.fhdl.structure import _Fragment
from migen.genlib.io import CRG
from migen.genlib.resetsync import AsyncResetSynchronizer

SDRAM_BITS = 16

_IO = [
    ("sys_clk", 0, Pins(1)),
    ("sys_rst", 0, Pins(1)),
    (
        "serial",
        0,
        Subsignal("source_valid", Pins(1)),
        Subsignal("source_ready", Pins(1)),
        Subsignal("source_data", Pins(8)),
        Subsignal("sink_valid", Pins(1)),
        Subsignal("sink_ready", Pins(1)),
        Subsignal("sink_data", Pins(8)),
    ),
    ("accel_clk", 0, Pins(1)),
]


class VerilogOnly:
    """In place of LiteX's Verilator toolchain, whose build writes the simulator's C++ scaffolding
    too (that needs pythondata-misc-tapcfg, for its Ethernet TAP model): the SoC's Verilog only."""

    support_mixed_language = False

    def build(self, platform: Any, fragment: Any, build_dir: str = "build", build_name: str = "sim", **_: Any) -> Any:
        os.makedirs(build_dir, exist_ok=True)
        cwd = os.getcwd()
        os.chdir(build_dir)  # memory initialization files go beside the Verilog, as LiteX's builds put them
        try:
            if not isinstance(fragment, _Fragment):
                fragment = fragment.get_fragment()
            platform.finalize(fragment)
            v_output = platform.get_verilog(fragment, name=build_name)
            v_output.write(build_name + ".v")
        finally:
            os.chdir(cwd)
        return v_output.ns


def sim_soc(params: dict[str, Any], accel_cd: str) -> tuple[Any, str]:
    """The SoC before the accelerator is added, and the accelerator's clock domain."""
    platform = SimPlatform("SIM", _IO)
    platform.toolchain = VerilogOnly()
    soc = SoCCore(
        platform,
        clk_freq=params["sys_clk_hz"],
        cpu_type=None,
        with_uart=False,
        with_timer=False,
        integrated_sram_size=0,
        ident="dian SoC (LiteX simulation)",
    )
    soc.crg = CRG(platform.request("sys_clk"), platform.request("sys_rst"))
    soc.uartbone_phy = phy = RS232PHYModel(platform.request("serial"))
    soc.uartbone = UARTBone(phy=phy, clk_freq=params["sys_clk_hz"], address_width=soc.bus.address_width)
    soc.bus.add_master(name="uartbone", master=soc.uartbone.wishbone)
    module = MT48LC16M16(params["sys_clk_hz"], "1:1")
    soc.sdrphy = SDRAMPHYModel(module=module, data_width=SDRAM_BITS, clk_freq=params["sys_clk_hz"])
    soc.add_sdram("sdram", phy=soc.sdrphy, module=module, l2_cache_size=0)
    cd = "sys"
    if params["accel_clk_hz"] != params["sys_clk_hz"]:
        cd = accel_cd
        soc.crg.clock_domains.cd_accel = ClockDomain(accel_cd)  # migen's CRG is a plain Module
        soc.comb += soc.crg.cd_accel.clk.eq(platform.request("accel_clk"))
        soc.specials += AsyncResetSynchronizer(soc.crg.cd_accel, soc.crg.cd_sys.rst)
    return soc, cd
