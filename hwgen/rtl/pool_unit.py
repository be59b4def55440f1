"""PoolUnit: the read side of a POOL instruction — the IBUF window walk and
:class:`~dian.hwgen.rtl.ppu_pool.PPUPool` — whose window results go on to the
CMP engine's :class:`~dian.hwgen.rtl.ppu_requant.PPURequant` (bias 0; the op's
M, s for AVG, M = 1, s = 0 for MAX; clamp [-128, 127]).

Timing (cycle ``S`` = DECODE, ``start`` high, ``instr`` sampled): the
``n = n_c·n_oy·n_ox`` windows of ``w = n_fy·n_fx`` words are read in order
``c, oy, ox, fy, fx``, one synchronous IBUF read a cycle in ``S+1 ..
S+n·w`` (address ``src + c·s_c + oy·s_oy + ox·s_ox + fy·s_fy + fx·s_fx``,
walked with adders only); each word reaches PPUPool two edges later (the
port, then CmpEngine's register of the block RAM's output) and a window's
result leaves it ``PPUPool.LATENCY`` (1) edge after its last word:
``out_valid`` in ``S + k·w + 3`` for window k (1-based), which is where it
enters PPURequant. With the requantizer's ``LATENCY`` (8) the last OBUF
write is in ``S + n·w + 3 + 8``: ``D = n·w + 4 + PPURequant.LATENCY``.

At ``ppu_rate`` R > 1 (hwgen/timing.py's ``pool_cycles``) a window's last read waits until R
cycles after the previous window's: ``n·w`` becomes ``w + (n - 1)·max(w, R)``, and the
requantizer's ``latency`` is ``R - 1`` edges longer.

``cont``: the first window's first word does not restart PPUPool's running
max or sum, so that window goes on from where the previous POOL's last window
left it (the bands of a window too big for an IBUF half); timing unchanged.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..accel_config import AccelConfig
from ..encoding import Encoding
from ..isa import INSTRUCTION_BITS, Pool
from .decode import fields
from .ppu_pool import PPUPool

__all__ = ["PoolUnit"]


class PoolUnit(wiring.Component):
    """POOL window walk and reducer of ``cfg`` (timing in the module docstring)."""

    #: cycles from S to a window's result at PPURequant, past its n·w reads
    TO_REQUANT = 2 + PPUPool.LATENCY + 1

    def __init__(self, cfg: AccelConfig) -> None:
        self.cfg = cfg
        self.enc = Encoding(cfg)
        L = cfg.lanes
        super().__init__(
            {
                "start": In(1),
                "instr": In(INSTRUCTION_BITS),
                "ibuf_r_addr": Out(range(cfg.words("ibuf"))),
                "ibuf_r_data": In(8 * L),
                "out_valid": Out(1),
                "out": Out(data.ArrayLayout(cfg.acc_bits, L)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, enc = self.cfg, self.enc
        m.submodules.pool = pool = PPUPool(cfg.lanes, cfg.acc_bits)
        f = fields(enc, Pool, self.instr)
        ib = enc.widths["ib"]
        names = ("c", "oy", "ox", "fy", "fx")  # outermost first
        cw = max(enc.widths["obn"], enc.widths["ibn"])
        stride = [Signal(ib, name=f"s_{k}") for k in names]
        idx = [Signal(cw, name=f"i_{k}") for k in names]
        base = [Signal(ib, name=f"base_{k}") for k in names]  # address with the inner indices zero
        # carry: the window being read goes on from PPUPool's running value (``cont``, first window only)
        mode, active, carry = Signal(), Signal(), Signal()
        # The walk's tests are registers (a step reads flip-flops only): level k at its end
        # (index == count - 1), at 0, and at a fresh start (count == 1); ``count2`` = count - 2,
        # the index at which a step reaches the end.
        end = [Signal(name=f"end_{k}") for k in names]
        zero = [Signal(name=f"zero_{k}") for k in names]
        end0 = [Signal(name=f"end0_{k}") for k in names]
        count2 = [Signal(cw, name=f"n2_{k}") for k in names]

        # At ppu_rate R > 1 a window's last word is read R cycles after the previous window's at the
        # earliest (PPURequant takes a word every R cycles): the walk stalls on it (a stalled cycle reads
        # again and delivers nothing), so a window costs max(w, R) reads but the first.
        R, win_last = cfg.ppu_rate, end[3] & end[4]
        pw = Signal(range(max(R, 2)), name="pool_pace")
        go = active & ~(win_last & (pw != 0)) if R > 1 else active
        if R > 1:
            with m.If(go & win_last):
                m.d.sync += pw.eq(R - 1)
            with m.Elif(pw != 0):
                m.d.sync += pw.eq(pw - 1)
        with m.If(go & win_last):  # a window's last word: the next window starts afresh
            m.d.sync += carry.eq(0)
        with m.If(self.start):  # after the clear above: a start wins
            m.d.sync += [mode.eq(f["mode"]), active.eq(1), carry.eq(f["cont"])]
            m.d.sync += [c.eq(f[f"n_{k}"] - 2) for c, k in zip(count2, names, strict=True)]
            m.d.sync += [e.eq(f[f"n_{k}"] == 1) for e, k in zip(end, names, strict=True)]
            m.d.sync += [e.eq(f[f"n_{k}"] == 1) for e, k in zip(end0, names, strict=True)]
            m.d.sync += [s.eq(f[f"s_{k}"]) for s, k in zip(stride, names, strict=True)]
            m.d.sync += [i.eq(0) for i in idx] + [z.eq(1) for z in zero] + [b.eq(f["src"]) for b in base]
        m.d.comb += self.ibuf_r_addr.eq(base[-1])
        with m.If(go):
            # Step the innermost level not at its end; the levels inside it restart.
            for n, k in enumerate(reversed(range(len(names)))):
                with (m.If if n == 0 else m.Elif)(~end[k]):
                    nxt = base[k] + stride[k]
                    m.d.sync += [idx[k].eq(idx[k] + 1), end[k].eq(idx[k] == count2[k]), zero[k].eq(0)]
                    m.d.sync += [b.eq(nxt) for b in base[k:]]
                    m.d.sync += [i.eq(0) for i in idx[k + 1 :]] + [z.eq(1) for z in zero[k + 1 :]]
                    m.d.sync += [e.eq(e0) for e, e0 in zip(end[k + 1 :], end0[k + 1 :], strict=True)]
            with m.Else():
                m.d.sync += active.eq(0)

        # The word is on the IBUF port one edge after its read and in CmpEngine's
        # register one edge later: its flags travel two edges.
        valid0, first0, last0, valid, first, last = Signal(), Signal(), Signal(), Signal(), Signal(), Signal()
        m.d.sync += [
            valid0.eq(go),
            first0.eq(zero[3] & zero[4] & ~carry),
            last0.eq(end[3] & end[4]),
            valid.eq(valid0),
            first.eq(first0),
            last.eq(last0),
        ]
        m.d.comb += [
            pool.in_valid.eq(valid),
            pool.first.eq(first),
            pool.last.eq(last),
            pool.op.eq(mode),
            pool.x.eq(self.ibuf_r_data),
            self.out_valid.eq(pool.out_valid),
            self.out.eq(pool.out),
        ]
        return m
