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
        count = [Signal(max(enc.widths["obn"], enc.widths["ibn"]), name=f"n_{k}") for k in names]
        stride = [Signal(ib, name=f"s_{k}") for k in names]
        idx = [Signal(len(count[0]), name=f"i_{k}") for k in names]
        base = [Signal(ib, name=f"base_{k}") for k in names]  # address with the inner indices zero
        # carry: the window being read goes on from PPUPool's running value (``cont``, first window only)
        mode, active, carry = Signal(), Signal(), Signal()
        end = [i == n for i, n in zip(idx, count, strict=True)]  # count holds the loop count - 1

        with m.If(active & end[3] & end[4]):  # a window's last word: the next window starts afresh
            m.d.sync += carry.eq(0)
        with m.If(self.start):  # after the clear above: a start wins
            m.d.sync += [mode.eq(f["mode"]), active.eq(1), carry.eq(f["cont"])]
            m.d.sync += [c.eq(f[f"n_{k}"] - 1) for c, k in zip(count, names, strict=True)]
            m.d.sync += [s.eq(f[f"s_{k}"]) for s, k in zip(stride, names, strict=True)]
            m.d.sync += [i.eq(0) for i in idx] + [b.eq(f["src"]) for b in base]
        m.d.comb += self.ibuf_r_addr.eq(base[-1])
        with m.If(active):
            # Step the innermost level not at its end; the levels inside it restart.
            for n, k in enumerate(reversed(range(len(names)))):
                with (m.If if n == 0 else m.Elif)(~end[k]):
                    nxt = base[k] + stride[k]
                    m.d.sync += [idx[k].eq(idx[k] + 1)] + [b.eq(nxt) for b in base[k:]]
                    m.d.sync += [i.eq(0) for i in idx[k + 1 :]]
            with m.Else():
                m.d.sync += active.eq(0)

        # The word is on the IBUF port one edge after its read and in CmpEngine's
        # register one edge later: its flags travel two edges.
        valid0, first0, last0, valid, first, last = Signal(), Signal(), Signal(), Signal(), Signal(), Signal()
        m.d.sync += [
            valid0.eq(active),
            first0.eq((idx[3] == 0) & (idx[4] == 0) & ~carry),
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
