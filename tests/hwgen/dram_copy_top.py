"""A stand-in accelerator top level with the fixed dian top-level interface.

It exists to test the toolchain layer (Verilator harness, Yosys/nextpnr
drivers) before the real accelerator lands: on ``start`` it reads ``n_words``
bus words from DRAM byte address ``src``, back to back, keeps them, then
writes each one, every byte plus 1 (mod 256), to ``dst``, back to back.

Timing, with the DRAM read latency ``L`` (a read presented in cycle t answers
in cycle t + L) and ``start`` high in cycle 0:

- reads are presented in cycles 1 .. N, responses arrive in cycles 1+L .. N+L;
- writes are presented in cycles N+L+1 .. 2N+L;
- ``done`` is high from cycle 2N+L+1 on.

So the harness's cycle count (rising edges from the one that samples
``start`` to the one that raises ``done``, inclusive) is ``2N + L + 1``, and
so is ``perf_cycles`` (it counts every edge at which ``start`` or ``busy`` is
high). ``perf_busy_pe_cycles`` counts the N write cycles (the "compute": the
byte-wise increment); the byte counters count N bus words each way.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import wiring

from dian.hwgen.rtl.harness_ports import harness_ports


class DramCopyTop(wiring.Component):
    """Ports: the dian accelerator top-level interface (see the module docstring)."""

    def __init__(self, *, bus_bits: int, n_words: int, src: int, dst: int) -> None:
        if bus_bits % 8 or bus_bits < 8:
            raise ValueError(f"bus_bits must be a positive multiple of 8, not {bus_bits}")
        if n_words < 1:
            raise ValueError(f"n_words must be >= 1, not {n_words}")
        self.bus_bits, self.n_words, self.src, self.dst = bus_bits, n_words, src, dst
        super().__init__(harness_ports(bus_bits))

    def elaborate(self, platform) -> Module:
        m = Module()
        n, bus_bytes = self.n_words, self.bus_bits // 8
        words = Array(Signal(self.bus_bits, name=f"word{i}") for i in range(n))
        issued = Signal(range(n + 1))  # requests presented in the current phase
        received = Signal(range(n + 1))  # read responses captured

        with m.FSM():
            with m.State("IDLE"), m.If(self.start):
                m.d.sync += [issued.eq(0), received.eq(0)]
                m.next = "READ"
            with m.State("READ"):
                m.d.comb += self.busy.eq(1)
                with m.If(issued != n):
                    m.d.comb += [
                        self.mem_req_valid.eq(1),
                        self.mem_req_addr.eq(self.src + issued * bus_bytes),
                    ]
                    m.d.sync += issued.eq(issued + 1)
                with m.If(self.mem_resp_valid):
                    m.d.sync += [words[received].eq(self.mem_resp_rdata), received.eq(received + 1)]
                    with m.If(received == n - 1):
                        m.d.sync += issued.eq(0)
                        m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [
                    self.busy.eq(1),
                    self.mem_req_valid.eq(1),
                    self.mem_req_write.eq(1),
                    self.mem_req_addr.eq(self.dst + issued * bus_bytes),
                ]
                for b in range(bus_bytes):
                    m.d.comb += self.mem_req_wdata[8 * b : 8 * b + 8].eq(words[issued][8 * b : 8 * b + 8] + 1)
                m.d.sync += issued.eq(issued + 1)
                with m.If(issued == n - 1):
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
                with m.If(self.start):
                    m.d.sync += [issued.eq(0), received.eq(0)]
                    m.next = "READ"

        accepted = self.mem_req_valid & self.mem_req_ready
        with m.If(self.start | self.busy):
            m.d.sync += self.perf_cycles.eq(self.perf_cycles + 1)
        with m.If(accepted & self.mem_req_write):
            m.d.sync += [
                self.perf_busy_pe_cycles.eq(self.perf_busy_pe_cycles + 1),
                self.perf_dram_bytes_written.eq(self.perf_dram_bytes_written + bus_bytes),
            ]
        with m.If(accepted & ~self.mem_req_write):
            m.d.sync += self.perf_dram_bytes_read.eq(self.perf_dram_bytes_read + bus_bytes)
        return m
