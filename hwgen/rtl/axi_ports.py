"""The accelerator top level's ports (the issue 13 bus contract), declared once so the real top
level, its CSR block and the test stand-in cannot drift apart; the Verilator harness
(rtl_templates/verilator_harness.cpp.j2) drives exactly these names.

- ``m_axi_*``: AXI4 master, INCR bursts, ``bus_bits`` data (all memory traffic); a single-ID
  master with one-bit ID ports all the same (``awid``/``arid`` always 0, ``bid``/``rid`` not
  read): AXI allows a master without them, but bus models and interconnects (cocotbext-axi's
  AxiRam, LiteX's AXIInterface, Vivado's crossbar) expect them, so the top connects with no shim;
- ``s_axil_*``: AXI4-Lite slave, 32-bit data, 12-bit byte addresses (the registers of
  hwgen/csr_map.py);
- ``irq``: level, IRQ_STATUS & IRQ_ENABLE.

Directions are the top level's (the AXI4 master's, the AXI4-Lite slave's)."""

from __future__ import annotations

from amaranth.lib.wiring import In, Member, Out

from ..csr_map import ADDR_BITS, DATA_BITS


def m_axi_members(bus_bits: int) -> dict[str, Member]:
    """The AXI4 master's members (Out: master to memory)."""
    if bus_bits not in (8, 16, 32, 64, 128, 256):
        raise ValueError(f"bus_bits must be a power of two from 8 to 256, not {bus_bits}")
    addr = {"valid": Out(1), "ready": In(1), "id": Out(1), "addr": Out(32), "len": Out(8), "size": Out(3)}
    addr |= {"burst": Out(2), "cache": Out(4), "prot": Out(3)}
    return {
        **{f"m_axi_ar{k}": v for k, v in addr.items()},
        "m_axi_rvalid": In(1),
        "m_axi_rready": Out(1),
        "m_axi_rid": In(1),
        "m_axi_rdata": In(bus_bits),
        "m_axi_rresp": In(2),
        "m_axi_rlast": In(1),
        **{f"m_axi_aw{k}": v for k, v in addr.items()},
        "m_axi_wvalid": Out(1),
        "m_axi_wready": In(1),
        "m_axi_wdata": Out(bus_bits),
        "m_axi_wstrb": Out(bus_bits // 8),
        "m_axi_wlast": Out(1),
        "m_axi_bvalid": In(1),
        "m_axi_bready": Out(1),
        "m_axi_bid": In(1),
        "m_axi_bresp": In(2),
    }


def s_axil_members() -> dict[str, Member]:
    """The AXI4-Lite slave's members (In: host to accelerator)."""
    return {
        "s_axil_awvalid": In(1),
        "s_axil_awready": Out(1),
        "s_axil_awaddr": In(ADDR_BITS),
        "s_axil_wvalid": In(1),
        "s_axil_wready": Out(1),
        "s_axil_wdata": In(DATA_BITS),
        "s_axil_wstrb": In(DATA_BITS // 8),
        "s_axil_bvalid": Out(1),
        "s_axil_bready": In(1),
        "s_axil_bresp": Out(2),
        "s_axil_arvalid": In(1),
        "s_axil_arready": Out(1),
        "s_axil_araddr": In(ADDR_BITS),
        "s_axil_rvalid": Out(1),
        "s_axil_rready": In(1),
        "s_axil_rdata": Out(DATA_BITS),
        "s_axil_rresp": Out(2),
    }


def top_ports(bus_bits: int) -> dict[str, Member]:
    """Every member of the top level: the AXI4 master, the AXI4-Lite slave and ``irq``."""
    return {**m_axi_members(bus_bits), **s_axil_members(), "irq": Out(1)}
