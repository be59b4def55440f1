"""IbufBanks: the IBUF as ``banks`` block RAMs (docs/accelerator.md, "Depthwise v2"), word ``a``
in bank ``a mod banks`` at row ``a // banks``, so that a DW instruction reads one word from each
bank in a cycle (the kernel rows of one window column) while every other user sees one memory.
The fusion buffer (``buffer="fbuf"``; docs/accelerator.md, "Fusion buffer") is built the same way:
with fusion stage P2 (``AccelConfig.fuse_expand``) a DW reads it as it reads the IBUF, every read
used; without P2 only its read 0 is (GEMM ``sfb``, ADD ``bfb``).

Ports (``banks`` = ``AccelConfig.ibuf_banks``, ``depth`` = the buffer's words):

* ``w_en``/``w_addr``/``w_data``: one word written at the edge (the DMA), into its bank;
* ``r_addr[j]`` (j < banks) and ``r_en``: read ``j`` asks for word ``r_addr[j]``; read 0 always
  (every reader's port: GEMM, the PPU instructions, a DW's first kernel row), read ``j >= 1``
  only with bit ``j`` of ``r_en`` (a DW's further kernel rows). The enabled reads must name
  words of distinct banks (the lowering's odd row pitch makes them so, and sim/machine rejects
  a program that breaks it); a bank no enabled read ``j >= 1`` names reads for read 0;
* ``r_data[j]``: the word of read ``j``, one edge later (the memories are synchronous and not
  transparent, as one IBUF was), through a ``banks``-way select of the bank that held it.

With one bank this is the plain memory of v1. Latency: ``LATENCY`` = 1, as a block RAM read.
"""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig

__all__ = ["IbufBanks"]


class IbufBanks(wiring.Component):
    """The banked IBUF (or, with ``buffer="fbuf"``, FBUF) of ``cfg`` (ports and timing in the module
    docstring)."""

    LATENCY = 1

    def __init__(self, cfg: AccelConfig, buffer: str = "ibuf") -> None:
        if buffer not in ("ibuf", "fbuf"):
            raise ValueError(f"IbufBanks builds the 'ibuf' or the 'fbuf', not {buffer!r}")
        self.cfg = cfg
        self.banks = cfg.ibuf_banks
        self.depth = cfg.words(buffer)
        if self.depth < self.banks or self.depth % self.banks:
            raise ValueError(f"{buffer.upper()} depth {self.depth} is not a multiple of its {self.banks} banks")
        word = 8 * cfg.lanes
        super().__init__(
            {
                "w_en": In(1),
                "w_addr": In(range(self.depth)),
                "w_data": In(word),
                "r_addr": In(data.ArrayLayout(range(self.depth), self.banks)),
                "r_en": In(self.banks),
                "r_data": Out(data.ArrayLayout(word, self.banks)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        nb, shift = self.banks, self.banks.bit_length() - 1

        def bank(addr):
            return addr[:shift] if shift else C(0, 1)

        def row(addr):
            return addr[shift:] if shift else addr

        ports = []
        for b in range(nb):
            m.submodules[f"bank{b}"] = mem = Memory(shape=8 * self.cfg.lanes, depth=self.depth // nb, init=[])
            w = mem.write_port()
            m.d.comb += [
                w.en.eq(self.w_en & (bank(self.w_addr) == b)),
                w.addr.eq(row(self.w_addr)),
                w.data.eq(self.w_data),
            ]
            r = mem.read_port(transparent_for=())
            addr = row(self.r_addr[0])  # bank b reads for read 0 unless an enabled read j >= 1 names it
            for j in range(1, nb):
                addr = Mux(self.r_en[j] & (bank(self.r_addr[j]) == b), row(self.r_addr[j]), addr)
            m.d.comb += r.addr.eq(addr)
            ports.append(r)
        # Read j's word: from the bank its address named, one edge ago.
        for j in range(nb):
            held = Signal(range(max(2, nb)), name=f"bank_of_{j}")
            m.d.sync += held.eq(bank(self.r_addr[j]))
            with m.Switch(held):
                for b, r in enumerate(ports):
                    with m.Case(b):
                        m.d.comb += self.r_data[j].eq(r.data)
        return m
