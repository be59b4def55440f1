"""Accelerator: the top level generated from an AccelConfig, with the fixed
port interface of the Verilator harness (rtl_templates/verilator_harness.cpp.j2,
hwgen/tools/verilator_run.py): ``start`` in, ``done``/``busy`` out, one DRAM port,
four 64-bit performance counters, ``error`` out.

Inside: the :class:`~dian.hwgen.rtl.controller.Controller` (header, chunk loading,
IMEM, tokens), the :class:`~dian.hwgen.rtl.mem_engine.MemEngine` (DMA) and the
:class:`~dian.hwgen.rtl.cmp_engine.CmpEngine`, and the buffers IBUF, WBUF, PBUF,
OBUF, ABUF as :class:`amaranth.lib.memory.Memory` (one write, one synchronous
read port each, not transparent, so they infer block RAM). The DRAM port belongs to the controller
between chunks and to the MEM engine while a chunk runs.

Counters: ``perf_cycles`` counts every edge from the one sampling ``start``
to the one after which ``done`` is high; ``perf_dram_bytes_read/written``
count bus beats × bus bytes (header, chunk table, program and data alike);
``perf_busy_pe_cycles`` adds the CMP engine's busy-PE figure every cycle
(array-occupied PE-cycles: L·L per pixel of a GEMM weight block, T·L per DW
pixel of T taps).

``error`` (bit 0 the MEM engine's, bit 1 the CMP engine's; each sticky until
reset): an engine met an instruction it cannot run — an opcode that is not
its stream's, a DW without the depthwise dataflow, or (MEM) a DRAM read that
did not answer within ``dram_latency``. The engine halts, and the controller
ends the run: ``done`` rises the next cycle with ``error`` still high. A
program from the compiler never raises it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from ..accel_config import AccelConfig
from .cmp_engine import CmpEngine
from .controller import Controller
from .harness_ports import harness_ports
from .mem_engine import MemEngine

__all__ = ["TOP_NAME", "Accelerator"]

TOP_NAME = "dian_accel"


class Accelerator(wiring.Component):
    """The whole accelerator for ``cfg``."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        super().__init__(harness_ports(cfg.dram_bus_bits))

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        m.submodules.ctrl = ctrl = Controller(cfg)
        m.submodules.mem = mem = MemEngine(cfg)
        m.submodules.cmp = cmp = CmpEngine(cfg)
        bufs = {}
        for name, shape, depth in (
            ("ibuf", 8 * cfg.lanes, cfg.words("ibuf")),
            ("wbuf", 8 * cfg.lanes, cfg.words("wbuf")),
            ("pbuf", 8 * cfg.pbuf_entry_bytes, cfg.pbuf_entries),
            ("obuf", 8 * cfg.lanes, cfg.words("obuf")),
            ("abuf", cfg.acc_bits * cfg.lanes, cfg.words("abuf")),
        ):
            m.submodules[name] = bufs[name] = Memory(shape=shape, depth=depth, init=[])
        for name in ("ibuf", "wbuf", "pbuf"):
            w = bufs[name].write_port()
            m.d.comb += [
                w.en.eq(getattr(mem, f"{name}_w_en")),
                w.addr.eq(getattr(mem, f"{name}_w_addr")),
                w.data.eq(getattr(mem, f"{name}_w_data")),
            ]
        ob_r = bufs["obuf"].read_port(transparent_for=())
        m.d.comb += [ob_r.addr.eq(mem.obuf_r_addr), mem.obuf_r_data.eq(ob_r.data)]
        ob_w = bufs["obuf"].write_port()
        m.d.comb += [ob_w.en.eq(cmp.obuf_w_en), ob_w.addr.eq(cmp.obuf_w_addr), ob_w.data.eq(cmp.obuf_w_data)]
        ab_w = bufs["abuf"].write_port()
        m.d.comb += [ab_w.en.eq(cmp.abuf_w_en), ab_w.addr.eq(cmp.abuf_w_addr), ab_w.data.eq(cmp.abuf_w_data)]
        for name in ("ibuf", "wbuf", "abuf", "pbuf"):
            r = bufs[name].read_port(transparent_for=())
            m.d.comb += [r.addr.eq(getattr(cmp, f"{name}_r_addr")), getattr(cmp, f"{name}_r_data").eq(r.data)]

        m.d.comb += [
            ctrl.start.eq(self.start),
            ctrl.error.eq(mem.error | cmp.error),
            self.error.eq(Cat(mem.error, cmp.error)),
            self.done.eq(ctrl.done),
            self.busy.eq(ctrl.busy),
            mem.launch.eq(ctrl.launch),
            cmp.launch.eq(ctrl.launch),
            ctrl.mem_halted.eq(mem.halted),
            ctrl.cmp_halted.eq(cmp.halted),
            ctrl.mem_imem_addr.eq(mem.imem_addr),
            mem.imem_data.eq(ctrl.mem_imem_data),
            ctrl.cmp_imem_addr.eq(cmp.imem_addr),
            cmp.imem_data.eq(ctrl.cmp_imem_data),
            mem.tokens.eq(ctrl.tokens),
            cmp.tokens.eq(ctrl.tokens),
            ctrl.consume_mem.eq(mem.consume),
            ctrl.signal_mem.eq(mem.signal),
            ctrl.consume_cmp.eq(cmp.consume),
            ctrl.signal_cmp.eq(cmp.signal),
            ctrl.mem_resp_valid.eq(self.mem_resp_valid),
            ctrl.mem_resp_rdata.eq(self.mem_resp_rdata),
            mem.mem_resp_valid.eq(self.mem_resp_valid),
            mem.mem_resp_rdata.eq(self.mem_resp_rdata),
        ]
        with m.If(ctrl.running):
            m.d.comb += [
                self.mem_req_valid.eq(mem.mem_req_valid),
                self.mem_req_write.eq(mem.mem_req_write),
                self.mem_req_addr.eq(mem.mem_req_addr),
                self.mem_req_wdata.eq(mem.mem_req_wdata),
            ]
        with m.Else():
            m.d.comb += [self.mem_req_valid.eq(ctrl.mem_req_valid), self.mem_req_addr.eq(ctrl.mem_req_addr)]

        accepted = self.mem_req_valid & self.mem_req_ready
        with m.If(self.start | ctrl.busy):
            m.d.sync += self.perf_cycles.eq(self.perf_cycles + 1)
        with m.If(accepted & self.mem_req_write):
            m.d.sync += self.perf_dram_bytes_written.eq(self.perf_dram_bytes_written + cfg.bus_bytes)
        with m.If(accepted & ~self.mem_req_write):
            m.d.sync += self.perf_dram_bytes_read.eq(self.perf_dram_bytes_read + cfg.bus_bytes)
        m.d.sync += self.perf_busy_pe_cycles.eq(self.perf_busy_pe_cycles + cmp.busy_pe)
        return m
