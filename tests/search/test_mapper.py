"""search/mapper.py: exact predictions; on small layers its choice is the fastest of every legal
tiling in every array mode, each one run in sim/machine (a brute force that does not use the
cost model); and the objectives trade off as they say."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from int_layers import ConvSpec, add_graph, conv_graph, linear_graph, pool_graph, random_mac_params
from machine_cases import CRAMPED, zoo_graph

from dian.errors import MappingError
from dian.hwgen import timing
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.scheduler import choose, plan_graph
from dian.hwgen.lower.tile_search import Tiling, blocked_candidates, gemm_candidates, kernel_splits
from dian.hwgen.lower.workload import Work, WorkKind
from dian.hwgen.presets import PRESETS
from dian.ir import Graph
from dian.search.cost_model import layer_cost, network_cost, part_channels
from dian.search.energy import layer_energy_pj
from dian.search.mapper import Mapper, map_graph
from dian.sim.machine import run_lowered


@pytest.fixture(scope="module")
def nets() -> dict[str, Graph]:
    return {name: zoo_graph(name) for name in ("lenet", "mobilenet_small")}


@pytest.mark.parametrize("preset", ["tiny", "small", "default"])
@pytest.mark.parametrize("name", ["lenet", "mobilenet_small"])
def test_predictions_are_the_machine_counters(nets, name: str, preset: str) -> None:  # type: ignore[no-untyped-def]
    g, cfg = nets[name], PRESETS[preset]
    plans = map_graph(g, cfg)
    c = run_lowered(lower_graph(g, cfg, plans), {n: np.zeros(g.tensors[n].shape, np.int8) for n in g.inputs}).counters
    preds = [p.schedule.prediction for p in plans]
    assert sum(p.cycles for p in preds) + timing.boot_cycles(cfg) + timing.done_cycles(cfg) == c.cycles
    assert sum(p.dram_bytes_read for p in preds) + timing.boot_bytes(cfg) == c.dram_bytes_read
    assert sum(p.dram_bytes_written for p in preds) == c.dram_bytes_written


def _legal_tilings(w: Work, cfg) -> list[Tiling]:  # type: ignore[no-untyped-def]
    """Every tiling of ``w`` that fits the buffers and IMEM (the tile search's whole grid, every
    kernel split and loop order; no ranking, no cut)."""
    if w.kind is WorkKind.GEMM:
        grids = [g for fyt, fxt in kernel_splits(w) for g in gemm_candidates(w, cfg, fyt, fxt)]
    else:
        grids = blocked_candidates(w, cfg)
    cols = ("kt", "ct", "ty", "tx", "fyt", "fxt")
    return [
        Tiling(*(int(g[n][i]) for n in cols), str(g["order"]), 0, 0, 0) for g in grids for i in np.flatnonzero(g["ok"])
    ]


def _machine(g: Graph, cfg, chooser=None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(cycles, DRAM bytes) of ``g`` lowered with ``chooser``'s picks (default: the mapper's), in sim/machine."""
    plans = map_graph(g, cfg) if chooser is None else plan_graph(g, cfg, chooser)
    c = run_lowered(lower_graph(g, cfg, plans), {n: np.zeros(g.tensors[n].shape, np.int8) for n in g.inputs}).counters
    return c.cycles, c.dram_bytes_read + c.dram_bytes_written


def _brute_force(g: Graph, cfg) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The least (cycles, DRAM bytes) of the one-layer graph ``g`` over every legal tiling of every
    array mode it may run in (a depthwise conv also as GEMM), each lowered and run in sim/machine."""
    seen: list[Work] = []
    plan_graph(g, cfg, lambda w, c: (seen.append(w), choose(w, c))[1])  # the layer's work as lowering sees it
    (w,) = seen
    modes = [w, dataclasses.replace(w, kind=WorkKind.GEMM)] if w.kind is WorkKind.DW else [w]
    return min(_machine(g, cfg, lambda _w, _c, m=m, t=t: (m, t)) for m in modes for t in _legal_tilings(m, cfg))


def _layer(case: str) -> Graph:
    rng = np.random.default_rng(len(case))
    specs = {
        "pointwise": ConvSpec(2, 16, 5, 7, 11, 1, 1, stride=(2, 3)),
        "conv3x3": ConvSpec(1, 4, 8, 5, 5, 3, 3, padding=(1, 1)),
        "conv3x3 wide": ConvSpec(1, 8, 16, 6, 6, 3, 3, padding=(1, 1)),
        "depthwise": ConvSpec(1, 8, 8, 6, 6, 3, 3, padding=(1, 1), groups=8),
        "depthwise s2": ConvSpec(1, 8, 8, 9, 9, 3, 3, stride=(2, 2), padding=(1, 1), groups=8),
    }
    if case in specs:
        return conv_graph(specs[case], random_mac_params(rng, specs[case].w_shape))
    if case == "linear":
        return linear_graph(2, 40, 12, random_mac_params(rng, (12, 40)))
    if case == "maxpool":
        return pool_graph("max", (1, 8, 9, 9), (3, 3), (2, 2), (1, 1), 0.05)
    assert case == "add"
    return add_graph((1, 8, 6, 6), 0.05, 0.04, 0.06)


# Each case's legal tilings (on this machine, under load): tiny pointwise 108 (8 s), linear 36,
# maxpool 32; cramped pointwise 68 (4 s), linear 14, add 16. On tiny pointwise, linear and
# maxpool and cramped linear the default scheduler's pick is slower than the optimum.
FAST = [
    ("tiny", "pointwise"),
    ("tiny", "linear"),
    ("tiny", "maxpool"),
    ("cramped", "pointwise"),
    ("cramped", "linear"),
    ("cramped", "add"),
]
# 84 to 818 legal tilings each (a depthwise conv's GEMM fallback splits its kernel every way): minutes.
SLOW = [
    ("cramped", "conv3x3"),
    ("cramped", "depthwise"),
    ("tiny", "conv3x3 wide"),
    ("tiny", "depthwise s2"),
]


@pytest.mark.parametrize(
    "preset, case", FAST + [pytest.param(*c, marks=pytest.mark.slow) for c in SLOW], ids=lambda x: str(x)
)
def test_choice_is_the_brute_force_optimum_in_the_machine(preset: str, case: str) -> None:
    g = _layer(case)
    cfg = CRAMPED if preset == "cramped" else PRESETS[preset]
    best = _brute_force(g, cfg)
    got = _machine(g, cfg)
    # as fast as the fastest legal tiling, and of those it moves the fewest DRAM bytes
    assert got == best, f"mapper: {got[0]} cycles, {got[1]} DRAM bytes; the best tiling: {best[0]}, {best[1]}"
    (plan,) = map_graph(g, cfg)
    assert plan.schedule.prediction.cycles + timing.boot_cycles(cfg) + timing.done_cycles(cfg) == got[0]


def _energy(g: Graph, cfg, plans) -> float:  # type: ignore[no-untyped-def]
    return sum(
        float(layer_energy_pj(cfg, layer_cost(p.work, cfg, [p.tiling], part_channels(g, p.work)))[0]) for p in plans
    )


def test_objectives_trade_off(nets) -> None:  # type: ignore[no-untyped-def]
    g, cfg = nets["mobilenet_small"], PRESETS["small"]
    by = {obj: map_graph(g, cfg, obj) for obj in ("latency", "energy", "edp")}  # type: ignore[arg-type]
    cycles = {k: network_cost(g, cfg, v).cycles for k, v in by.items()}
    energy = {k: _energy(g, cfg, v) for k, v in by.items()}
    assert cycles["latency"] <= min(cycles.values()) and energy["energy"] <= min(energy.values())
    assert energy["energy"] < energy["latency"]  # on this net the two objectives pick different tilings


def test_bad_objective_is_a_clear_error(nets) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match="one of latency, energy, edp; got 'speed'"):
        Mapper(nets["lenet"], PRESETS["tiny"], "speed")  # type: ignore[arg-type]
