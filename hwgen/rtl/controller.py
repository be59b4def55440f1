"""Controller: runs one inference from the DRAM image. It checks the header,
loads each program chunk into IMEM, launches both engines and waits for both
to halt; it owns IMEM, the four token counters, the run's status and its end.

Every read goes through :class:`~dian.hwgen.rtl.axi_master.AxiMaster` as a
*run* of bus beats (the master owns the read port between chunks, the MEM
engine while a chunk runs). Two kinds of read share one path: *fields*
(the header's first 36 bytes, the first chunk's 12-byte table entry) are
gathered into a few registers and decoded in the next cycle; *code* is
written into IMEM, one instruction per ``32 / B`` beats, and its last 32
bytes, the chunk's *link*, say where the next chunk is (hwgen/image_format.py):
one read a chunk.

Sequence (states): START → FIELDS(header) → CHECK → DECODE: the magic, the image
version and the config hash must be this accelerator's (else error
BAD_IMAGE or CONFIG_MISMATCH); FIELDS(first entry) → CHECK → DECODE; then per chunk:
CODE (code and link) → LAUNCH (once every write of the previous chunk is
answered: this chunk's loads may read what it stored) → RUN, until both
engines halt; then FINISH waits for the last writes, and DONE. Any error (an engine's illegal
instruction, SLVERR/DECERR on the bus, a bad header) goes to ABORT instead:
the engines are held in reset while the master drains the bus, then DONE
with the error's code. A soft reset does the same from any state and ends in
IDLE with the status cleared. ``start`` in IDLE or DONE starts the next run;
the accelerator runs any number of them without a reset.

Timing on the ideal memory is in hwgen/timing.py (``boot_cycles``,
``chunk_fetch_cycles``, ``done_cycles``), measured against this block.
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth.hdl import Array, Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .. import timing
from ..accel_config import AccelConfig, config_hash
from ..csr_map import ErrorCode
from ..image_format import CHUNK_ENTRY_BYTES, IMAGE_VERSION, MAGIC
from ..isa import INSTRUCTION_BITS, INSTRUCTION_BYTES
from .axi_master import max_run_beats
from .replica import replicas

__all__ = ["Controller"]

COUNTER_BITS = 16
_HEADER, _ENTRY = 0, 1  # what a fields read is for


class Controller(wiring.Component):
    """Chunk loader, IMEM (two read ports: MEM and CMP stream), token counters and run status."""

    def __init__(self, cfg: AccelConfig) -> None:
        if cfg.bus_bytes > INSTRUCTION_BYTES:
            raise ValueError(
                f"v1 RTL loads instructions with a bus of at most {INSTRUCTION_BYTES * 8} bits, not {cfg.dram_bus_bits}"
            )
        self.cfg = cfg
        depth = cfg.imem_instructions
        B = cfg.bus_bytes
        self.max_beats = max(timing.header_beats(cfg), timing.range_beats(cfg, B - 4, CHUNK_ENTRY_BYTES))
        super().__init__(
            {
                "start": In(1),
                "soft_reset": In(1),
                "busy": Out(1),
                "done": Out(1),
                "ended": Out(1),  # one cycle: the run ended (DONE entered)
                "error_code": Out(8),
                "running": Out(1),  # a chunk runs: the MEM engine owns the read port
                "launch": Out(1),
                "mem_reset": Out(1),  # the engines' resets: copies of the abort flag (hwgen/rtl/replica.py)
                "cmp_reset": Out(1),
                "mem_halted": In(1),
                "cmp_halted": In(1),
                "mem_error": In(1),
                "cmp_error": In(1),
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
                # the read side of the AXI master while no chunk runs, and its status
                "rd_cmd_valid": Out(1),
                "rd_cmd_ready": In(1),
                "rd_cmd_addr": Out(32),
                "rd_cmd_beats": Out(range(max_run_beats(cfg) + 1)),
                "rd_valid": In(1),
                "rd_ready": Out(1),
                "rd_data": In(8 * B),
                "bus_abort": Out(1),
                "bus_clear": Out(1),
                "bus_idle": In(1),
                "writes_idle": In(1),
                "read_error": In(1),
                "write_error": In(1),
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

        # In ABORT, as flip-flops of their own set and cleared with the state (not a decode of the
        # state register): they gate the bus master and reset the token counters (``aborting``) and
        # both engines, all over the chip, so one copy each splits the fan-out.
        abort_set, abort_clear = Signal(name="abort_set"), Signal(name="abort_clear")
        aborting, mem_reset, cmp_reset = replicas(m, abort_set, abort_clear, "aborting", "mem_reset", "cmp_reset")
        m.d.comb += [self.bus_abort.eq(aborting), self.mem_reset.eq(mem_reset), self.cmp_reset.eq(cmp_reset)]

        # Token counters, with their "not zero" flags kept in registers of
        # their own (the engines' decode waits on them). The engines' consume
        # comes late in the cycle (decode -> ready): after it only muxes, the
        # +1 / -1 and the "is one" test are computed from the registers.
        for t in range(4):
            cnt = Signal(COUNTER_BITS, name=f"token{t}")
            up = (self.signal_mem[t] | self.signal_cmp[t]) & ~(self.consume_mem[t] | self.consume_cmp[t])
            down = (self.consume_mem[t] | self.consume_cmp[t]) & ~(self.signal_mem[t] | self.signal_cmp[t])
            nonzero = Signal(name=f"token{t}_nonzero")
            m.d.comb += self.tokens[t].eq(nonzero)
            with m.If(aborting):
                m.d.sync += [cnt.eq(0), nonzero.eq(0)]
            with m.Elif(up):
                m.d.sync += [cnt.eq(cnt + 1), nonzero.eq(1)]
            with m.Elif(down):
                m.d.sync += [cnt.eq(cnt - 1), nonzero.eq(cnt != 1)]

        # A read: one command (registered), then its beats, counted down in ``left``.
        cmd_valid, cmd_addr = Signal(), Signal(32)
        cmd_beats = Signal.like(self.rd_cmd_beats)
        left = Signal.like(self.rd_cmd_beats)
        m.d.comb += [self.rd_cmd_valid.eq(cmd_valid), self.rd_cmd_addr.eq(cmd_addr), self.rd_cmd_beats.eq(cmd_beats)]
        with m.If(cmd_valid & self.rd_cmd_ready):
            m.d.sync += cmd_valid.eq(0)
        beat_in = self.rd_valid & self.rd_ready
        last_beat = beat_in & (left == 1)
        with m.If(beat_in):
            m.d.sync += left.eq(left - 1)

        def read(addr, n_beats):
            """Ask for ``n_beats`` beats from the bus-aligned ``addr``."""
            m.d.sync += [cmd_valid.eq(1), cmd_addr.eq(addr), cmd_beats.eq(n_beats), left.eq(n_beats)]

        # Fields reads: beats gathered, then the bytes from the field's offset in the first beat.
        beats = Array(Signal(8 * B, name=f"beat{k}") for k in range(self.max_beats))
        beat_idx = Signal(range(self.max_beats))
        offset = Signal(range(B))
        flat = Cat(*beats) >> (offset << 3)  # offset * 8 as a shift: no multiplier cell
        what = Signal()

        def read_fields(kind, addr, nbytes):
            m.d.sync += [what.eq(kind), beat_idx.eq(0), offset.eq(addr & (B - 1))]
            read(addr & ~(B - 1), ((addr & (B - 1)) + nbytes + B - 1) >> (B.bit_length() - 1))

        n_chunks = Signal(32)
        next_addr, next_nm = Signal(32), Signal(32)  # the next chunk's link
        per_instr = INSTRUCTION_BYTES // B
        gather = Signal(INSTRUCTION_BITS)
        nxt_gather = Cat(gather[8 * B :], self.rd_data) if per_instr > 1 else self.rd_data
        ibeat = Signal(range(per_instr))
        waddr = Signal(range(depth))
        code = Signal(8)
        header_ok = Cat(Const(int.from_bytes(MAGIC, "little"), 32), Const(IMAGE_VERSION, 32))
        hash_ok = Const(int.from_bytes(config_hash(cfg), "little"), 128)

        fault = Signal(8)
        with m.If(self.mem_error):
            m.d.comb += fault.eq(ErrorCode.MEM_ILLEGAL)
        with m.Elif(self.cmp_error):
            m.d.comb += fault.eq(ErrorCode.CMP_ILLEGAL)
        with m.Elif(self.read_error):
            m.d.comb += fault.eq(ErrorCode.READ_ERROR)
        with m.Elif(self.write_error):
            m.d.comb += fault.eq(ErrorCode.WRITE_ERROR)
        m.d.comb += self.error_code.eq(code)
        soft = Signal()  # the abort under way is a soft reset's
        # "No chunk left", and the next chunk's read length, kept ready in registers.
        last_chunk = Signal(name="last_chunk")
        next_beats = Signal.like(self.rd_cmd_beats, name="next_beats")

        def code_beats(nm, nc):
            return (nm + nc + 1) << (per_instr.bit_length() - 1)  # code and link, 32/B beats each

        def fetch(addr, nm, n_beats):
            """Read a chunk's code and its link (``n_beats``): ``nm`` MEM instructions first, from ``addr``."""
            m.d.sync += [self.cmp_base.eq(nm), ibeat.eq(0), waddr.eq(0), n_chunks.eq(n_chunks - 1)]
            m.d.sync += last_chunk.eq(n_chunks == 1)
            read(addr, n_beats)
            m.next = "CODE"

        # In RUN, likewise a flip-flop of its own: it hands the bus master's read side to the MEM engine.
        in_run = Signal(name="in_run")
        m.d.comb += self.running.eq(in_run)

        def go_abort():
            m.d.comb += abort_set.eq(1)
            m.d.sync += in_run.eq(0)
            m.next = "ABORT"

        def abort(why):
            m.d.sync += [code.eq(why), soft.eq(0)]
            go_abort()

        @contextmanager
        def state(name, *, working=True):
            """An FSM state. A *working* one is busy and leaves for ABORT on any error; a soft reset
            leaves every state for ABORT. Those checks come after the body, so they win."""
            with m.State(name):
                if working:
                    m.d.comb += self.busy.eq(1)
                yield
                if working:
                    with m.If(fault != 0):
                        abort(fault)
                with m.If(self.soft_reset):
                    m.d.sync += soft.eq(1)
                    go_abort()

        def begin():
            """START from IDLE or DONE: clear the last run's status, read the header."""
            with m.If(self.start):
                m.d.comb += self.bus_clear.eq(1)
                m.d.sync += code.eq(0)
                read_fields(_HEADER, 0, timing.HEADER_CHECK_BYTES)
                m.next = "FIELDS"

        with m.FSM():
            with state("IDLE", working=False):
                begin()
            with state("FIELDS"):
                m.d.comb += self.rd_ready.eq(1)
                with m.If(beat_in):
                    m.d.sync += [beats[beat_idx].eq(self.rd_data), beat_idx.eq(beat_idx + 1)]
                with m.If(last_beat):
                    m.next = "CHECK"
            # CHECK registers what DECODE decides on: the header's tests (the header is read from
            # offset 0, so its fields need no shift), the chunk count and table address, or the
            # first chunk's entry (shifted from its offset) and its code's read length. A cycle of
            # the boot (hwgen/timing.py ``FIELDS_CHECK``), so that no comparison of the gathered
            # beats decides the next state in the cycle it is made.
            head_flat = Cat(*beats)
            magic_ok, hash_ok_r, no_chunks = Signal(name="magic_ok"), Signal(name="hash_ok"), Signal(name="no_chunks")
            chunks, table = Signal(32, name="chunks"), Signal(32, name="table")
            entry_addr, entry_nm = Signal(32, name="entry_addr"), Signal(32, name="entry_nm")
            entry_beats = Signal.like(self.rd_cmd_beats, name="entry_beats")
            with state("CHECK"):
                m.d.sync += [
                    magic_ok.eq(head_flat[0:64] == header_ok),
                    hash_ok_r.eq(head_flat[64:192] == hash_ok),
                    chunks.eq(head_flat[224:256]),
                    no_chunks.eq(head_flat[224:256] == 0),
                    table.eq(head_flat[256:288]),
                    entry_addr.eq(flat[0:32]),
                    entry_nm.eq(flat[32:64]),
                    entry_beats.eq(code_beats(flat[32:64], flat[64:96])),
                ]
                m.next = "DECODE"
            with state("DECODE"):
                with m.If(what == _HEADER):
                    m.d.sync += [n_chunks.eq(chunks), last_chunk.eq(no_chunks)]
                    with m.If(~magic_ok):
                        abort(ErrorCode.BAD_IMAGE)
                    with m.Elif(~hash_ok_r):
                        abort(ErrorCode.CONFIG_MISMATCH)
                    with m.Elif(no_chunks):
                        m.next = "FINISH"
                    with m.Else():
                        read_fields(_ENTRY, table, CHUNK_ENTRY_BYTES)
                        m.next = "FIELDS"
                with m.Else():  # the first chunk's table entry
                    fetch(entry_addr, entry_nm, entry_beats)
            with state("CODE"):
                m.d.comb += self.rd_ready.eq(1)
                with m.If(beat_in):
                    m.d.sync += gather.eq(nxt_gather)
                    with m.If(last_beat):  # the link: where the next chunk is
                        m.d.sync += [next_addr.eq(nxt_gather[0:32]), next_nm.eq(nxt_gather[32:64])]
                        m.d.sync += next_beats.eq(code_beats(nxt_gather[32:64], nxt_gather[64:96]))
                    with m.Elif(ibeat == per_instr - 1):
                        m.d.comb += [wr.en.eq(1), wr.addr.eq(waddr), wr.data.eq(nxt_gather)]
                        m.d.sync += [ibeat.eq(0), waddr.eq(waddr + 1)]
                    with m.Else():
                        m.d.sync += ibeat.eq(ibeat + 1)
                with m.If(last_beat):
                    m.next = "LAUNCH"
            # LAUNCH: at least one cycle after the last IMEM write, so the engines' reads of their
            # first words (presented from now on) see every write; and once the previous chunk's
            # stores are answered.
            with state("LAUNCH"), m.If(self.writes_idle):
                m.d.comb += self.launch.eq(1)
                m.d.sync += in_run.eq(1)
                m.next = "RUN"
            with state("RUN"), m.If(self.mem_halted & self.cmp_halted):
                m.d.sync += in_run.eq(0)
                with m.If(last_chunk):
                    m.next = "FINISH"
                with m.Else():
                    fetch(next_addr, next_nm, next_beats)
            with state("FINISH"), m.If(self.bus_idle):  # the last stores' answers
                m.d.comb += self.ended.eq(1)
                m.next = "DONE"
            with state("ABORT", working=False):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cmd_valid.eq(0)
                with m.If(self.bus_idle):
                    m.d.comb += abort_clear.eq(1)
                    with m.If(soft):
                        m.d.sync += code.eq(0)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.ended.eq(1)
                        m.next = "DONE"
            with state("DONE", working=False):
                m.d.comb += self.done.eq(1)
                begin()
        return m
