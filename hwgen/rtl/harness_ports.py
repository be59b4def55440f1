"""The accelerator's top-level port interface, the contract with the Verilator
harness (rtl_templates/verilator_harness.cpp.j2 documents the DRAM model
behind it). Declared once so the real top level and the test stand-in cannot
drift apart.

``error`` has one bit per engine, in the order of :data:`ERROR_SOURCES` (bit 0
the MEM engine, bit 1 the CMP engine): high from the cycle after the engine met
an instruction it cannot run until reset.

The harness has moved on to the issue 13 bus contract (AXI4 master, AXI4-Lite
slave, irq); this single-beat port goes with the old top level."""

from __future__ import annotations

from amaranth.lib.wiring import In, Member, Out

#: What raises each bit of the top level's ``error`` output (bit 0 first).
ERROR_SOURCES = ("MEM engine", "CMP engine")


def harness_ports(bus_bits: int) -> dict[str, Member]:
    """Signature members of a top level on a ``bus_bits``-wide DRAM port."""
    return {
        "start": In(1),
        "done": Out(1),
        "busy": Out(1),
        "mem_req_valid": Out(1),
        "mem_req_ready": In(1),
        "mem_req_write": Out(1),
        "mem_req_addr": Out(32),
        "mem_req_wdata": Out(bus_bits),
        "mem_resp_valid": In(1),
        "mem_resp_rdata": In(bus_bits),
        "perf_cycles": Out(64),
        "perf_busy_pe_cycles": Out(64),
        "perf_dram_bytes_read": Out(64),
        "perf_dram_bytes_written": Out(64),
        "error": Out(len(ERROR_SOURCES)),
    }
