"""AxiMaster: every DRAM access of the accelerator, as an AXI4 master.

The engines and the controller ask for *runs* — ``beats`` consecutive bus
words from a byte offset in the image — and never see a burst: the master
splits each run into INCR bursts of at most ``cfg.max_burst_beats`` beats that
never cross a 4 KiB boundary, adds the image base address (4 KiB aligned, so
the split is the same at any base), and keeps every channel's valid/ready
rule in both directions.

Reads: several bursts outstanding, bounded by *credits*: a burst is issued
only when the read FIFO has room for all its beats (counting those in
flight), so ``rready`` can stay 1 and the FIFO never overflows. Its depth,
:func:`dian.hwgen.timing.read_fifo_depth`, is what the ideal memory needs to
keep one beat a cycle flowing at the config's latency. The consumer pops
beats in order from ``rd_*``; it is never told when a beat will come.

Writes: a run's bursts go out on AW as soon as they can; their lengths queue
for the W side, which takes the data beats from a small FIFO (``wr_*``) and
marks the last of each burst. A B response retires a burst. ``writes_idle``
is high when every write is answered, which the controller waits for before
the next chunk runs (its loads may read what this chunk stored) and before
``done``.

``abort`` drains the bus so that the accelerator can stop at any point (an
error, a soft reset): no new burst starts (an AW or AR already valid stays
until accepted, as AXI requires), W beats still owed to issued bursts go out
with ``wstrb`` 0, read beats still coming are taken and dropped. ``idle``
says when nothing is left in flight. SLVERR/DECERR on R or B set the sticky
``read_error``/``write_error`` (cleared by ``clear``).

Every AXI output comes from a flip-flop (``rready``/``bready`` are constant
1); the inputs go straight into registers or FIFOs, so the wrapper adds no
long path between the bus and the engines.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .. import timing
from ..accel_config import AccelConfig
from .axi_ports import m_axi_members

__all__ = ["AxiMaster", "max_run_beats"]

PAGE_BYTES = 4096  # AXI: a burst never crosses a 4 KiB boundary
INCR, CACHE_NORMAL = 0b01, 0b0011  # AxBURST INCR; AxCACHE normal non-cacheable bufferable
WRITE_FIFO_DEPTH = 8  # W data beats between the store walker and the bus
BURST_QUEUE_DEPTH = 4  # AW bursts whose W beats are still to send


def max_run_beats(cfg: AccelConfig) -> int:
    """The longest run any requester asks for: a buffer's worth of words, or a full IMEM of code."""
    word_beats = cfg.word_bytes // cfg.bus_bytes
    return max(
        max(cfg.words(b) for b in ("ibuf", "wbuf", "obuf")) * word_beats,
        cfg.lbuf_entries * word_beats,
        cfg.pbuf_entries * cfg.pbuf_entry_bytes // cfg.bus_bytes,
        cfg.imem_instructions * 32 // cfg.bus_bytes,
        timing.header_beats(cfg),
    )


class _Splitter:
    """A run (byte offset, beats >= 1) cut into bursts: ``burst`` is the next one's length
    (``len_m1`` that minus one, for AxLEN), ``issue`` takes it. The run is the registered one
    while ``busy``, else the incoming command itself, so a run's first burst can go in the cycle
    it is asked for. ``ready`` takes the next command when idle: it is a register (``busy``), not
    the burst arithmetic or the bus's ``AxREADY``, so the requester's handshake is a short path
    (a new run taken the cycle after the last burst of the one before issues in that cycle: the
    bursts go out as early as they would if it were taken with that last burst).

    Everything after the choice of the run is computed side by side from it: one short sum
    (where the burst would end, in beats into its 4 KiB page) decides whether the page boundary
    cuts the burst, and the burst length, AxLEN, the next address, the beats left and whether
    any are left are each a choice between values computed beside that sum. (Chained — burst
    length -> address adder, ``busy`` as a comparison of the beats left with 0, AxLEN as the
    length minus one — these were the design's longest paths, 89 then ~100 MHz on ECP5.)"""

    def __init__(self, m: Module, name: str, cfg: AccelConfig, run_bits: int) -> None:
        shift = cfg.bus_bytes.bit_length() - 1  # addresses are bus aligned
        page_beats = PAGE_BYTES // cfg.bus_bytes
        lg = page_beats.bit_length() - 1
        mx = cfg.max_burst_beats
        self.m = m
        self.max_beats = mx
        self.page_beats = page_beats
        self.reg_addr = Signal(32, name=f"{name}_addr")
        self.reg_left = Signal(run_bits, name=f"{name}_left")
        self.cmd_valid, self.cmd_addr = Signal(name=f"{name}_cmd_valid"), Signal(32, name=f"{name}_cmd_addr")
        self.cmd_beats = Signal(run_bits, name=f"{name}_cmd_beats")
        self.issue = Signal(name=f"{name}_issue")
        self.drop = Signal(name=f"{name}_drop")
        self.busy = Signal(name=f"{name}_busy")  # reg_left != 0, kept as a register
        # The burst is computed from registers only (the requester's command fields are
        # registers): ``cmd_valid``, late in the cycle, only gates the issue.
        addr = Mux(self.busy, self.reg_addr, self.cmd_addr)
        left = Mux(self.busy, self.reg_left, self.cmd_beats)
        self.pending = self.busy | self.cmd_valid  # a command is never 0 beats
        page = addr[12:]
        self.into_page = into_page = addr[shift:12]  # beats from the page start, 0 .. page_beats - 1
        short = left < mx
        # Where the burst would end if the page did not cut it (``capped`` = ``left`` or ``mx``).
        end_left = Signal(max(run_bits, lg) + 1, name=f"{name}_end_left")
        m.d.comb += end_left.eq(into_page + left)
        end_mx = into_page + mx
        # end > page_beats (a power of two): some bit from lg up, and not exactly page_beats
        cut_left = end_left[lg:].any() & (end_left != page_beats)
        cut = Mux(short, cut_left, into_page > page_beats - mx)
        page_left = page_beats - into_page
        self.burst = Signal(range(mx + 1), name=f"{name}_burst")
        self.len_m1 = Signal(range(mx), name=f"{name}_len_m1")
        self.addr = Signal(32, name=f"{name}_burst_addr")
        left_m1 = left - 1
        m.d.comb += [
            self.burst.eq(Mux(cut, page_left, Mux(short, left, mx))),
            # page_left - 1 = page_beats - 1 - into_page: into_page's bits inverted
            self.len_m1.eq(Mux(cut, ~into_page, Mux(short, left_m1, mx - 1))),
            self.addr.eq(addr),
        ]
        self._left, self._cut, self._short = left, cut, short
        self.ready = ~self.busy
        take = self.cmd_valid & self.ready & ~self.drop
        end_addr = Mux(short, end_left, end_mx)  # the burst's end when the page does not cut it
        next_addr = Mux(end_addr[lg:].any(), Cat(C(0, 12), page + 1), Cat(C(0, shift), end_addr[: 12 - shift], page))
        next_left = Mux(cut, end_left - page_beats, Mux(short, 0, left - mx))
        # Beats left after the burst: after a cut, always; else only past a full-length burst.
        next_busy = cut | (~short & (left != mx))
        with m.If(self.issue):
            m.d.sync += [self.reg_addr.eq(next_addr), self.reg_left.eq(next_left), self.busy.eq(next_busy)]
        with m.Elif(take):  # idle, and the new run's first burst cannot go yet
            m.d.sync += [self.reg_addr.eq(self.cmd_addr), self.reg_left.eq(self.cmd_beats), self.busy.eq(1)]
        with m.If(self.drop):
            m.d.sync += [self.reg_left.eq(0), self.busy.eq(0)]

    def fits(self, room: Value) -> Value:
        """``room >= burst``, as three comparisons side by side (``burst`` is the least of the
        run's beats, the burst limit and the beats to the page boundary) rather than one after
        the chain that computes ``burst``: the compare gates ``issue``, which enables every
        register of the address channel."""
        return (room >= self._left) | (room >= self.max_beats) | (room + self.into_page >= self.page_beats)

    def minus_burst(self, x: Value) -> Value:
        """``x - burst``, as a choice between three differences computed beside the burst's length."""
        cut_case = x + self.into_page - self.page_beats
        return Mux(self._cut, cut_case, Mux(self._short, x - self._left, x - self.max_beats))

    def connect(self, valid: Value, addr: Value, beats: Value) -> None:
        self.m.d.comb += [self.cmd_valid.eq(valid), self.cmd_addr.eq(addr), self.cmd_beats.eq(beats)]


class AxiMaster(wiring.Component):
    """The AXI4 master of ``cfg`` (ports: ``m_axi_*`` plus the request side in the module docstring)."""

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.read_depth = timing.read_fifo_depth(cfg)
        run = range(max_run_beats(cfg) + 1)
        DW = cfg.dram_bus_bits
        super().__init__(
            {
                "base": In(32),
                "rd_cmd_valid": In(1),
                "rd_cmd_ready": Out(1),
                "rd_cmd_addr": In(32),
                "rd_cmd_beats": In(run),
                "rd_valid": Out(1),
                "rd_ready": In(1),
                "rd_data": Out(DW),
                "wr_cmd_valid": In(1),
                "wr_cmd_ready": Out(1),
                "wr_cmd_addr": In(32),
                "wr_cmd_beats": In(run),
                "wr_valid": In(1),
                "wr_ready": Out(1),
                "wr_data": In(DW),
                "abort": In(1),
                "clear": In(1),
                "idle": Out(1),
                "writes_idle": Out(1),
                "read_error": Out(1),
                "write_error": Out(1),
                "read_beat": Out(1),  # a beat arrived (for the byte counters)
                "write_beat": Out(1),  # a beat went out
                **m_axi_members(DW),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.cfg
        size = cfg.bus_bytes.bit_length() - 1
        run_bits = len(self.rd_cmd_beats)
        m.d.comb += [
            self.m_axi_arsize.eq(size),
            self.m_axi_awsize.eq(size),
            self.m_axi_arburst.eq(INCR),
            self.m_axi_awburst.eq(INCR),
            self.m_axi_arcache.eq(CACHE_NORMAL),
            self.m_axi_awcache.eq(CACHE_NORMAL),
            self.m_axi_arid.eq(0),  # one ID: responses come in order; rid and bid are not read
            self.m_axi_awid.eq(0),
            self.m_axi_rready.eq(1),
            self.m_axi_bready.eq(1),
        ]
        with m.If(self.clear):
            m.d.sync += [self.read_error.eq(0), self.write_error.eq(0)]

        # ---- reads: run -> bursts on AR (credit-limited), R -> FIFO -> rd_*
        rs = _Splitter(m, "rd", cfg, run_bits)
        rs.connect(self.rd_cmd_valid & ~self.abort, self.rd_cmd_addr, self.rd_cmd_beats)
        m.d.comb += [self.rd_cmd_ready.eq(rs.ready & ~self.abort), rs.drop.eq(self.abort)]
        depth = self.read_depth
        credits = Signal(range(depth + 1), init=depth)
        m.submodules.rfifo = rfifo = SyncFIFOBuffered(width=cfg.dram_bus_bits, depth=depth)
        ar_free = ~self.m_axi_arvalid | self.m_axi_arready
        m.d.comb += rs.issue.eq(rs.pending & ar_free & rs.fits(credits) & ~self.abort)
        with m.If(self.m_axi_arready):
            m.d.sync += self.m_axi_arvalid.eq(0)
        with m.If(rs.issue):
            m.d.sync += [
                self.m_axi_arvalid.eq(1),
                self.m_axi_araddr.eq(self.base + rs.addr),
                self.m_axi_arlen.eq(rs.len_m1),
            ]
        # R: rready is 1 (credits leave room for every beat in flight). A beat lands in a register;
        # from there it goes straight to the requester when the FIFO is empty, else behind the
        # beats in the FIFO, so the FIFO's two cycles are paid only when the requester stalls.
        beat_in = self.m_axi_rvalid
        r_valid, r_data = Signal(), Signal(cfg.dram_bus_bits)
        m.d.sync += [r_valid.eq(beat_in), r_data.eq(self.m_axi_rdata)]
        # ``rfifo.level == 0`` as a flag of its own: the FIFO's level is a sum (inner FIFO plus
        # its output register), and comparing it put a carry chain in front of ``rd_valid``,
        # which crosses the chip to the engines. ``held`` counts the same beats.
        empty, held = Signal(init=1), Signal(range(depth + 1))
        pop = rfifo.r_en & rfifo.r_rdy
        m.d.sync += [held.eq(held + rfifo.w_en - pop), empty.eq(~rfifo.w_en & (empty | (pop & (held == 1))))]
        through = r_valid & empty
        m.d.comb += [
            self.read_beat.eq(beat_in),
            self.rd_valid.eq((through | rfifo.r_rdy) & ~self.abort),
            self.rd_data.eq(Mux(through, r_data, rfifo.r_data)),
            rfifo.r_en.eq(~through & (self.rd_ready | self.abort)),
            rfifo.w_en.eq(r_valid & ~(through & (self.rd_ready | self.abort))),
            rfifo.w_data.eq(r_data),
        ]
        with m.If(beat_in & self.m_axi_rresp[1]):
            m.d.sync += self.read_error.eq(1)
        popped = (through | rfifo.r_rdy) & (self.rd_ready | self.abort)
        # Four candidates computed from the register side by side (kept or a burst taken, with or
        # without a beat popped), so the late signals are the last two choices: ``popped`` comes
        # from the requester's ready across the chip, ``issue`` from the splitter's choice. (Adding
        # the popped beat first put two carry chains after it: tiny's critical path at 113.6 MHz.)
        # ``credits + 1`` is used only when a beat is popped, which it had been counted against.
        plus1 = Signal.like(credits, name="credits_plus1")
        m.d.comb += plus1.eq(credits + 1)
        kept = Mux(popped, plus1, credits)
        taken = Mux(popped, rs.minus_burst(plus1), rs.minus_burst(credits))
        m.d.sync += credits.eq(Mux(rs.issue, taken, kept))

        # ---- writes: run -> bursts on AW, their lengths -> W side, B retires them
        ws = _Splitter(m, "wr", cfg, run_bits)
        ws.connect(self.wr_cmd_valid & ~self.abort, self.wr_cmd_addr, self.wr_cmd_beats)
        m.d.comb += [self.wr_cmd_ready.eq(ws.ready & ~self.abort), ws.drop.eq(self.abort)]
        m.submodules.lens = lens = SyncFIFO(width=len(ws.burst), depth=BURST_QUEUE_DEPTH)
        m.submodules.wfifo = wfifo = SyncFIFO(width=cfg.dram_bus_bits, depth=WRITE_FIFO_DEPTH)
        # Bursts issued on AW and not yet answered on B; capped, so that no counter can wrap
        # however long the memory keeps its answers (the cap never binds on the ideal memory).
        cap = timing.write_bursts_cap(cfg)
        bursts = Signal(range(cap + 1))
        aw_free = ~self.m_axi_awvalid | self.m_axi_awready
        m.d.comb += ws.issue.eq(ws.pending & aw_free & lens.w_rdy & (bursts != cap) & ~self.abort)
        with m.If(self.m_axi_awready):
            m.d.sync += self.m_axi_awvalid.eq(0)
        with m.If(ws.issue):
            m.d.sync += [
                self.m_axi_awvalid.eq(1),
                self.m_axi_awaddr.eq(self.base + ws.addr),
                self.m_axi_awlen.eq(ws.len_m1),
            ]
        m.d.comb += [
            lens.w_en.eq(ws.issue),
            lens.w_data.eq(ws.burst),
            wfifo.w_en.eq(self.wr_valid),
            wfifo.w_data.eq(self.wr_data),
            self.wr_ready.eq(wfifo.w_rdy & ~self.abort),
        ]
        w_left = Signal(range(cfg.max_burst_beats + 1))  # beats still to send of the current burst
        w_free = ~self.m_axi_wvalid | self.m_axi_wready
        # A beat goes when the current burst owes one and there is data (or, draining, without data).
        send = w_free & (w_left != 0) & (wfifo.r_rdy | self.abort)
        m.d.comb += [wfifo.r_en.eq(send | self.abort), self.write_beat.eq(self.m_axi_wvalid & self.m_axi_wready)]
        with m.If(self.m_axi_wready):
            m.d.sync += self.m_axi_wvalid.eq(0)
        with m.If(send):
            m.d.sync += [
                self.m_axi_wvalid.eq(1),
                self.m_axi_wdata.eq(Mux(self.abort, 0, wfifo.r_data)),
                self.m_axi_wstrb.eq(Mux(self.abort, 0, (1 << len(self.m_axi_wstrb)) - 1)),
                self.m_axi_wlast.eq(w_left == 1),
                w_left.eq(w_left - 1),
            ]
        next_burst = (w_left == 0) | (send & (w_left == 1))
        m.d.comb += lens.r_en.eq(next_burst)
        with m.If(next_burst & lens.r_rdy):
            m.d.sync += w_left.eq(lens.r_data)
        b_in = self.m_axi_bvalid
        m.d.sync += bursts.eq(bursts + ws.issue - b_in)
        with m.If(b_in & self.m_axi_bresp[1]):
            m.d.sync += self.write_error.eq(1)

        writes_idle = (bursts == 0) & ~ws.busy & ~wfifo.r_rdy & ~lens.r_rdy & (w_left == 0) & ~self.m_axi_wvalid
        reads_idle = (credits == depth) & ~rs.busy & ~self.m_axi_arvalid & ~r_valid
        m.d.comb += [self.writes_idle.eq(writes_idle), self.idle.eq(writes_idle & reads_idle)]
        return m
