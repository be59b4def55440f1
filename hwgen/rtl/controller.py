"""Controller: boots from the DRAM image header, loads each program chunk into
IMEM, launches both engines and waits for both to halt; owns IMEM and the
four token counters.

Timing (cycle 0 samples ``start``; ``λ`` = dram_latency, ``B`` = bus bytes).
A *range read* of ``n`` bus beats issues them in ``n`` consecutive cycles and
takes ``λ + n`` cycles (the last answer arrives in its last cycle):

* HEADER: cycles ``1 ..``: range read of the header's bytes 28..35 (chunk
  count, chunk table address), ``hdr_beats`` beats; then one DECODE cycle;
* per chunk: ENTRY range read of the 12-byte table entry at ``table + 12 i``
  (``entry_beats(i)`` beats), one DECODE cycle, CODE range read of the chunk's
  ``n * 32 / B`` beats into IMEM (one instruction per ``32 / B`` beats), one
  LAUNCH cycle (the engines, halted, present address 0 of their stream to
  IMEM; from LAUNCH on the read sees the chunk's last word too, written in
  CODE's last cycle), then RUN: the engines fetch in RUN's first cycle and may
  start their first instruction one cycle later;
* RUN ends in the cycle ``E`` in which both engines are halted (the chunk's
  end: one past the later END's start); ``E + 1`` is the next chunk's first
  ENTRY cycle, or the first cycle with ``done`` high. It also ends, for good,
  in a cycle with ``error`` high (an engine met an instruction it cannot
  run): ``done`` rises in the next one.

hwgen/timing.py turns this into ``boot_cycles``/``chunk_fetch_cycles``.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig
from ..image_format import CHUNK_ENTRY_BYTES, HDR_FIELDS_ADDR, HDR_FIELDS_BYTES
from ..isa import INSTRUCTION_BITS, INSTRUCTION_BYTES

__all__ = ["Controller"]

COUNTER_BITS = 16


def range_beats(addr: int, nbytes: int, bus_bytes: int) -> int:
    """Bus beats covering bytes ``addr .. addr + nbytes - 1``."""
    return (addr % bus_bytes + nbytes + bus_bytes - 1) // bus_bytes


class Controller(wiring.Component):
    """Chunk loader, IMEM (two read ports: MEM and CMP stream) and token counters."""

    def __init__(self, cfg: AccelConfig) -> None:
        if cfg.bus_bytes > INSTRUCTION_BYTES:
            raise ValueError(
                f"v1 RTL loads instructions with a bus of at most {INSTRUCTION_BYTES * 8} bits, not {cfg.dram_bus_bits}"
            )
        self.cfg = cfg
        depth = cfg.imem_instructions
        B = cfg.bus_bytes
        self.max_beats = max(
            range_beats(HDR_FIELDS_ADDR, HDR_FIELDS_BYTES, B), range_beats(max(0, B - 4), CHUNK_ENTRY_BYTES, B)
        )
        super().__init__(
            {
                "start": In(1),
                "error": In(1),  # an engine's (sticky) error
                "busy": Out(1),
                "done": Out(1),
                "running": Out(1),  # a chunk runs: the MEM engine owns the DRAM port
                "launch": Out(1),
                "mem_halted": In(1),
                "cmp_halted": In(1),
                "cmp_base": Out(range(depth + 1)),
                "mem_imem_addr": In(range(depth)),
                "mem_imem_data": Out(INSTRUCTION_BITS),
                "cmp_imem_addr": In(range(depth)),
                "cmp_imem_data": Out(INSTRUCTION_BITS),
                "consume_mem": In(4),
                "signal_mem": In(4),
                "consume_cmp": In(4),
                "signal_cmp": In(4),
                "tokens": Out(4),
                "mem_req_valid": Out(1),
                "mem_req_addr": Out(32),
                "mem_resp_valid": In(1),
                "mem_resp_rdata": In(8 * B),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        B = cfg.bus_bytes
        depth = cfg.imem_instructions
        m.submodules.imem = imem = Memory(shape=INSTRUCTION_BITS, depth=depth, init=[])
        wr = imem.write_port()
        # Not transparent: Yosys would build a transparent port as an address
        # register and merge the engines' instruction registers into the block
        # RAM, whose slow output would then feed their decode logic again.
        rd_mem, rd_cmp = imem.read_port(), imem.read_port()
        m.d.comb += [
            rd_mem.addr.eq(self.mem_imem_addr),
            self.mem_imem_data.eq(rd_mem.data),
            rd_cmp.addr.eq(self.cmp_imem_addr + self.cmp_base),
            self.cmp_imem_data.eq(rd_cmp.data),
        ]

        # Token counters, with their "not zero" flags kept in registers of
        # their own (the engines' decode waits on them). The engines' consume
        # comes late in the cycle (decode -> ready): after it only muxes, the
        # +1 / -1 and the "is one" test are computed from the registers.
        counts = [Signal(COUNTER_BITS, name=f"token{t}") for t in range(4)]
        for t, cnt in enumerate(counts):
            up = (self.signal_mem[t] | self.signal_cmp[t]) & ~(self.consume_mem[t] | self.consume_cmp[t])
            down = (self.consume_mem[t] | self.consume_cmp[t]) & ~(self.signal_mem[t] | self.signal_cmp[t])
            nonzero = Signal(name=f"token{t}_nonzero")
            m.d.comb += self.tokens[t].eq(nonzero)
            with m.If(up):
                m.d.sync += [cnt.eq(cnt + 1), nonzero.eq(1)]
            with m.Elif(down):
                m.d.sync += [cnt.eq(cnt - 1), nonzero.eq(cnt != 1)]

        # Range reads: requests from req_addr, req_left of them; answers counted in resp_left.
        req_addr, req_left = Signal(32), Signal(range(depth * INSTRUCTION_BYTES // B + self.max_beats + 1))
        resp_left = Signal.like(req_left)
        beats = Array(Signal(8 * B, name=f"beat{k}") for k in range(self.max_beats))
        resp_idx = Signal(range(self.max_beats))
        offset = Signal(range(B))
        flat = Cat(*beats) >> (offset * 8)
        with m.If(req_left != 0):
            m.d.comb += [self.mem_req_valid.eq(1), self.mem_req_addr.eq(req_addr)]
            m.d.sync += [req_addr.eq(req_addr + B), req_left.eq(req_left - 1)]
        resp = self.mem_resp_valid & (resp_left != 0)
        last_resp = resp & (resp_left == 1)

        def read(addr, n_beats):
            m.d.sync += [
                req_addr.eq(addr & ~(B - 1)),
                req_left.eq(n_beats),
                resp_left.eq(n_beats),
                resp_idx.eq(0),
                offset.eq(addr & (B - 1)),
            ]

        def entry_beats(addr):
            return ((addr & (B - 1)) + CHUNK_ENTRY_BYTES + B - 1) >> (B.bit_length() - 1)

        n_chunks, entry_addr = Signal(32), Signal(32)
        n_mem, n_cmp = Signal(range(depth + 1)), Signal(range(depth + 1))
        per_instr = INSTRUCTION_BYTES // B
        gather = Signal(INSTRUCTION_BITS)
        nxt_gather = Cat(gather[8 * B :], self.mem_resp_rdata) if per_instr > 1 else self.mem_resp_rdata
        ibeat = Signal(range(per_instr))
        waddr = Signal(range(depth))

        with m.FSM():
            with m.State("IDLE"), m.If(self.start):
                read(HDR_FIELDS_ADDR, range_beats(HDR_FIELDS_ADDR, HDR_FIELDS_BYTES, B))
                m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += self.busy.eq(1)
                with m.If(resp):
                    m.d.sync += [
                        beats[resp_idx].eq(self.mem_resp_rdata),
                        resp_idx.eq(resp_idx + 1),
                        resp_left.eq(resp_left - 1),
                    ]
                with m.If(last_resp):
                    m.next = "HEADER_DECODE"
            with m.State("HEADER_DECODE"):
                m.d.comb += self.busy.eq(1)
                table = flat[32:64]
                m.d.sync += [n_chunks.eq(flat[0:32]), entry_addr.eq(table)]
                with m.If(flat[0:32] == 0):
                    m.next = "DONE"
                with m.Else():
                    read(table, entry_beats(table))
                    m.next = "ENTRY"
            with m.State("ENTRY"):
                m.d.comb += self.busy.eq(1)
                with m.If(resp):
                    m.d.sync += [
                        beats[resp_idx].eq(self.mem_resp_rdata),
                        resp_idx.eq(resp_idx + 1),
                        resp_left.eq(resp_left - 1),
                    ]
                with m.If(last_resp):
                    m.next = "ENTRY_DECODE"
            with m.State("ENTRY_DECODE"):
                m.d.comb += self.busy.eq(1)
                nm, nc = flat[32:64], flat[64:96]
                m.d.sync += [
                    n_mem.eq(nm),
                    n_cmp.eq(nc),
                    self.cmp_base.eq(nm),
                    ibeat.eq(0),
                    waddr.eq(0),
                    n_chunks.eq(n_chunks - 1),
                    entry_addr.eq(entry_addr + CHUNK_ENTRY_BYTES),
                ]
                read(flat[0:32], (nm + nc) * per_instr)
                m.next = "CODE"
            with m.State("CODE"):
                m.d.comb += self.busy.eq(1)
                with m.If(resp):
                    m.d.sync += [gather.eq(nxt_gather), resp_left.eq(resp_left - 1)]
                    with m.If(ibeat == per_instr - 1):
                        m.d.comb += [wr.en.eq(1), wr.addr.eq(waddr), wr.data.eq(nxt_gather)]
                        m.d.sync += [ibeat.eq(0), waddr.eq(waddr + 1)]
                    with m.Else():
                        m.d.sync += ibeat.eq(ibeat + 1)
                with m.If(last_resp):
                    m.next = "LAUNCH"
            with m.State("LAUNCH"):
                # One cycle after the last IMEM write, so the engines' reads of
                # their first words (presented from now on) see every write.
                m.d.comb += [self.busy.eq(1), self.launch.eq(1)]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), self.running.eq(1)]
                with m.If(self.error):
                    m.next = "DONE"
                with m.Elif(self.mem_halted & self.cmp_halted):
                    with m.If(n_chunks == 0):
                        m.next = "DONE"
                    with m.Else():
                        read(entry_addr, entry_beats(entry_addr))
                        m.next = "ENTRY"
            with m.State("DONE"):
                m.d.comb += self.done.eq(1)
        return m
