"""The DSP plan (hwgen/dsp_plan.py): every preset fits its target's DSPs, the
allocation follows the LUTs each DSP saves, and the partial-product split
reassembles the full product (checked with Python integers)."""

from __future__ import annotations

import random

import pytest

from dian.hwgen.dsp_plan import (
    Operand,
    add_operands,
    dsp_count,
    lut_cost,
    plan_dsps,
    requant_operands,
    split_parts,
    unit_sites,
)
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import TARGET_FABRIC


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_fits_its_targets_dsps(name: str) -> None:
    cfg = PRESETS[name]
    plan = plan_dsps(cfg)
    assert plan.dsps <= TARGET_FABRIC[cfg.target].dsps
    sites = unit_sites(cfg)
    assert plan.sites == sum(len(s) for s in sites.values())
    assert 0 <= plan.requant <= len(sites["requant"]) and 0 <= plan.add <= len(sites["add"])
    assert 0 <= plan.pe_array <= len(sites["pe_array"])


def test_hand_derived_plans() -> None:
    # default, 16 lanes on ecp5-85k: 156 DSPs; requant 4 x 16 parts (~440-600 LUTs each)
    # first, then PPUAdd's 2 x 16 (~230-270), the remaining 60 for the 256 PEs (~136 each).
    d = plan_dsps(PRESETS["default"])
    assert (d.requant, d.add, d.pe_array) == (64, 32, 60)
    # small, 8 lanes: 32 + 16 + 64 = 112 <= 150: everything keeps its DSP.
    s = plan_dsps(PRESETS["small"])
    assert (s.requant, s.add, s.pe_array, s.lut_product_luts) == (32, 16, 64, 0)
    # tiny on ecp5-25k: 28 = 16 requant + 8 PPUAdd parts + 4 of the 16 PEs.
    t = plan_dsps(PRESETS["tiny"])
    assert (t.requant, t.add, t.pe_array) == (16, 8, 4)


def test_generic_keeps_every_dsp() -> None:
    cfg = PRESETS["default"].with_target("generic")
    L = cfg.lanes
    plan = plan_dsps(cfg)
    assert (plan.budget, plan.requant, plan.add, plan.pe_array, plan.lut_product_luts) == (None, 4 * L, 2 * L, L * L, 0)


@pytest.mark.parametrize("acc_bits", [16, 18, 19, 24, 32])
def test_split_parts_reassemble_the_product(acc_bits: int) -> None:
    rng = random.Random(acc_bits)
    for a_op, b_op in (requant_operands(acc_bits), add_operands()):
        parts = split_parts(a_op, b_op)
        for p in parts:  # each part fits one 18 x 18 signed multiplier
            assert p.a.signed_bits <= 18 and p.b.signed_bits <= 18
        a_lo, a_hi = -(2 ** (a_op.bits - 1)), 2 ** (a_op.bits - 1) - 1
        for _ in range(300):
            a, b = (
                rng.choice([a_lo, a_hi, -1, rng.randint(a_lo, a_hi)]),
                rng.choice([0, 2**31 - 1, rng.randrange(2**31)]),
            )
            total = 0
            for p in parts:
                pa = (a >> p.a_lo) & (2**p.a.bits - 1)
                pa -= 2**p.a.bits if p.a.signed and pa >> (p.a.bits - 1) else 0
                pb = (b >> p.b_lo) & (2**p.b.bits - 1)
                total += pa * pb << p.offset
            assert total == a * b
    assert len(split_parts(*requant_operands(32))) == 4 and len(split_parts(*requant_operands(18))) == 2


def test_dsp_count_by_hand() -> None:
    u17, s8 = Operand(17, False), Operand(8, True)
    assert dsp_count(u17, u17, 18) == 1 and dsp_count(s8, s8, 18) == 1
    assert dsp_count(u17, u17, 16) == 4  # 18 signed bits need two 16-bit pieces a side
    assert dsp_count(Operand(32, True), Operand(31, False), 18) == 4
    assert lut_cost(s8, s8) > 8 * 8 and lut_cost(u17, u17) > lut_cost(s8, Operand(17, False)) > lut_cost(s8, s8)
