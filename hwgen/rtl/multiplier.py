"""Exact integer products in one of two implementations, chosen per instance.

``product(m, a, b, dsp=True)`` is Amaranth's ``a * b``: Yosys turns every
``$mul`` cell into hard multipliers (ECP5 MULT18X18D), which is what makes a
small product cheap — but an FPGA has few of them (28 on an ECP5-25k), and the
generated accelerator has more products than that. ``dsp=False`` builds the
same product from logic Yosys cannot map to a DSP: one row ``b[j] ? a : 0`` per
bit of the narrower operand (the sign bit of a signed operand weighs
``-2**(n-1)``, so its row is subtracted), summed by a balanced tree of adders.
Each adder is a kept wire, so Yosys builds it as a carry chain (CCU2C) rather
than merging the tree into one ``$macc`` of LUT full adders; rows add only
from the higher row's offset up, the lower row's low bits pass through.

Both are combinational and give the same value of the same shape as ``a * b``
(width ``len(a) + len(b)``, signed if either operand is); the caller registers
the result, so the choice never changes a pipeline's latency. Which products
get a DSP is decided per accelerator by :mod:`dian.hwgen.dsp_plan`.
"""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value

from .datapath import kept

__all__ = ["check_dsp", "product"]


def product(m: Module, a: Value, b: Value, *, dsp: bool, name: str) -> Value:
    """``a * b``, exact, combinational; ``dsp``: as Amaranth's ``*`` (a DSP
    after synthesis), else as a LUT adder tree. ``name`` prefixes the tree's
    wires."""
    a, b = Value.cast(a), Value.cast(b)
    shape = (a * b).shape()
    out = Signal(shape, name=name)
    if dsp:
        m.d.comb += out.eq(a * b)
        return out
    if len(b) > len(a):
        a, b = b, a
    # Terms: (value, offset, subtract).
    terms = []
    for j in range(len(b)):
        row = Mux(b[j], a, 0)
        terms.append((row, j, b.shape().signed and j == len(b) - 1))
    level = 0
    while len(terms) > 1:
        paired = []
        for k in range(0, len(terms) - 1, 2):
            paired.append(_add(m, terms[k], terms[k + 1], f"{name}_l{level}_{k // 2}"))
        if len(terms) % 2:
            paired.append(terms[-1])
        terms, level = paired, level + 1
    value, offset, subtract = terms[0]
    if subtract:  # a single-bit signed ``b``
        value = -value
    m.d.comb += out.eq(value << offset)
    return out


def _add(m: Module, x: tuple[Value, int, bool], y: tuple[Value, int, bool], name: str) -> tuple[Value, int, bool]:
    """``x + y`` (or ``x - y`` when ``y`` is the subtracted row) of two terms,
    ``x`` at the lower offset: ``x``'s bits below ``y``'s offset pass through,
    the rest is one carry-chain adder."""
    (xv, xo, xs), (yv, yo, ys) = x, y
    assert xo <= yo and not xs
    d = yo - xo
    if len(xv) <= d:  # all of x below y: extend it by its sign
        pad = xv[-1] if xv.shape().signed else C(0, 1)
        ext = Cat(xv, pad.replicate(d + 1 - len(xv)))
        xv = ext.as_signed() if xv.shape().signed else ext
    high = xv >> d
    total = high - yv if ys else high + yv
    s = kept(total.shape(), name)
    m.d.comb += s.eq(total)
    if d == 0:
        return s, xo, False
    value = Cat(xv[:d], s)
    return (value.as_signed() if s.shape().signed else value), xo, False


def check_dsp(dsp: int | None, sites: int) -> int:
    """A unit's ``dsp`` parameter (how many of its ``sites`` products use a
    DSP; ``None``: all) as a count."""
    if dsp is None:
        return sites
    if not isinstance(dsp, int) or not 0 <= dsp <= sites:
        raise ValueError(f"dsp must be None or an integer from 0 to {sites} (the unit's products), not {dsp!r}")
    return dsp
