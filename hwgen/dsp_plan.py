"""Which multipliers of an accelerator get a hard DSP block, and which are
built from LUTs (issue 4: every preset must fit its FPGA target).

Yosys maps every ``*`` to DSPs (ECP5: MULT18X18D, 18 x 18 signed), but the
datapath has more products than a small FPGA has DSPs (``tiny``: 45 of the
ECP5-25k's 28). The plan is a pure function of the :class:`AccelConfig`:

1. the budget is the target's DSP count (``TARGET_FABRIC``; ``generic``:
   unlimited, every product keeps its DSP). Nothing outside the datapath
   multiplies: the instruction encoder fills in every derived field, so the
   engines' decode has no products for Yosys to map to DSPs;
2. the datapath's products — the *sites* of :func:`unit_sites`, each sized
   to fit one DSP — get a DSP in order of the LUTs that saves (:func:`lut_cost`
   of the site's LUT implementation per DSP it takes): the requantizer's
   17-bit partial products (~500 LUTs each) first, then PPUAdd's int8 x 17-bit
   ones (~250), then the PE array's int8 x int8 (~136);
3. every unit receives a count: its first ``n`` sites (in :func:`unit_sites`
   order, which is already largest first) use ``*``, the rest
   :func:`dian.hwgen.rtl.multiplier.product` with ``dsp=False``.

Cycle timing and arithmetic do not depend on the plan; only the netlist does.
This module is plain Python (no Amaranth) so that config validation can use
it; it reads only the config's lanes, accumulator width and target, so it
sits below :mod:`~dian.hwgen.accel_config` in the import order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .targets import TARGET_FABRIC, Target

__all__ = [
    "PIECE_BITS",
    "UNITS",
    "DspPlan",
    "Operand",
    "Part",
    "dsp_count",
    "lut_cost",
    "plan_dsps",
    "split_parts",
    "unit_sites",
]

#: Bits of an unsigned low operand piece: 17 bits fit an 18-bit signed DSP input.
PIECE_BITS = 17
#: The datapath units with multiplier sites, in tie-break order.
UNITS = ("requant", "add", "pe_array")
_M_BITS = 31  # requant multipliers: Requant.MULTIPLIER_BITS, unsigned


class Sizes(Protocol):
    """What the plan reads of an :class:`~dian.hwgen.accel_config.AccelConfig`."""

    @property
    def lanes(self) -> int: ...

    @property
    def acc_bits(self) -> int: ...

    @property
    def target(self) -> Target: ...


@dataclass(frozen=True)
class Operand:
    """Width and signedness of one multiplier input."""

    bits: int
    signed: bool

    @property
    def signed_bits(self) -> int:
        """Bits as a signed number (an unsigned operand needs one more)."""
        return self.bits + (not self.signed)


@dataclass(frozen=True)
class Part:
    """One partial product of a wide product: ``a[a_lo : a_lo + a.bits]`` times
    ``b[b_lo : b_lo + b.bits]``, weighted ``2 ** (a_lo + b_lo)``. A piece is
    signed only when it holds its operand's sign bit."""

    a_lo: int
    a: Operand
    b_lo: int
    b: Operand

    @property
    def offset(self) -> int:
        return self.a_lo + self.b_lo


def _pieces(op: Operand) -> list[tuple[int, Operand]]:
    if op.signed_bits <= PIECE_BITS + 1:
        return [(0, op)]
    out, lo = [], 0
    while op.bits - lo > PIECE_BITS + (not op.signed):
        out.append((lo, Operand(PIECE_BITS, False)))
        lo += PIECE_BITS
    return [*out, (lo, Operand(op.bits - lo, op.signed))]


def split_parts(a: Operand, b: Operand) -> tuple[Part, ...]:
    """The DSP-sized partial products of ``a * b`` (every piece fits an 18-bit
    signed input: low pieces are 17 unsigned bits), largest LUT cost first
    (ties: lower offset first)."""
    parts = [Part(alo, ap, blo, bp) for alo, ap in _pieces(a) for blo, bp in _pieces(b)]
    return tuple(sorted(parts, key=lambda p: (-lut_cost(p.a, p.b), p.offset, p.a_lo)))


def lut_cost(a: Operand, b: Operand) -> int:
    """Estimated ECP5 LUT4s of the LUT product (hwgen/rtl/multiplier.py): one LUT
    per partial-product bit (the ``b[j] ? a : 0`` rows of the narrower
    operand) plus one per bit of each carry-chain adder of the balanced tree
    (a CCU2C is two LUT4s for two bits). Within 5 % of ``synth_ecp5`` from
    int8 x int8 (136) to 17 x 17 (601); tests/hwgen/rtl/test_multiplier.py checks."""
    wide, narrow = (a, b) if a.bits >= b.bits else (b, a)
    adder_bits, level, n = 0, 0, narrow.bits
    while n > 1:
        level += 1
        adder_bits += (n // 2) * (wide.bits + 2 ** (level - 1) + 1)
        n -= n // 2
    return narrow.bits * wide.bits + adder_bits


def dsp_count(a: Operand, b: Operand, dsp_bits: int) -> int:
    """DSP blocks Yosys uses for ``a * b`` on a target whose DSP multiplies
    ``dsp_bits`` x ``dsp_bits`` signed: one per pair of operand pieces."""

    def pieces(op: Operand) -> int:
        return 1 if op.signed_bits <= dsp_bits else -(-(op.signed_bits - 1) // (dsp_bits - 1))

    return pieces(a) * pieces(b)


def requant_operands(acc_bits: int) -> tuple[Operand, Operand]:
    """PPURequant's product: ``acc + bias`` (``acc_bits`` signed) x ``M`` (31 unsigned)."""
    return Operand(acc_bits, True), Operand(_M_BITS, False)


def add_operands() -> tuple[Operand, Operand]:
    """PPUAdd's product: an int8 operand x ``Ma`` or ``Mb`` (31 unsigned)."""
    return Operand(8, True), Operand(_M_BITS, False)


def unit_sites(cfg: Sizes) -> dict[str, tuple[tuple[Operand, Operand], ...]]:
    """Every datapath product, per unit, in the order the unit assigns DSPs:
    ``requant`` and ``add``: part-major (:func:`split_parts` order), lane-minor;
    ``pe_array``: PE(r, c) at index ``r * L + c``."""
    L = cfg.lanes
    rq = split_parts(*requant_operands(cfg.acc_bits))
    ad = split_parts(*add_operands())
    return {
        "requant": tuple((p.a, p.b) for p in rq for _ in range(L)),
        "add": tuple((p.a, p.b) for p in ad for _ in range(L)),
        "pe_array": ((Operand(8, True), Operand(8, True)),) * (L * L),
    }


@dataclass(frozen=True)
class DspPlan:
    """How many of each unit's sites use a DSP (the first ones in
    :func:`unit_sites` order), and what that costs."""

    target: str
    budget: int | None  # the target's DSPs; None = unlimited
    requant: int
    add: int
    pe_array: int
    sites: int  # datapath products in all
    lut_product_luts: int  # estimated LUT4s of the LUT products

    @property
    def datapath_dsps(self) -> int:
        return self.requant + self.add + self.pe_array

    @property
    def dsps(self) -> int:
        """DSPs the design is expected to use: the datapath's (nothing else multiplies)."""
        return self.datapath_dsps

    def describe(self) -> str:
        limit = "unlimited" if self.budget is None else f"{self.budget}"
        return (
            f"DSP plan for {self.target} ({limit} DSPs): "
            f"PPURequant {self.requant}, PPUAdd {self.add}, PE array {self.pe_array}; "
            f"{self.sites - self.datapath_dsps} of {self.sites} datapath products in LUTs "
            f"(~{self.lut_product_luts:,} LUT4)"
        )


def plan_dsps(cfg: Sizes) -> DspPlan:
    """The plan for ``cfg`` on ``cfg.target`` (see the module docstring)."""
    fabric = TARGET_FABRIC[cfg.target]
    sites = unit_sites(cfg)
    total = sum(len(s) for s in sites.values())
    if fabric is None:
        counts = {u: len(s) for u, s in sites.items()}
        return DspPlan(cfg.target.value, None, sites=total, lut_product_luts=0, **counts)
    budget, dsp_bits = fabric.dsps, fabric.dsp_bits
    left = budget
    order = sorted(
        (
            (-lut_cost(a, b) / dsp_count(a, b, dsp_bits), UNITS.index(u), i, u, dsp_count(a, b, dsp_bits))
            for u, s in sites.items()
            for i, (a, b) in enumerate(s)
        )
    )
    counts = dict.fromkeys(sites, 0)
    closed: set[str] = set()
    for _, _, i, unit, need in order:
        if unit in closed or i != counts[unit]:
            continue
        if need > left:  # keep each unit's DSP sites a prefix of its list
            closed.add(unit)
            continue
        counts[unit] += 1
        left -= need
    luts = sum(lut_cost(a, b) for u, s in sites.items() for a, b in s[counts[u] :])
    return DspPlan(cfg.target.value, budget, sites=total, lut_product_luts=luts, **counts)
