"""AcceleratorCore: the accelerator behind its register block — controller,
MEM and CMP engines, the five buffers and the AXI4 master — with the
run-control signals the CSR block (hwgen/rtl/csr.py) turns into registers:
``start``/``soft_reset`` pulses and ``base`` in; ``busy``, ``done``,
``ended``, ``error_code`` and the four performance counters out.

Buffers: WBUF, PBUF, OBUF, ABUF as :class:`amaranth.lib.memory.Memory`
(one write, one synchronous read port each, not transparent, so they infer
block RAM), IBUF as ``ibuf_banks`` of them (hwgen/rtl/ibuf_banks.py), and so FBUF
(with ``fbuf`` > 0: written and read by the CMP engine only; its reads ``j >= 1``, a DW's further
kernel rows, only with ``fuse_expand``, at the IBUF's addresses); LBUF (with
``lut_tables`` > 0) as one byte-wide memory per lane.
The read side of the AXI master belongs to the controller between chunks and
to the MEM engine while a chunk runs; the write side is the MEM engine's.

Counters (cleared by ``start``): ``cycles`` counts every edge from the one
that samples ``start`` to the one after which ``done`` is high;
``bytes_read``/``bytes_written`` count bus beats × bus bytes (header, chunk
table, program and data alike); ``busy_pe`` adds the CMP engine's busy-PE
figure every cycle (array-occupied PE-cycles: L·L per pixel of a GEMM weight
block, T·L per DW pixel of T taps).
"""

from __future__ import annotations

from amaranth.hdl import Module, ResetInserter
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from dian.errors import AccelConfigError

from ..accel_config import AccelConfig, rtl_misfit
from ..csr_map import COUNTERS
from .axi_master import AxiMaster
from .axi_ports import m_axi_members
from .cmp_engine import CmpEngine
from .controller import Controller
from .ibuf_banks import IbufBanks
from .mem_engine import MemEngine

__all__ = ["AcceleratorCore", "core_ports", "forward", "refuse_unbuilt_fields"]


# The request side of the AXI master, by direction: requester -> master, master -> requester.
_READ_TO_MASTER = ("rd_cmd_valid", "rd_cmd_addr", "rd_cmd_beats", "rd_ready")
_READ_FROM_MASTER = ("rd_cmd_ready", "rd_valid")
_WRITE_TO_MASTER = ("wr_cmd_valid", "wr_cmd_addr", "wr_cmd_beats", "wr_valid", "wr_data")
_WRITE_FROM_MASTER = ("wr_cmd_ready", "wr_ready")


def _request(axi, requester, to_master: tuple[str, ...], from_master: tuple[str, ...]) -> list:
    """The assignments that put ``requester`` on the master's request ports of those names."""
    return [getattr(axi, n).eq(getattr(requester, n)) for n in to_master] + [
        getattr(requester, n).eq(getattr(axi, n)) for n in from_master
    ]


def core_ports(bus_bits: int) -> dict[str, wiring.Member]:
    """The run-control members (as seen by the core) and the ``m_axi_*`` port."""
    return {
        "start": In(1),
        "soft_reset": In(1),
        "base": In(32),
        "busy": Out(1),
        "done": Out(1),
        "ended": Out(1),
        "error_code": Out(8),
        **{name: Out(64) for name in COUNTERS},
        **m_axi_members(bus_bits),
    }


def refuse_unbuilt_fields(cfg: AccelConfig) -> None:
    """Raise :class:`AccelConfigError` when ``cfg`` has a field this hardware does not implement
    (:func:`~dian.hwgen.accel_config.rtl_misfit`; none today): a design that silently ignored part of
    its config would run programs wrongly."""
    why = rtl_misfit(cfg)
    if why:
        raise AccelConfigError(why)


class AcceleratorCore(wiring.Component):
    """Everything of the accelerator for ``cfg`` but its register block."""

    def __init__(self, cfg: AccelConfig) -> None:
        refuse_unbuilt_fields(cfg)
        self.cfg = cfg
        super().__init__(core_ports(cfg.dram_bus_bits))

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        m.submodules.ctrl = ctrl = Controller(cfg)
        m.submodules.axi = axi = AxiMaster(cfg)
        # An abort (an error, a soft reset) holds both engines in reset while the bus drains; each engine
        # has a copy of the flag of its own (hwgen/rtl/replica.py).
        m.submodules.mem = mem = ResetInserter(ctrl.mem_reset)(MemEngine(cfg))
        m.submodules.cmp = cmp = ResetInserter(ctrl.cmp_reset)(CmpEngine(cfg))
        bufs = {}
        m.submodules.ibuf = ibuf = IbufBanks(cfg)
        m.d.comb += [
            ibuf.w_en.eq(mem.ibuf_w_en),
            ibuf.w_addr.eq(mem.ibuf_w_addr),
            ibuf.w_data.eq(mem.ibuf_w_data),
            ibuf.r_addr[0].eq(cmp.ibuf_r_addr),
            cmp.ibuf_r_data.eq(ibuf.r_data[0]),
        ]
        if cfg.ibuf_banks > 1:  # a DW's further kernel rows (the engine has the ports only then)
            _further_reads(m, ibuf, cmp, cmp.ibuf_x_data)
        if cfg.fbuf.bytes:  # the fusion buffer: the CMP engine's alone (docs/accelerator.md, "Fusion buffer")
            m.submodules.fbuf = fbuf = IbufBanks(cfg, "fbuf")
            m.d.comb += [
                fbuf.w_en.eq(cmp.fbuf_w_en),
                fbuf.w_addr.eq(cmp.fbuf_w_addr),
                fbuf.w_data.eq(cmp.fbuf_w_data),
                fbuf.r_addr[0].eq(cmp.fbuf_r_addr),
                cmp.fbuf_r_data.eq(fbuf.r_data[0]),
            ]
            if cfg.fuse_expand and cfg.ibuf_banks > 1:  # stage P2: a DW with sfb reads its further rows from FBUF
                _further_reads(m, fbuf, cmp, cmp.fbuf_x_data)
        for name, shape, depth in (
            ("wbuf", 8 * cfg.lanes, cfg.words("wbuf")),
            ("pbuf", 8 * cfg.pbuf_entry_bytes, cfg.pbuf_entries),
            ("obuf", 8 * cfg.lanes, cfg.words("obuf")),
            ("abuf", cfg.acc_bits * cfg.lanes, cfg.words("abuf")),
        ):
            m.submodules[name] = bufs[name] = Memory(shape=shape, depth=depth, init=[])
        for name in ("wbuf", "pbuf"):
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
        for name in ("wbuf", "abuf", "pbuf"):
            r = bufs[name].read_port(transparent_for=())
            m.d.comb += [r.addr.eq(getattr(cmp, f"{name}_r_addr")), getattr(cmp, f"{name}_r_data").eq(r.data)]
        # LBUF: a memory of bytes per lane (each lane looks up its own entry every cycle), written a
        # word at a time by LOAD_LUT.
        for i in range(cfg.lanes if cfg.lut_tables else 0):
            m.submodules[f"lbuf{i}"] = lane = Memory(shape=8, depth=cfg.lbuf_entries, init=[])
            w = lane.write_port()
            r = lane.read_port(transparent_for=())
            m.d.comb += [
                w.en.eq(mem.lbuf_w_en),
                w.addr.eq(mem.lbuf_w_addr),
                w.data.eq(mem.lbuf_w_data[8 * i : 8 * i + 8]),
                r.addr.eq(cmp.lbuf_r_addr[i]),
                cmp.lbuf_r_data[8 * i : 8 * i + 8].eq(r.data),
            ]

        # The AXI4 port is the master's.
        for name, member in m_axi_members(cfg.dram_bus_bits).items():
            forward(m, member, getattr(self, name), getattr(axi, name))

        m.d.comb += [
            ctrl.start.eq(self.start),
            ctrl.soft_reset.eq(self.soft_reset),
            self.busy.eq(ctrl.busy),
            self.done.eq(ctrl.done),
            self.ended.eq(ctrl.ended),
            self.error_code.eq(ctrl.error_code),
            ctrl.mem_error.eq(mem.error),
            ctrl.cmp_error.eq(cmp.error),
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
            # the bus master: status to the controller, the write side to the MEM engine
            axi.base.eq(self.base),
            axi.abort.eq(ctrl.bus_abort),
            axi.clear.eq(ctrl.bus_clear),
            ctrl.bus_idle.eq(axi.idle),
            ctrl.writes_idle.eq(axi.writes_idle),
            ctrl.read_error.eq(axi.read_error),
            ctrl.write_error.eq(axi.write_error),
            *_request(axi, mem, _WRITE_TO_MASTER, _WRITE_FROM_MASTER),
            mem.rd_data.eq(axi.rd_data),
            ctrl.rd_data.eq(axi.rd_data),
        ]
        # The read side: the MEM engine's while a chunk runs, else the controller's.
        with m.If(ctrl.running):
            m.d.comb += _request(axi, mem, _READ_TO_MASTER, _READ_FROM_MASTER)
        with m.Else():
            m.d.comb += _request(axi, ctrl, _READ_TO_MASTER, _READ_FROM_MASTER)

        with m.If(self.start):
            m.d.sync += [self.cycles.eq(1), self.busy_pe.eq(0), self.bytes_read.eq(0), self.bytes_written.eq(0)]
        with m.Else():
            with m.If(ctrl.busy):
                m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.If(axi.read_beat):
                m.d.sync += self.bytes_read.eq(self.bytes_read + cfg.bus_bytes)
            with m.If(axi.write_beat):
                m.d.sync += self.bytes_written.eq(self.bytes_written + cfg.bus_bytes)
            m.d.sync += self.busy_pe.eq(self.busy_pe + cmp.busy_pe)
        return m


def forward(m: Module, member: wiring.Member, port, inner) -> None:
    """A port to the same-named port of a submodule, in its direction."""
    m.d.comb += inner.eq(port) if member.flow == wiring.In else port.eq(inner)


def _further_reads(m: Module, buf: IbufBanks, cmp: CmpEngine, data) -> None:
    """Reads ``j >= 1`` of the banked ``buf`` (IBUF, or FBUF with stage P2): a DW's further kernel
    rows, at the CMP engine's ``ibuf_x_addr``/``ibuf_x_en`` (as wide as FBUF's addresses or wider: its
    words are in range), their words to the engine's ``data`` port."""
    for j in range(1, buf.banks):
        m.d.comb += [
            buf.r_addr[j].eq(cmp.ibuf_x_addr[j - 1]),
            buf.r_en[j].eq(cmp.ibuf_x_en[j - 1]),
            data[j - 1].eq(buf.r_data[j]),
        ]
