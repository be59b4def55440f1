"""MemEngine: the in-order interpreter of a chunk's MEM stream (LOAD_ACT,
LOAD_WGT, LOAD_PRM, LOAD_LUT, STORE_ACT, END), the DMA side of the accelerator. It
talks to DRAM only through :class:`~dian.hwgen.rtl.axi_master.AxiMaster`'s
runs; it never assumes when an answer comes.

Sequencing: :class:`~dian.hwgen.rtl.sequencer.InstructionHead` (cycle ``S``
is the DECODE cycle that starts the instruction).

Loads (a box of ``n_c x n_y x n_x`` words; LOAD_WGT/LOAD_PRM/LOAD_LUT are a
1 x 1 x n box): the *request walker* steps from ``S+1`` one *slot* a cycle in box
order — a padding word is one slot, a DRAM word is ``word_beats`` slots —
and queues a descriptor per slot (padding or not, last or not). At the first
DRAM slot of a row it also asks the master for the row's run (its real words
are consecutive in DRAM). The *response side* takes the descriptors in order:
a padding slot writes the pad word, a DRAM slot takes the next read beat
(waiting for it as long as it takes), and the last beat of a word writes the
word (little-endian, first beat lowest), densely from ``dst``. The
instruction ends when the last descriptor is taken. On the ideal memory
(hwgen/timing.py) every beat comes ``READ_PIPE + λ`` cycles after its slot,
so ``D = 1 + slots + λ + READ_PIPE`` (a box of padding only: ``2 + slots``).

Stores: ``S+1`` presents the first OBUF word; from ``S+2`` one beat a cycle
goes to the master's write FIFO (the row's run is asked for at its first
beat): ``D = 2 + n_words * word_beats``. Stores are posted: the controller
waits for their B responses at the chunk's end, since loads of the same
chunk never read what it stores (hwgen/lower/program.py checks it).

The walker stalls whenever the master is not ready (a full FIFO, a memory
that holds its ready low): slower, never wrong.

The DRAM offset of a box row is ``dram + c*s_c + y*s_y``, walked with adders
only (channel base, row base).

``error`` (sticky until reset): an opcode that is not a MEM instruction (the
engine halts).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .. import timing
from ..accel_config import AccelConfig
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, LoadAct, LoadLut, LoadPrm, LoadWgt, Opcode, StoreAct
from .axi_master import max_run_beats
from .box_walk import BoxWalk
from .decode import fields
from .head_fifo import HeadFifo
from .sequencer import InstructionHead

__all__ = ["MemEngine"]

_LUT_SHIFT = (timing.LUT_WORDS - 1).bit_length()  # a table is 2**8 words

_IBUF, _WBUF, _PBUF, _LBUF = 0, 1, 2, 3


class MemEngine(wiring.Component):
    """The MEM engine of ``cfg`` (ports: see the module docstring and the signature)."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        L, B = cfg.lanes, cfg.bus_bytes
        self.beats = cfg.word_bytes // B
        self.prm_beats = cfg.pbuf_entry_bytes // B
        run = range(max_run_beats(cfg) + 1)
        super().__init__(
            {
                "launch": In(1),
                "halted": Out(1),
                "imem_addr": Out(range(cfg.imem_instructions)),
                "imem_data": In(INSTRUCTION_BITS),
                "tokens": In(4),  # token counters > 0
                "consume": Out(4),
                "signal": Out(4),
                "rd_cmd_valid": Out(1),
                "rd_cmd_ready": In(1),
                "rd_cmd_addr": Out(32),
                "rd_cmd_beats": Out(run),
                "rd_valid": In(1),
                "rd_ready": Out(1),
                "rd_data": In(8 * B),
                "wr_cmd_valid": Out(1),
                "wr_cmd_ready": In(1),
                "wr_cmd_addr": Out(32),
                "wr_cmd_beats": Out(run),
                "wr_valid": Out(1),
                "wr_ready": In(1),
                "wr_data": Out(8 * B),
                "ibuf_w_en": Out(1),
                "ibuf_w_addr": Out(range(cfg.words("ibuf"))),
                "ibuf_w_data": Out(8 * L),
                "wbuf_w_en": Out(1),
                "wbuf_w_addr": Out(range(cfg.words("wbuf"))),
                "wbuf_w_data": Out(8 * L),
                "pbuf_w_en": Out(1),
                "pbuf_w_addr": Out(range(cfg.pbuf_entries)),
                "pbuf_w_data": Out(8 * cfg.pbuf_entry_bytes),
                "lbuf_w_en": Out(1),
                "lbuf_w_addr": Out(range(max(2, cfg.lbuf_entries))),
                "lbuf_w_data": Out(8 * L),
                "obuf_r_addr": Out(range(cfg.words("obuf"))),
                "obuf_r_data": In(8 * L),
                "error": Out(1),  # sticky: not a MEM opcode
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, enc = self.cfg, self.enc
        L, B = cfg.lanes, cfg.bus_bytes
        head = InstructionHead(m, cfg, self)
        word = head.word
        lut = cfg.lut_tables > 0
        lut_words = (2 * cfg.lut_tables * timing.LUT_WORDS).bit_length()  # a LOAD_LUT's words, up to all of LBUF
        cw = max([enc.widths[k] for k in ("ibn", "wbn", "pbn", "obn")] + [lut_words])
        aw = max([enc.widths[k] for k in ("ib", "wb", "pb", "ob")] + [max(1, lut_words - 1)])

        dest = Signal(2, name="dest")
        pad_value = Signal(8, name="pad_value")
        row_beats = Signal.like(self.rd_cmd_beats, name="row_beats")  # the DRAM beats of one box row
        walk = BoxWalk(m, cw, self.beats, self.prm_beats)
        prm = walk.prm
        waddr = Signal(aw, name="waddr")
        rbeat = Signal(range(max(self.beats, self.prm_beats)), name="rbeat")
        gather = Signal(8 * cfg.pbuf_entry_bytes, name="gather")

        # Slot descriptors from the request walker to the response side: (padding, last slot).
        m.submodules.slots = slots = HeadFifo(2, timing.read_fifo_depth(cfg))  # the head in a register
        slot_pad, slot_last = Signal(), Signal()
        m.d.comb += slots.w_data.eq(Cat(slot_pad, slot_last))

        # Response side of loads: one descriptor a cycle, a DRAM one only with its beat.
        nxt_gather = Cat(gather[8 * B :], self.rd_data)
        top = len(gather)
        head_pad, head_last = slots.r_data[0], slots.r_data[1]
        take = slots.r_rdy & (head_pad | self.rd_valid)
        m.d.comb += [slots.r_en.eq(take), self.rd_ready.eq(slots.r_rdy & ~head_pad)]
        word_done = Signal()
        with m.If(take & ~head_pad):
            m.d.sync += gather.eq(nxt_gather)
            with m.If(Mux(prm, rbeat == self.prm_beats - 1, rbeat == self.beats - 1)):
                m.d.comb += word_done.eq(1)
                m.d.sync += rbeat.eq(0)
            with m.Else():
                m.d.sync += rbeat.eq(rbeat + 1)
        write = take & (head_pad | word_done)
        with m.If(write):
            m.d.sync += waddr.eq(waddr + 1)
        w_word = Mux(head_pad, Cat(*[pad_value] * L), nxt_gather[top - 8 * L :])
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
            self.lbuf_w_en.eq(write & (dest == _LBUF)),
            self.lbuf_w_addr.eq(waddr),
            self.lbuf_w_data.eq(w_word),
        ]

        # A run is always the current box row's (registers: the bus master computes its burst
        # from them while the walker decides whether to ask).
        m.d.comb += [
            self.rd_cmd_addr.eq(walk.row_base),
            self.rd_cmd_beats.eq(row_beats),
            self.wr_cmd_addr.eq(walk.row_base),
            self.wr_cmd_beats.eq(row_beats),
        ]
        # STORE's OBUF read address and the next one (the port's address is a choice of registers)
        raddr, raddr1 = Signal(range(cfg.words("obuf")), name="raddr"), Signal(range(cfg.words("obuf")), name="raddr1")
        # Decode ahead: the box of the instruction in ``word``, whatever its kind, and everything the
        # start cycle derives from it (the walk's bounds and first flags, the row's beats, the first
        # addresses) are registered every cycle, so the start cycle only copies registers. ``word``
        # holds the instruction from FETCH on (every MEM instruction lasts D >= 3 cycles, and after a
        # launch IMEM was written at least two cycles before: hwgen/rtl/sequencer.py), so the
        # registers are right in DECODE.
        op = head.op
        is_act, is_st = op == Opcode.LOAD_ACT, op == Opcode.STORE_ACT
        is_w, is_p = op == Opcode.LOAD_WGT, op == Opcode.LOAD_PRM
        fa, fs = fields(enc, LoadAct, word), fields(enc, StoreAct, word)
        fw, fp = fields(enc, LoadWgt, word), fields(enc, LoadPrm, word)
        fl = fields(enc, LoadLut, word) if lut else None
        n_lut = (fl["n_tables"] << _LUT_SHIFT) if fl is not None else 0  # 256 words a table
        real_x = fa["n_x"] - fa["pad_left"] - fa["pad_right"]
        dram = Mux(is_act, fa["dram"], Mux(is_st, fs["dram"], fl["dram"] if fl is not None else 0))
        dram = Mux(is_w | is_p, fw["dram"], dram)
        n_c, n_y = (Mux(is_act, fa[k], Mux(is_st, fs[k], 1)) for k in ("n_c", "n_y"))
        n_x = Mux(is_act, fa["n_x"], Mux(is_st, fs["n_x"], Mux(is_w, fw["n_words"], Mux(is_p, fp["n_entries"], n_lut))))
        pad_t, pad_b, pad_l, pad_r = (Mux(is_act, fa[k], 0) for k in ("pad_top", "pad_bottom", "pad_left", "pad_right"))
        s_c, s_y = (Mux(is_act, fa[k], Mux(is_st, fs[k], 0)) for k in ("s_c", "s_y"))
        beats_of = Mux(
            is_act,
            _times(real_x, self.beats),
            Mux(is_p, _times(fp["n_entries"], self.prm_beats), _times(Mux(is_st, fs["n_x"], n_x), self.beats)),
        )
        first = Mux(
            is_act,
            fa["dst"],
            Mux(is_w, fw["dst"], Mux(is_p, fp["dst"], fl["dst"] << _LUT_SHIFT if fl is not None else 0)),
        )
        starts = _ahead(
            m,
            [
                *walk.start(dram, n_c, n_y, n_x, pad_t, pad_b, pad_l, pad_r, s_c, s_y, is_p),
                row_beats.eq(beats_of),
                waddr.eq(first),
                raddr.eq(fs["src"]),
                raddr1.eq(fs["src"] + 1),
            ],
        )
        with m.FSM():
            with head.states(on_start=[rbeat.eq(0), *starts]):
                with m.Case(Opcode.LOAD_ACT):
                    m.d.sync += [dest.eq(_IBUF), pad_value.eq(fa["pad_value"])]
                    m.next = "LOAD"
                with m.Case(Opcode.LOAD_WGT, Opcode.LOAD_PRM):
                    m.d.sync += dest.eq(Mux(is_w, _WBUF, _PBUF))
                    m.next = "LOAD"
                if lut:  # without an LBUF, LOAD_LUT is an opcode this engine has no case for (error)
                    with m.Case(Opcode.LOAD_LUT):
                        m.d.sync += dest.eq(_LBUF)
                        m.next = "LOAD"
                with m.Case(Opcode.STORE_ACT):
                    m.next = "STORE_FIRST"
            with m.State("LOAD"):
                run = ~walk.word_pad & walk.row_start
                step = slots.w_rdy & (~run | self.rd_cmd_ready)
                last_slot = walk.box_end & walk.word_done
                m.d.comb += [
                    slots.w_en.eq(step),
                    slot_pad.eq(walk.word_pad),
                    slot_last.eq(last_slot),
                    self.rd_cmd_valid.eq(run & slots.w_rdy),
                ]
                with m.If(step):
                    with m.If(walk.word_done):
                        walk.next_word()
                        with m.If(last_slot):
                            m.next = "LOAD_WAIT"
                    with m.Else():
                        walk.next_beat()
            with m.State("LOAD_WAIT"), m.If(take & head_last):
                head.finish()
            with m.State("STORE_FIRST"):
                m.d.comb += self.obuf_r_addr.eq(raddr)
                m.next = "STORE"
            with m.State("STORE"):
                run = walk.x0 & walk.beat0
                step = self.wr_ready & (~run | self.wr_cmd_ready)
                m.d.comb += [
                    self.wr_valid.eq(step),
                    # beat * 8B as a shift (8B a power of two): word_select would emit a multiplier cell
                    self.wr_data.eq(self.obuf_r_data.bit_select(walk.beat << ((8 * B).bit_length() - 1), 8 * B)),
                    self.wr_cmd_valid.eq(run & self.wr_ready),
                    self.obuf_r_addr.eq(Mux(step & walk.last_beat, raddr1, raddr)),
                ]
                with m.If(step):
                    with m.If(walk.last_beat):
                        m.d.sync += [raddr.eq(raddr1), raddr1.eq(raddr1 + 1)]
                        walk.next_word()
                        with m.If(walk.box_end):
                            head.finish()
                    with m.Else():
                        walk.next_beat()
        return m


def _ahead(m: Module, stmts: list) -> list:
    """Each ``target.eq(value)`` of ``stmts`` as ``target.eq(pre)``, ``pre`` a register loaded with
    ``value`` every cycle."""
    out = []
    for st in stmts:
        pre = Signal.like(st.lhs, name=f"{st.lhs.name}_ahead", reset_less=True)
        m.d.sync += pre.eq(st.rhs)
        out.append(st.lhs.eq(pre))
    return out


def _times(v: Value, k: int) -> Value:
    """``v * k`` for a constant ``k`` as shifts and adds: no multiplier cell (it would take a DSP
    block, and Yosys 0.5x's ABC arithmetic pass has failed an internal assertion on these)."""
    terms = [v << i for i in range(k.bit_length()) if k >> i & 1]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total
