"""MemEngine: the in-order interpreter of a chunk's MEM stream (LOAD_ACT,
LOAD_WGT, LOAD_PRM, STORE_ACT, END) and the DMA side of the DRAM port.

Sequencing (shared with :class:`~dian.hwgen.rtl.cmp_engine.CmpEngine`): FETCH
(one cycle) then DECODE, which starts the instruction as soon as every token
of its ``wait`` mask is available (consuming them) — that DECODE cycle is the
instruction's start cycle ``S`` of hwgen/timing.py. DECODE reads an
*instruction register* loaded every cycle from the IMEM port, which always
presents ``pc`` (0 while halted): the block RAM's slow output then ends at a
flip-flop, not in the decode logic. ``pc`` advances at ``S``, so the next word
is in the register from ``S + 3``, in time for a DECODE in ``S + D + 1`` since
every instruction but END lasts ``D >= 2`` cycles; after a launch the first
word was read in the launch cycle itself. The timing is therefore that of a
decode straight from the port. An
instruction of duration ``D`` executes in cycles ``S .. S+D-1`` and raises
its ``signal`` tokens at the edge ending ``S+D-1``, so a waiter may start in
``S+D`` (= its "end"); the engine fetches in ``S+D`` and starts its next
instruction at ``S+D+1`` at the earliest (``ISSUE_GAP`` = 1). END lasts one
cycle and halts the engine until the controller launches the next chunk.

Loads (a box of ``n_c x n_y x n_x`` words; LOAD_WGT/LOAD_PRM are a 1 x 1 x n
box): from ``S+1``, one *slot* a cycle in box order: a padding word is one
slot without a request, a DRAM word is ``word_beats`` slots each issuing one
bus read (``B`` bytes). Each slot also enters a delay line of ``dram_latency``
stages, so it comes out exactly when its read answers; there the response
side assembles beats into words (little-endian, first beat lowest) and writes
each finished (or padding) word to the destination buffer, densely from
``dst``. The last slot leaving the line ends the instruction: ``D = 1 + slots
+ dram_latency``. Stores: ``S+1`` reads the first OBUF word, then one bus
write (posted) a cycle: ``D = 2 + n_words * beats``.

The DRAM address of a box walks ``dram + c*s_c + y*s_y + x*L + beat*B`` with
adders only (channel base, row base, current address).

``error`` (sticky until reset): an opcode that is not a MEM instruction (the
engine halts), or a DRAM read whose answer is not there ``dram_latency``
cycles after its request (a memory that breaks the harness's timing).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, LoadAct, LoadPrm, LoadWgt, Opcode, StoreAct
from .decode import fields, opcode, signal_mask, wait_mask

__all__ = ["MemEngine"]

_IBUF, _WBUF, _PBUF = 0, 1, 2


class MemEngine(wiring.Component):
    """The MEM engine of ``cfg`` (ports: see the module docstring and the signature)."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        L, B = cfg.lanes, cfg.bus_bytes
        self.beats = cfg.word_bytes // B
        self.prm_beats = cfg.pbuf_entry_bytes // B
        super().__init__(
            {
                "launch": In(1),
                "halted": Out(1),
                "imem_addr": Out(range(cfg.imem_instructions)),
                "imem_data": In(INSTRUCTION_BITS),
                "tokens": In(4),  # token counters > 0
                "consume": Out(4),
                "signal": Out(4),
                "mem_req_valid": Out(1),
                "mem_req_write": Out(1),
                "mem_req_addr": Out(32),
                "mem_req_wdata": Out(8 * B),
                "mem_resp_valid": In(1),
                "mem_resp_rdata": In(8 * B),
                "ibuf_w_en": Out(1),
                "ibuf_w_addr": Out(range(cfg.words("ibuf"))),
                "ibuf_w_data": Out(8 * L),
                "wbuf_w_en": Out(1),
                "wbuf_w_addr": Out(range(cfg.words("wbuf"))),
                "wbuf_w_data": Out(8 * L),
                "pbuf_w_en": Out(1),
                "pbuf_w_addr": Out(range(cfg.pbuf_entries)),
                "pbuf_w_data": Out(8 * cfg.pbuf_entry_bytes),
                "obuf_r_addr": Out(range(cfg.words("obuf"))),
                "obuf_r_data": In(8 * L),
                "error": Out(1),  # sticky: not a MEM opcode, or a read that did not answer in time
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, enc = self.cfg, self.enc
        L, B = cfg.lanes, cfg.bus_bytes
        # DECODE reads the instruction register, never the IMEM port (see the docstring).
        word = Signal(INSTRUCTION_BITS)
        m.d.sync += word.eq(self.imem_data)
        cw = max(enc.widths[k] for k in ("ibn", "wbn", "pbn", "obn"))
        aw = max(enc.widths[k] for k in ("ib", "wb", "pb", "ob"))

        pc = Signal(range(cfg.imem_instructions))
        sig = Signal(4)
        dest = Signal(2)
        prm = Signal()  # word_beats = prm_beats (else beats)
        n_c, n_y, n_x = Signal(cw), Signal(cw), Signal(cw)  # box size - 1 (compared, never subtracted)
        pad_top, pad_left = Signal(cw), Signal(cw)
        y_hi, x_hi = Signal(cw), Signal(cw)  # first padding row / column past the real ones
        s_c, s_y = Signal(32), Signal(32)
        pad_value = Signal(8)
        c, y, x = Signal(cw), Signal(cw), Signal(cw)
        beat = Signal(range(max(self.beats, self.prm_beats)))
        chan_base, row_base, addr = Signal(32), Signal(32), Signal(32)
        waddr = Signal(aw)
        rbeat = Signal(range(max(self.beats, self.prm_beats)))
        gather = Signal(8 * cfg.pbuf_entry_bytes)

        m.d.comb += self.imem_addr.eq(pc)

        # Delay line: a slot issued in cycle t comes out in cycle t + dram_latency.
        dl_in_valid, dl_in_pad, dl_in_last = Signal(), Signal(), Signal()
        stage = Cat(dl_in_valid, dl_in_pad, dl_in_last)
        for k in range(cfg.dram_latency):
            nxt = Signal(3, name=f"dl{k}")
            m.d.sync += nxt.eq(stage)
            stage = nxt
        dl_valid, dl_pad, dl_last = stage[0], stage[1], stage[2]

        # Box walk (request side of loads, address side of stores).
        last_beat = Mux(prm, beat == self.prm_beats - 1, beat == self.beats - 1)
        row_real = (y >= pad_top) & (y < y_hi)
        word_pad = ~row_real | (x < pad_left) | (x >= x_hi)
        end_x, end_y, end_c = x == n_x, y == n_y, c == n_c

        def advance_word(real_row):
            """Step the walk to the next word of the box (after its last slot)."""
            with m.If(~end_x):
                m.d.sync += x.eq(x + 1)
            with m.Else():
                m.d.sync += x.eq(0)
                with m.If(~end_y):
                    m.d.sync += y.eq(y + 1)
                    nxt_row = Mux(real_row, row_base + s_y, row_base)
                    m.d.sync += [row_base.eq(nxt_row), addr.eq(nxt_row)]
                with m.Else():
                    m.d.sync += [
                        y.eq(0),
                        c.eq(c + 1),
                        chan_base.eq(chan_base + s_c),
                        row_base.eq(chan_base + s_c),
                        addr.eq(chan_base + s_c),
                    ]

        # Response side of loads: runs whenever the delay line yields a slot.
        nxt_gather = Cat(gather[8 * B :], self.mem_resp_rdata)
        top = len(gather)
        w_word = Mux(dl_pad, Cat(*[pad_value] * L), nxt_gather[top - 8 * L :])
        word_done = Signal()
        with m.If(dl_valid & ~dl_pad):
            m.d.sync += gather.eq(nxt_gather)
            with m.If(~self.mem_resp_valid):
                m.d.sync += self.error.eq(1)
            with m.If(Mux(prm, rbeat == self.prm_beats - 1, rbeat == self.beats - 1)):
                m.d.comb += word_done.eq(1)
                m.d.sync += rbeat.eq(0)
            with m.Else():
                m.d.sync += rbeat.eq(rbeat + 1)
        write = dl_valid & (dl_pad | word_done)
        with m.If(write):
            m.d.sync += waddr.eq(waddr + 1)
        m.d.comb += [
            self.ibuf_w_en.eq(write & (dest == _IBUF)),
            self.ibuf_w_addr.eq(waddr),
            self.ibuf_w_data.eq(w_word),
            self.wbuf_w_en.eq(write & (dest == _WBUF)),
            self.wbuf_w_addr.eq(waddr),
            self.wbuf_w_data.eq(w_word),
            self.pbuf_w_en.eq(write & (dest == _PBUF)),
            self.pbuf_w_addr.eq(waddr),
            self.pbuf_w_data.eq(nxt_gather),
        ]

        raddr = Signal(range(cfg.words("obuf")))
        with m.FSM():
            with m.State("HALT"):
                m.d.comb += self.halted.eq(1)
                with m.If(self.launch):
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.next = "DECODE"
            with m.State("DECODE"):
                op = opcode(word)
                ready = (wait_mask(word) & ~self.tokens) == 0
                with m.If(ready):
                    m.d.comb += self.consume.eq(wait_mask(word))
                    m.d.sync += [
                        pc.eq(pc + 1),
                        sig.eq(signal_mask(word)),
                        c.eq(0),
                        y.eq(0),
                        x.eq(0),
                        beat.eq(0),
                        rbeat.eq(0),
                        pad_top.eq(0),
                        pad_left.eq(0),
                        prm.eq(0),
                    ]
                    with m.Switch(op):
                        with m.Case(Opcode.LOAD_ACT):
                            f = fields(enc, LoadAct, word)
                            self._start_box(
                                m,
                                f["dram"],
                                f["n_c"],
                                f["n_y"],
                                f["n_x"],
                                f["s_c"],
                                f["s_y"],
                                (n_c, n_y, n_x, s_c, s_y, chan_base, row_base, addr),
                            )
                            m.d.sync += [
                                dest.eq(_IBUF),
                                waddr.eq(f["dst"]),
                                pad_top.eq(f["pad_top"]),
                                pad_left.eq(f["pad_left"]),
                                pad_value.eq(f["pad_value"]),
                                y_hi.eq(f["n_y"] - f["pad_bottom"]),
                                x_hi.eq(f["n_x"] - f["pad_right"]),
                            ]
                            m.next = "LOAD"
                        with m.Case(Opcode.LOAD_WGT, Opcode.LOAD_PRM):
                            is_w = op == Opcode.LOAD_WGT
                            fw, fp = fields(enc, LoadWgt, word), fields(enc, LoadPrm, word)
                            n = Mux(is_w, fw["n_words"], fp["n_entries"])
                            self._start_box(
                                m, fw["dram"], 1, 1, n, 0, 0, (n_c, n_y, n_x, s_c, s_y, chan_base, row_base, addr)
                            )
                            m.d.sync += [
                                dest.eq(Mux(is_w, _WBUF, _PBUF)),
                                prm.eq(~is_w),
                                waddr.eq(Mux(is_w, fw["dst"], fp["dst"])),
                                y_hi.eq(1),
                                x_hi.eq(n),
                            ]
                            m.next = "LOAD"
                        with m.Case(Opcode.STORE_ACT):
                            f = fields(enc, StoreAct, word)
                            self._start_box(
                                m,
                                f["dram"],
                                f["n_c"],
                                f["n_y"],
                                f["n_x"],
                                f["s_c"],
                                f["s_y"],
                                (n_c, n_y, n_x, s_c, s_y, chan_base, row_base, addr),
                            )
                            m.d.sync += raddr.eq(f["src"])
                            m.next = "STORE_FIRST"
                        with m.Case(Opcode.END):
                            m.d.comb += self.signal.eq(signal_mask(word))
                            m.d.sync += pc.eq(0)
                            m.next = "HALT"
                        with m.Default():
                            m.d.sync += [self.error.eq(1), pc.eq(0)]
                            m.next = "HALT"
            with m.State("LOAD"):
                with m.If(word_pad):
                    m.d.comb += [dl_in_valid.eq(1), dl_in_pad.eq(1)]
                with m.Else():
                    m.d.comb += [dl_in_valid.eq(1), self.mem_req_valid.eq(1), self.mem_req_addr.eq(addr)]
                    m.d.sync += addr.eq(addr + B)
                slot_done = word_pad | last_beat
                with m.If(slot_done):
                    m.d.sync += beat.eq(0)
                    advance_word(row_real)
                    with m.If(end_x & end_y & end_c):
                        m.d.comb += dl_in_last.eq(1)
                        m.next = "LOAD_WAIT"
                with m.Else():
                    m.d.sync += beat.eq(beat + 1)
            with m.State("LOAD_WAIT"), m.If(dl_valid & dl_last):
                m.d.comb += self.signal.eq(sig)
                m.next = "FETCH"
            with m.State("STORE_FIRST"):
                m.d.comb += self.obuf_r_addr.eq(raddr)
                m.next = "STORE"
            with m.State("STORE"):
                m.d.comb += [
                    self.mem_req_valid.eq(1),
                    self.mem_req_write.eq(1),
                    self.mem_req_addr.eq(addr),
                    self.mem_req_wdata.eq(self.obuf_r_data.word_select(beat, 8 * B)),
                ]
                m.d.sync += addr.eq(addr + B)
                m.d.comb += self.obuf_r_addr.eq(Mux(last_beat, raddr + 1, raddr))
                with m.If(last_beat):
                    m.d.sync += [beat.eq(0), raddr.eq(raddr + 1)]
                    advance_word(Const(1))
                    with m.If(end_x & end_y & end_c):
                        m.d.comb += self.signal.eq(sig)
                        m.next = "FETCH"
                with m.Else():
                    m.d.sync += beat.eq(beat + 1)
        return m

    @staticmethod
    def _start_box(m: Module, dram, nc, ny, nx, sc, sy, regs) -> None:
        n_c, n_y, n_x, s_c, s_y, chan_base, row_base, addr = regs
        m.d.sync += [
            n_c.eq(nc - 1),
            n_y.eq(ny - 1),
            n_x.eq(nx - 1),
            s_c.eq(sc),
            s_y.eq(sy),
            chan_base.eq(dram),
            row_base.eq(dram),
            addr.eq(dram),
        ]
