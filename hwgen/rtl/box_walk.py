"""BoxWalk: the position of the MEM engine's DMA box walk, with every test the walk makes kept in a
flip-flop.

A load or store walks a box of ``n_c x n_y x n_x`` words in that order, each word ``word_beats``
slots (bus beats), the outer ``pad_*`` rows and columns of a load being padding. The walker's
decision in a cycle — is this slot padding, the first DRAM slot of a row (ask for the row's run),
the last slot of the box, the last beat of its word — used to be comparisons of the position
counters with the box's bounds (carry chains), and it gates the clock enable of every walk
register behind the bus's back-pressure: at 150 MHz on ECP5 that chain was one of the longest
paths. Here each test is a register for the current position. A step's next flags need only
equality tests of the *current* counters with bounds the start cycle derives (``n - 2``,
``pad - 1``, ...), computed beside the step, so the step only selects between registers.

The walk also owns the DRAM offsets (``chan_base``, ``row_base``: the box row's run starts at
``row_base``; rows of padding do not advance it). Nothing here changes when anything happens:
the MEM engine steps it exactly as before (one slot a cycle when the bus lets it).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value

__all__ = ["BoxWalk"]


def _flags(*names: str, width: int = 1) -> list[Signal]:
    """One ``box_``-named register per name (a flag, or a ``width``-bit bound)."""
    return [Signal(width, name=f"box_{n}") for n in names]


class BoxWalk:
    """The walk registers of one MEM engine: ``cw``-bit positions; a word is ``beats`` slots, a PBUF
    entry ``prm_beats``."""

    def __init__(self, m: Module, cw: int, beats: int, prm_beats: int) -> None:
        self.m = m
        self.beats, self.prm_beats = beats, prm_beats
        bb = max(beats, prm_beats, 2).bit_length()
        self.c, self.y, self.x = Signal(cw, name="box_c"), Signal(cw, name="box_y"), Signal(cw, name="box_x")
        self.beat = Signal(bb, name="box_beat")
        self.prm = Signal(name="box_prm")  # a word is prm_beats slots (else beats)
        self.chan_base, self.row_base = Signal(32, name="chan_base"), Signal(32, name="row_base")
        self.s_c, self.s_y = Signal(32, name="s_c"), Signal(32, name="s_y")
        # Flags of the current position.
        self.end_x, self.end_y, self.end_c = _flags("end_x", "end_y", "end_c")
        self.lpad, self.at_left, self.rpad, self.tpad, self.bpad = _flags("lpad", "at_left", "rpad", "tpad", "bpad")
        self.x0, self.beat0, self.last_beat = _flags("x0", "beat0", "last_beat")
        # The flags of a row's first word and a box's first row (loaded at the start), and the bounds
        # the current counters are compared with to give the next position's flags.
        self.end_x0, self.lpad0, self.at_left0, self.rpad0 = _flags("end_x0", "lpad0", "at_left0", "rpad0")
        self.end_y0, self.tpad0, self.bpad0 = _flags("end_y0", "tpad0", "bpad0")
        self.kx_end, self.kx_left, self.kx_hi = _flags("kx_end", "kx_left", "kx_hi", width=cw)
        self.ky_end, self.ky_top, self.ky_hi, self.kc_end = _flags("ky_end", "ky_top", "ky_hi", "kc_end", width=cw)
        self.kb_last = Signal(bb, name="box_kb_last")

    # Tests of the current position (registers, or a gate or two of them).
    @property
    def word_pad(self) -> Value:
        return self.tpad | self.bpad | self.lpad | self.rpad

    @property
    def real_row(self) -> Value:
        return ~(self.tpad | self.bpad)

    @property
    def row_start(self) -> Value:
        """The first DRAM slot of a row (when the word is not padding)."""
        return self.at_left & self.beat0

    @property
    def word_done(self) -> Value:
        """This slot is its word's last (a padding word is one slot)."""
        return self.word_pad | self.last_beat

    @property
    def box_end(self) -> Value:
        """The last word of the box."""
        return self.end_x & self.end_y & self.end_c

    def start(self, dram, n_c, n_y, n_x, pad_top, pad_bottom, pad_left, pad_right, s_c, s_y, prm) -> list:
        """The start cycle's assignments for a box of these sizes (counts, not counts - 1)."""
        one = self._beats_of(prm) == 1
        return [
            self.c.eq(0),
            self.y.eq(0),
            self.x.eq(0),
            self.beat.eq(0),
            self.prm.eq(prm),
            self.chan_base.eq(dram),
            self.row_base.eq(dram),
            self.s_c.eq(s_c),
            self.s_y.eq(s_y),
            # position (0, 0, 0, beat 0)
            self.end_x.eq(n_x == 1),
            self.end_y.eq(n_y == 1),
            self.end_c.eq(n_c == 1),
            self.lpad.eq(pad_left != 0),
            self.at_left.eq(pad_left == 0),
            self.rpad.eq(n_x == pad_right),
            self.tpad.eq(pad_top != 0),
            self.bpad.eq(n_y == pad_bottom),
            self.x0.eq(1),
            self.beat0.eq(1),
            self.last_beat.eq(one),
            self.end_x0.eq(n_x == 1),
            self.lpad0.eq(pad_left != 0),
            self.at_left0.eq(pad_left == 0),
            self.rpad0.eq(n_x == pad_right),
            self.end_y0.eq(n_y == 1),
            self.tpad0.eq(pad_top != 0),
            self.bpad0.eq(n_y == pad_bottom),
            # x + 1 == n_x - 1 <=> x == n_x - 2; x + 1 == pad_left; x + 1 == n_x - pad_right (x_hi)
            self.kx_end.eq(n_x - 2),
            self.kx_left.eq(pad_left - 1),
            self.kx_hi.eq(n_x - pad_right - 1),
            self.ky_end.eq(n_y - 2),
            self.ky_top.eq(pad_top - 1),
            self.ky_hi.eq(n_y - pad_bottom - 1),
            self.kc_end.eq(n_c - 2),
            self.kb_last.eq(self._beats_of(prm) - 2),
        ]

    def _beats_of(self, prm) -> Value:
        return Mux(prm, self.prm_beats, self.beats)

    def next_beat(self) -> None:
        """Step to the word's next slot."""
        self.m.d.sync += [
            self.beat.eq(self.beat + 1),
            self.beat0.eq(0),
            self.last_beat.eq(self.beat == self.kb_last),
        ]

    def next_word(self) -> None:
        """Step to the box's next word (after the last slot of this one)."""
        m = self.m
        m.d.sync += [self.beat.eq(0), self.beat0.eq(1), self.last_beat.eq(self._beats_of(self.prm) == 1)]
        with m.If(~self.end_x):
            at_left = self.x == self.kx_left
            m.d.sync += [
                self.x.eq(self.x + 1),
                self.x0.eq(0),
                self.end_x.eq(self.x == self.kx_end),
                self.at_left.eq(at_left),
                self.lpad.eq(self.lpad & ~at_left),
                self.rpad.eq(self.rpad | (self.x == self.kx_hi)),
            ]
        with m.Else():
            m.d.sync += [
                self.x.eq(0),
                self.x0.eq(1),
                self.end_x.eq(self.end_x0),
                self.at_left.eq(self.at_left0),
                self.lpad.eq(self.lpad0),
                self.rpad.eq(self.rpad0),
            ]
            with m.If(~self.end_y):
                m.d.sync += [
                    self.y.eq(self.y + 1),
                    self.end_y.eq(self.y == self.ky_end),
                    self.tpad.eq(self.tpad & ~(self.y == self.ky_top)),
                    self.bpad.eq(self.bpad | (self.y == self.ky_hi)),
                    self.row_base.eq(Mux(self.real_row, self.row_base + self.s_y, self.row_base)),
                ]
            with m.Else():
                nxt = self.chan_base + self.s_c
                m.d.sync += [
                    self.y.eq(0),
                    self.end_y.eq(self.end_y0),
                    self.tpad.eq(self.tpad0),
                    self.bpad.eq(self.bpad0),
                    self.c.eq(self.c + 1),
                    self.end_c.eq(self.c == self.kc_end),
                    self.chan_base.eq(nxt),
                    self.row_base.eq(nxt),
                ]
