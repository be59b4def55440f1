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
   to fit one 18-bit DSP (a 16-bit DSP may need two: :func:`dsp_count`) —
   get DSPs so that the LUTs saved (:func:`lut_cost` of each site's LUT
   implementation) are the most any split of the budget saves. On ECP5 that
   is the requantizer's 17-bit partial products (~500 LUTs each) first, then
   PPUAdd's int8 x 17-bit ones (~250), then the PE array's int8 x int8 (~136);
3. every unit receives a count: its first ``n`` sites (in :func:`unit_sites`
   order, which is already largest first) use ``*``, the rest
   :func:`dian.hwgen.rtl.multiplier.product` with ``dsp=False``. Because a
   unit's DSP sites are a prefix of its list, a greedy order by LUTs saved
   per DSP is not optimal when a later site saves more per DSP than an
   earlier one (16-bit DSPs: a 2-DSP part before a 1-DSP part), so the plan
   tries every (requant, add) prefix pair and fills the PE array — whose
   sites are all alike — with what is left.

Cycle timing and arithmetic do not depend on the plan; only the netlist does.
This module is plain Python (no Amaranth) so that config validation can use
it; it reads only the config's lanes, accumulator width and target, so it
sits below :mod:`~dian.hwgen.accel_config` in the import order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple, Protocol

from .targets import TARGET_FABRIC, Fabric, Target

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

    @property
    def ppu_rate(self) -> int: ...


class _Sizes(NamedTuple):
    lanes: int
    acc_bits: int
    target: Target
    ppu_rate: int


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
    ``requant`` and ``add``: part-major (:func:`split_parts` order), lane-minor
    (the requantizer's ``L / ppu_rate`` slots: it takes a word in ``ppu_rate``
    cycles); ``pe_array``: PE(r, c) at index ``r * L + c``."""
    L = cfg.lanes
    rq = split_parts(*requant_operands(cfg.acc_bits))
    ad = split_parts(*add_operands())
    return {
        "requant": tuple((p.a, p.b) for p in rq for _ in range(L // cfg.ppu_rate)),
        "add": tuple((p.a, p.b) for p in ad for _ in range(L)),
        "pe_array": ((Operand(8, True), Operand(8, True)),) * (L * L),
    }


@dataclass(frozen=True)
class DspPlan:
    """How many of each unit's sites use a DSP (the first ones in
    :func:`unit_sites` order), and what that costs."""

    target: str
    budget: int | None  # the target's DSPs; None = unlimited
    requant: int  # sites, not DSP blocks (a site may take two 16-bit DSPs)
    add: int
    pe_array: int
    sites: int  # datapath products in all
    dsps: int  # DSP blocks the DSP sites take: the design's DSPs (nothing else multiplies)
    lut_product_luts: int  # estimated LUT4s of the LUT products

    @property
    def dsp_sites(self) -> int:
        return self.requant + self.add + self.pe_array

    def describe(self) -> str:
        limit = "unlimited" if self.budget is None else f"{self.budget}"
        return (
            f"DSP plan for {self.target} ({limit} DSPs): "
            f"PPURequant {self.requant}, PPUAdd {self.add}, PE array {self.pe_array}; "
            f"{self.sites - self.dsp_sites} of {self.sites} datapath products in LUTs "
            f"(~{self.lut_product_luts:,} LUT4)"
        )


def _prefix_sums(values: list[int]) -> list[int]:
    return [0, *accumulate(values)]


def plan_dsps(cfg: Sizes) -> DspPlan:
    """The plan for ``cfg`` on ``cfg.target`` (see the module docstring).

    Exact: every count of requantizer and PPUAdd sites is tried (at most
    4L/R x 2L + 1 pairs), and the PE array, whose L*L sites all cost and save
    the same, takes as many as the DSPs left allow. Ties go to the plan that
    gives the earlier unit of :data:`UNITS` more DSPs."""
    fabric = TARGET_FABRIC[cfg.target]
    return _plan(cfg.lanes, cfg.acc_bits, cfg.target, fabric, cfg.ppu_rate)


@lru_cache(maxsize=256)
def _plan(lanes: int, acc_bits: int, target: Target, fabric: Fabric | None, ppu_rate: int = 1) -> DspPlan:
    """:func:`plan_dsps` on hashable values (the search asks for the same plan
    many times; the fabric is part of the key so tests may patch it)."""
    sites = unit_sites(_Sizes(lanes, acc_bits, target, ppu_rate))
    total = sum(len(s) for s in sites.values())
    dsp_bits = 18 if fabric is None else fabric.dsp_bits
    cost = {u: _prefix_sums([dsp_count(a, b, dsp_bits) for a, b in s]) for u, s in sites.items()}
    saved = {u: _prefix_sums([lut_cost(a, b) for a, b in s]) for u, s in sites.items()}
    all_luts = sum(saved[u][-1] for u in sites)
    if fabric is None:
        counts = {u: len(s) for u, s in sites.items()}
        dsps = sum(cost[u][-1] for u in sites)
        return DspPlan(target.value, None, sites=total, dsps=dsps, lut_product_luts=0, **counts)
    budget = fabric.dsps
    pe_each = dsp_count(*sites["pe_array"][0], dsp_bits)
    best: tuple[int, int, int] | None = None
    best_key: tuple[int, int, int] = (-1, -1, -1)
    for n_rq in range(len(sites["requant"]) + 1):
        if cost["requant"][n_rq] > budget:
            break
        for n_add in range(len(sites["add"]) + 1):
            left = budget - cost["requant"][n_rq] - cost["add"][n_add]
            if left < 0:
                break
            n_pe = min(len(sites["pe_array"]), left // pe_each)
            key = (saved["requant"][n_rq] + saved["add"][n_add] + saved["pe_array"][n_pe], n_rq, n_add)
            if key > best_key:
                best, best_key = (n_rq, n_add, n_pe), key
    assert best is not None  # (0, 0, 0) always fits
    counts = dict(zip(UNITS, best, strict=True))
    dsps = sum(cost[u][counts[u]] for u in UNITS)
    return DspPlan(target.value, budget, sites=total, dsps=dsps, lut_product_luts=all_luts - best_key[0], **counts)
