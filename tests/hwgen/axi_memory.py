"""An AXI4 slave memory for amaranth.sim testbenches, written from the AXI
rules and the ideal memory of docs/accelerator.md, independently of the RTL:

* ``ideal``: arready/awready/wready always 1; the R beats of a burst accepted
  at the edge ending cycle t come in cycles t + λ + k (never two in a cycle,
  in order); a write burst's B comes λ cycles after its last W beat (and not
  before its AW was accepted); memory is written at the W handshake.
* ``random`` (seeded): every ready dropped at random, a long-tailed latency
  per burst, gaps between R beats, B late at random; a write reaches memory
  only when its B is sent, so a read that overtakes a write sees old data.

Every cycle it also checks the master's side of the protocol (valid held
with a stable payload until ready, INCR bursts of the bus size that stay in
one 4 KiB page and inside the memory, wlast on the last beat) and fails the
test with the cycle and the rule.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

PAGE = 4096


@dataclass
class _Burst:
    addr: int
    beats: int
    due: int = 0  # ideal: first beat's cycle; random: the burst's own start
    index: int = 0  # the n-th burst of its direction


@dataclass
class MemoryStats:
    ready_drops: int = 0
    read_bursts: int = 0
    write_bursts: int = 0
    max_latency: int = 0
    longest_burst: int = 0
    pages_touched: set[int] = field(default_factory=set)
    beats: dict[str, int] = field(default_factory=lambda: {"r": 0, "w": 0})


class AxiMemory:
    """The memory behind an ``m_axi_*`` port of ``bus_bytes`` bytes; ``mode`` is ``"ideal"`` or
    ``"random"`` (then ``seed``). ``step(ctx, dut, cycle)`` drives and samples one cycle."""

    def __init__(
        self,
        data: bytearray,
        bus_bytes: int,
        latency: int,
        mode: str = "ideal",
        seed: int = 0,
        *,
        ready_prob: float = 0.7,
        late_reads: dict[int, int] | None = None,
        slverr_reads: frozenset[int] = frozenset(),
        slverr_writes: frozenset[int] = frozenset(),
    ) -> None:
        """``ready_prob``: how often a ready is high (random mode); ``late_reads``: read burst index ->
        extra cycles of latency; ``slverr_reads``/``slverr_writes``: burst indices answered SLVERR."""
        if mode not in ("ideal", "random"):
            raise ValueError(f"mode must be 'ideal' or 'random', not {mode!r}")
        self.mem, self.B, self.lat, self.mode = data, bus_bytes, latency, mode
        self.rng = random.Random(seed)
        self.ready_prob = ready_prob
        self.late_reads = late_reads or {}
        self.slverr_reads, self.slverr_writes = slverr_reads, slverr_writes
        self.reads: deque[_Burst] = deque()  # accepted AR, beats not all sent
        self.r_next = 0  # beats of reads[0] already sent
        self.r_last_cycle = -1
        self.aw: deque[_Burst] = deque()  # accepted AW, W beats still to come
        self.w_seen = 0  # W beats of aw[0] (or of the burst before its AW) seen
        self.w_early: list[tuple[bytes, int, int]] = []  # W beats (data, strb, last) not yet matched to an AW
        self.bq: deque[tuple[int, list[tuple[int, bytes, int]], int]] = deque()  # (due, writes to apply, burst)
        self.pending_writes: list[tuple[int, bytes, int]] = []
        self.prev: dict[str, tuple[int, ...] | None] = {"ar": None, "aw": None, "w": None}
        self.stats = MemoryStats()

    # -- the slave's choices
    def _ready(self) -> int:
        if self.mode == "ideal":
            return 1
        r = int(self.rng.random() < self.ready_prob)
        self.stats.ready_drops += 1 - r
        return r

    def _latency(self) -> int:
        if self.mode == "ideal":
            return self.lat
        u = self.rng.random()
        lat = self.lat + (int(self.rng.paretovariate(1.2) * 4) if u < 0.9 else self.rng.randrange(50, 400))
        self.stats.max_latency = max(self.stats.max_latency, lat)
        return lat

    def _check_burst(self, kind: str, cycle: int, addr: int, length: int, size: int, burst: int) -> None:
        where = f"cycle {cycle}: {kind} at 0x{addr:x}, {length + 1} beats"
        assert burst == 0b01, f"{where}: burst type {burst}, not INCR"
        assert 1 << size == self.B, f"{where}: size {1 << size} bytes, not the bus's {self.B}"
        assert addr % self.B == 0, f"{where}: not aligned to the bus"
        end = addr + (length + 1) * self.B
        assert addr // PAGE == (end - 1) // PAGE, f"{where}: crosses a 4 KiB boundary"
        assert end <= len(self.mem), f"{where}: past the {len(self.mem)}-byte memory"
        self.stats.longest_burst = max(self.stats.longest_burst, length + 1)
        self.stats.pages_touched.add(addr // PAGE)

    def _hold(self, kind: str, cycle: int, valid: int, ready: int, payload: tuple[int, ...]) -> None:
        """AXI: once valid, valid and the payload stay until the handshake."""
        prev = self.prev[kind]
        if prev is not None:
            assert valid, f"cycle {cycle}: {kind}valid dropped before {kind}ready"
            assert payload == prev, f"cycle {cycle}: {kind} payload changed while waiting for ready"
        self.prev[kind] = payload if valid and not ready else None

    def step(self, ctx, dut, cycle: int) -> None:
        """Set the slave's outputs for ``cycle``, sample the master's, and account the handshakes
        at the edge that ends it (call before ``await ctx.tick()``)."""
        B = self.B
        arready, awready, wready = self._ready(), self._ready(), self._ready()
        ctx.set(dut.m_axi_arready, arready)
        ctx.set(dut.m_axi_awready, awready)
        ctx.set(dut.m_axi_wready, wready)
        # R: the head burst's next beat, when due
        rvalid = 0
        if self.reads:
            b = self.reads[0]
            due = b.due + self.r_next if self.mode == "ideal" else b.due
            gap_ok = self.mode == "ideal" or self.rng.random() < 0.6
            if cycle >= due and cycle > self.r_last_cycle and gap_ok:
                rvalid = 1
                a = b.addr + self.r_next * B
                ctx.set(dut.m_axi_rdata, int.from_bytes(self.mem[a : a + B], "little"))
                ctx.set(dut.m_axi_rresp, 2 if b.index in self.slverr_reads else 0)
                ctx.set(dut.m_axi_rlast, int(self.r_next == b.beats - 1))
        ctx.set(dut.m_axi_rvalid, rvalid)
        bvalid = int(bool(self.bq) and cycle >= self.bq[0][0] and (self.mode == "ideal" or self.rng.random() < 0.5))
        ctx.set(dut.m_axi_bvalid, bvalid)
        ctx.set(dut.m_axi_bresp, 2 if bvalid and self.bq[0][2] in self.slverr_writes else 0)

        get = ctx.get
        arvalid, awvalid, wvalid = get(dut.m_axi_arvalid), get(dut.m_axi_awvalid), get(dut.m_axi_wvalid)
        ar = (get(dut.m_axi_araddr), get(dut.m_axi_arlen), get(dut.m_axi_arsize), get(dut.m_axi_arburst))
        aw = (get(dut.m_axi_awaddr), get(dut.m_axi_awlen), get(dut.m_axi_awsize), get(dut.m_axi_awburst))
        w = (get(dut.m_axi_wdata), get(dut.m_axi_wstrb), get(dut.m_axi_wlast))
        self._hold("ar", cycle, arvalid, arready, ar)
        self._hold("aw", cycle, awvalid, awready, aw)
        self._hold("w", cycle, wvalid, wready, w)

        if arvalid and arready:
            self._check_burst("read", cycle, *ar)
            late = self.late_reads.get(self.stats.read_bursts, 0)
            self.reads.append(_Burst(ar[0], ar[1] + 1, cycle + self._latency() + late, self.stats.read_bursts))
            self.stats.read_bursts += 1
        if rvalid and get(dut.m_axi_rready):
            self.r_next += 1
            self.r_last_cycle = cycle
            self.stats.beats["r"] += 1
            if self.r_next == self.reads[0].beats:
                self.reads.popleft()
                self.r_next = 0
                if self.reads and self.mode == "random":
                    self.reads[0].due = max(self.reads[0].due, cycle + 1 + self.rng.randrange(0, 3))
        if awvalid and awready:
            self._check_burst("write", cycle, *aw)
            self.aw.append(_Burst(aw[0], aw[1] + 1, index=self.stats.write_bursts))
            self.stats.write_bursts += 1
        if wvalid and wready:
            self.stats.beats["w"] += 1
            self.w_early.append((w[0].to_bytes(B, "little"), w[1], w[2]))
        # Match W beats to accepted AWs, in order; a burst's B is due λ after its last beat.
        while self.aw and len(self.w_early) >= 1:
            b = self.aw[0]
            take = min(b.beats - self.w_seen, len(self.w_early))
            writes = []
            for data, strb, last in self.w_early[:take]:
                is_last = self.w_seen == b.beats - 1
                assert last == is_last, f"cycle {cycle}: wlast {last} on beat {self.w_seen} of a {b.beats}-beat burst"
                writes.append((b.addr + self.w_seen * B, data, strb))
                self.w_seen += 1
            del self.w_early[:take]
            self._apply_or_hold(writes)
            if self.w_seen < b.beats:
                break
            self.aw.popleft()
            self.w_seen = 0
            due = cycle + (self.lat if self.mode == "ideal" else self._latency())
            self.bq.append((due, self.pending_writes, b.index))
            self.pending_writes = []
        if bvalid and get(dut.m_axi_bready):
            _, writes, _ = self.bq.popleft()
            for addr, data, strb in writes:
                self._write(addr, data, strb)

    def _apply_or_hold(self, writes: list[tuple[int, bytes, int]]) -> None:
        if self.mode == "ideal":
            for addr, data, strb in writes:
                self._write(addr, data, strb)
        else:
            self.pending_writes.extend(writes)

    def _write(self, addr: int, data: bytes, strb: int) -> None:
        for i in range(self.B):
            if strb >> i & 1:
                self.mem[addr + i] = data[i]

    @property
    def quiet(self) -> bool:
        """Nothing in flight: every read answered, every write answered."""
        return not (self.reads or self.aw or self.w_early or self.bq)
