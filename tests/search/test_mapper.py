"""search/mapper.py: exact predictions, never worse than the default
scheduler on its own objective, and the objectives trade off as they say."""

from __future__ import annotations

import numpy as np
import pytest
from machine_cases import zoo_graph

from dian.errors import MappingError
from dian.hwgen import timing
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.scheduler import plan_graph
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
    assert sum(p.cycles for p in preds) + timing.boot_cycles(cfg) + timing.DONE_CYCLES == c.cycles
    assert sum(p.dram_bytes_read for p in preds) + timing.boot_bytes(cfg) == c.dram_bytes_read
    assert sum(p.dram_bytes_written for p in preds) == c.dram_bytes_written


@pytest.mark.parametrize("preset", ["tiny", "small", "default"])
def test_never_slower_than_the_default_scheduler(nets, preset: str) -> None:  # type: ignore[no-untyped-def]
    g, cfg = nets["mobilenet_small"], PRESETS[preset]
    mapped, default = network_cost(g, cfg, map_graph(g, cfg)), network_cost(g, cfg, plan_graph(g, cfg))
    for name, c in mapped.layers.items():
        assert c.cycles[0] <= default.layers[name].cycles[0], name
    assert mapped.cycles <= default.cycles


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
