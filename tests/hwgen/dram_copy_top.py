"""A stand-in accelerator top level with the issue 13 ports (hwgen/rtl/axi_ports.py), to test the
Verilator harness and the tool drivers before the real accelerator has them: an AXI copy engine.

On START it reads ``n_words`` bus words from BASE_ADDR + ``src`` in INCR bursts of ``burst`` beats
(the last one shorter), every AR as soon as the previous one is accepted (several outstanding),
rready always 1; keeps them; then writes each, every byte plus 1 (mod 256), to BASE_ADDR + ``dst``
in bursts of the same sizes, AW and W streams each as fast as the memory takes them, bready always
1; once every B is in, the run ends. An rresp (bresp) that is not OKAY ends the run with READ_ERROR
(WRITE_ERROR, unless a READ_ERROR came first) after the copy has run its course. The addresses are
not checked: a misaligned ``src`` or a burst across 4 KiB is what the harness must catch.
Registers: hwgen/rtl/csr.py's ``Csr`` (config hash all zeros).

Timing on the ideal memory (latency L, N = n_words), with the START write accepted at edge s and
so ``start`` high in cycle s+1 — cycle 0 below:

- AR j (j = 0 ..) in cycle 1+j; beat i of the stream in cycle 1+L+i (burst j's beat k is due at
  max(1+j+L+k, the previous beat + 1) = 1+L+i since j+k <= i), the last in L+N;
- AW j in cycle W0+j, W beat i in W0+i, W0 = L+N+1; each B comes L after its last W beat (its AW
  is older), the last B in W0+N-1+L;
- ``done`` (STATUS.DONE) and ``ended`` from cycle D = W0+N+L = 2N+2L+1 on (``ended`` for that cycle).

So CYCLES = (edges s .. s+D, inclusive) = D+1 = 2N+2L+2, independent of ``burst``; irq rises in
cycle D+1 (IRQ_STATUS is set at edge D), so the harness's ``cycles`` = 2N+2L+3. BUSY_PE counts the
N W handshakes ("the compute"), BYTES_READ and BYTES_WRITTEN N bus words each. CYCLES is 2 at edge
0 (edges s and s+1) and counts every edge while busy (cycles 1 .. D-1).
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from dian.hwgen.csr_map import COUNTERS, ErrorCode, Resp
from dian.hwgen.rtl.axi_ports import s_axil_members, top_ports
from dian.hwgen.rtl.csr import Csr


def ideal_cycles(n_words: int, latency: int) -> int:
    """The CYCLES register after a run on the ideal memory (hand-derived in the module docstring)."""
    return 2 * n_words + 2 * latency + 2


class DramCopyTop(wiring.Component):
    """Ports: hwgen/rtl/axi_ports.py ``top_ports(bus_bits)``; behaviour and timing: the module docstring."""

    def __init__(self, *, bus_bits: int, n_words: int, src: int, dst: int, burst: int = 4) -> None:
        if n_words < 1 or not 1 <= burst <= 256:
            raise ValueError(f"n_words must be >= 1 and burst 1..256, not {n_words} and {burst}")
        self.bus_bits, self.n_words, self.src, self.dst, self.burst = bus_bits, n_words, src, dst, burst
        super().__init__(top_ports(bus_bits))

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.csr = csr = Csr(bytes(16))
        for name, member in {**s_axil_members(), "irq": None}.items():
            outer, inner = getattr(self, name), getattr(csr, name)
            m.d.comb += inner.eq(outer) if member is not None and member.flow == In else outer.eq(inner)

        n, nbytes, size = self.n_words, self.bus_bits // 8, (self.bus_bits // 8).bit_length() - 1
        bursts = -(-n // self.burst)
        words = Array(Signal(self.bus_bits, name=f"word{i}") for i in range(n))
        ar_n, aw_n = Signal(range(bursts + 1)), Signal(range(bursts + 1))
        r_n, w_n, b_n = Signal(range(n + 1)), Signal(range(n + 1)), Signal(range(bursts + 1))
        w_k = Signal(range(self.burst))  # W beats of the current burst so far
        error = Signal(8)
        cycles, busy_pe, bytes_read, bytes_written = (Signal(64, name=name) for name in COUNTERS)
        for prefix, count, offset in (("ar", ar_n, self.src), ("aw", aw_n, self.dst)):
            m.d.comb += [
                getattr(self, f"m_axi_{prefix}addr").eq(csr.base + offset + count * (self.burst * nbytes)),
                getattr(self, f"m_axi_{prefix}len").eq(
                    Mux(count == bursts - 1, n - (bursts - 1) * self.burst - 1, self.burst - 1)
                ),
                getattr(self, f"m_axi_{prefix}size").eq(size),
                getattr(self, f"m_axi_{prefix}burst").eq(1),
                getattr(self, f"m_axi_{prefix}cache").eq(0b0011),
            ]
        m.d.comb += [self.m_axi_rready.eq(1), self.m_axi_bready.eq(1), self.m_axi_wstrb.eq((1 << nbytes) - 1)]
        for b in range(nbytes):
            m.d.comb += self.m_axi_wdata[8 * b : 8 * b + 8].eq(words[w_n][8 * b : 8 * b + 8] + 1)
        m.d.comb += self.m_axi_wlast.eq((w_k == self.burst - 1) | (w_n == n - 1))

        r_hs = self.m_axi_rvalid & self.m_axi_rready
        w_hs = self.m_axi_wvalid & self.m_axi_wready
        b_hs = self.m_axi_bvalid & self.m_axi_bready
        m.d.sync += csr.ended.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                self._start(m, csr, ar_n, aw_n, r_n, w_n, w_k, b_n, error, busy_pe, bytes_read, bytes_written, cycles)
            with m.State("READ"):
                m.d.comb += [csr.busy.eq(1), self.m_axi_arvalid.eq(ar_n != bursts)]
                with m.If(self.m_axi_arvalid & self.m_axi_arready):
                    m.d.sync += ar_n.eq(ar_n + 1)
                with m.If(r_hs):
                    m.d.sync += [words[r_n].eq(self.m_axi_rdata), r_n.eq(r_n + 1), bytes_read.eq(bytes_read + nbytes)]
                    with m.If((self.m_axi_rresp != Resp.OKAY) & (error == 0)):
                        m.d.sync += error.eq(ErrorCode.READ_ERROR)
                    with m.If(r_n == n - 1):
                        m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [
                    csr.busy.eq(1),
                    self.m_axi_awvalid.eq(aw_n != bursts),
                    self.m_axi_wvalid.eq(w_n != n),
                ]
                with m.If(self.m_axi_awvalid & self.m_axi_awready):
                    m.d.sync += aw_n.eq(aw_n + 1)
                with m.If(w_hs):
                    m.d.sync += [
                        w_n.eq(w_n + 1),
                        w_k.eq(Mux(self.m_axi_wlast, 0, w_k + 1)),
                        busy_pe.eq(busy_pe + 1),
                        bytes_written.eq(bytes_written + nbytes),
                    ]
                with m.If(b_hs):
                    m.d.sync += b_n.eq(b_n + 1)
                    with m.If((self.m_axi_bresp != Resp.OKAY) & (error == 0)):
                        m.d.sync += error.eq(ErrorCode.WRITE_ERROR)
                    with m.If(b_n == bursts - 1):
                        m.d.sync += csr.ended.eq(1)
                        m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += csr.done.eq(1)
                self._start(m, csr, ar_n, aw_n, r_n, w_n, w_k, b_n, error, busy_pe, bytes_read, bytes_written, cycles)
        with m.If(csr.busy):
            m.d.sync += cycles.eq(cycles + 1)
        m.d.comb += [
            csr.error_code.eq(error),
            csr.cycles.eq(cycles),
            csr.busy_pe.eq(busy_pe),
            csr.bytes_read.eq(bytes_read),
            csr.bytes_written.eq(bytes_written),
        ]
        return m

    @staticmethod
    def _start(m: Module, csr: Csr, *state: Signal) -> None:
        """On ``start``: every count and counter 0 but CYCLES, 2 (the START edge and this one); READ."""
        with m.If(csr.start):
            m.d.sync += [x.eq(0) for x in state[:-1]]
            m.d.sync += state[-1].eq(2)
            m.next = "READ"
