"""The DSP plan (hwgen/dsp_plan.py): every preset fits its target's DSPs, the
allocation saves as many LUTs as the best assignment an exhaustive search over
every split of the budget finds, and the partial-product split reassembles the
full product (checked with Python integers). Yosys's DSP cells per unit:
tests/hwgen/tools/test_synth_tiny.py and test_synth_small.py."""

from __future__ import annotations

import dataclasses
import random
from types import SimpleNamespace

import numpy as np
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
from dian.hwgen.targets import TARGET_FABRIC, Fabric, Target


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_fits_its_targets_dsps(name: str) -> None:
    cfg = PRESETS[name]
    plan = plan_dsps(cfg)
    assert plan.dsps <= TARGET_FABRIC[cfg.target].dsps
    sites = unit_sites(cfg)
    assert plan.sites == sum(len(s) for s in sites.values())
    assert 0 <= plan.requant <= len(sites["requant"]) and 0 <= plan.add <= len(sites["add"])
    assert 0 <= plan.pe_array <= len(sites["pe_array"])


def _best_prefix_savings(cfg, budget: int, dsp_bits: int) -> int:  # type: ignore[no-untyped-def]
    """The most LUTs any assignment can save that gives each unit's first n sites (in unit_sites
    order, which the RTL follows) a DSP, within ``budget`` DSPs: every (n_requant, n_add, n_pe)
    tried, no greedy order involved."""
    cost, saved = {}, {}
    for u, s in unit_sites(cfg).items():
        cost[u] = np.concatenate([[0], np.cumsum([dsp_count(a, b, dsp_bits) for a, b in s])])
        saved[u] = np.concatenate([[0], np.cumsum([lut_cost(a, b) for a, b in s])])
    grid = np.ix_(range(len(cost["requant"])), range(len(cost["add"])), range(len(cost["pe_array"])))
    total_cost = cost["requant"][grid[0]] + cost["add"][grid[1]] + cost["pe_array"][grid[2]]
    total_saved = saved["requant"][grid[0]] + saved["add"][grid[1]] + saved["pe_array"][grid[2]]
    return int(total_saved[total_cost <= budget].max())


def _saved(cfg, plan) -> int:  # type: ignore[no-untyped-def]
    return sum(lut_cost(a, b) for s in unit_sites(cfg).values() for a, b in s) - plan.lut_product_luts


def test_hand_derived_plans() -> None:
    # default, 16 lanes on ecp5-85k: 156 DSPs; requant 4 x 16 parts (~440-600 LUTs each)
    # first, then PPUAdd's 2 x 16 (~230-270), the remaining 60 for the 256 PEs (~136 each).
    d = plan_dsps(PRESETS["default"])
    assert (d.requant, d.add, d.pe_array) == (64, 32, 60)
    # small, 8 lanes: 32 + 16 + 64 = 112 <= 156: everything keeps its DSP.
    s = plan_dsps(PRESETS["small"])
    assert (s.requant, s.add, s.pe_array, s.lut_product_luts) == (32, 16, 64, 0)
    # tiny on ecp5-25k: 28 = 16 requant + 8 PPUAdd parts + 4 of the 16 PEs.
    t = plan_dsps(PRESETS["tiny"])
    assert (t.requant, t.add, t.pe_array) == (16, 8, 4)
    # A second derivation: no other split of each target's DSPs saves more LUTs.
    for name, plan in (("default", d), ("small", s), ("tiny", t)):
        cfg = PRESETS[name]
        assert _saved(cfg, plan) == _best_prefix_savings(cfg, TARGET_FABRIC[cfg.target].dsps, 18), name


@pytest.mark.parametrize("rate", [2, 4])
def test_a_slower_requantizer_gives_its_dsps_to_the_pe_array(rate: int) -> None:
    """default at ppu_rate R: the requantizer has 4 x 16 / R parts (still first: the largest LUT
    versions), PPUAdd keeps its 2 x 16, and the PE array takes what is left of the 156."""
    d = plan_dsps(dataclasses.replace(PRESETS["default"], ppu_rate=rate))
    assert (d.requant, d.add, d.pe_array) == (64 // rate, 32, 156 - 64 // rate - 32)


@pytest.mark.parametrize("acc_bits", [16, 24, 32])
@pytest.mark.parametrize("lanes", [2, 4, 8])
def test_plan_saves_as_many_luts_as_the_best_assignment(
    monkeypatch: pytest.MonkeyPatch, lanes: int, acc_bits: int
) -> None:
    """Every budget from none to one more than all the sites need, on an ECP5-like target
    (18-bit DSPs: every site takes one)."""
    cfg = SimpleNamespace(lanes=lanes, acc_bits=acc_bits, target=Target.ECP5_25K, ppu_rate=1)
    sites = sum(len(s) for s in unit_sites(cfg).values())
    for budget in range(sites + 2):
        monkeypatch.setitem(TARGET_FABRIC, Target.ECP5_25K, Fabric(luts=24_288, dsps=budget, dsp_bits=18))
        plan = plan_dsps(cfg)
        assert plan.dsps <= budget and plan.dsps == min(budget, sites)  # no DSP left idle
        assert _saved(cfg, plan) == _best_prefix_savings(cfg, budget, 18), budget


def _ice40_like(monkeypatch: pytest.MonkeyPatch, dsps: int):  # type: ignore[no-untyped-def]
    """2 lanes, 16-bit accumulators on a target of ``dsps`` 16-bit DSPs. Requant parts 16s x 17u
    (2 DSPs of 16 bits each) and 16s x 14u (1), PPUAdd's 8s x 17u (2) and 8s x 14u (1), one per PE:
    2 * 3 + 2 * 3 + 4 = 16 DSPs for every product."""
    monkeypatch.setitem(TARGET_FABRIC, Target.ICE40_UP5K, Fabric(luts=5280, dsps=dsps, dsp_bits=16))
    return SimpleNamespace(lanes=2, acc_bits=16, target=Target.ICE40_UP5K, ppu_rate=1)


def test_plan_on_16_bit_dsps_keeps_every_product_on_a_dsp_when_all_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _ice40_like(monkeypatch, 20)
    plan = plan_dsps(cfg)
    assert (plan.requant, plan.add, plan.pe_array, plan.lut_product_luts) == (4, 4, 4, 0)


def test_plan_dsps_counts_dsp_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _ice40_like(monkeypatch, 8)
    plan = plan_dsps(cfg)
    counts = {"requant": plan.requant, "add": plan.add, "pe_array": plan.pe_array}
    blocks = sum(dsp_count(a, b, 16) for u, s in unit_sites(cfg).items() for a, b in s[: counts[u]])
    assert plan.dsps == blocks <= 8


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
