"""search/cost_model.py against the machine simulator (which the RTL matches
cycle for cycle in Verilator, tests/hwgen): every counter — cycles, DRAM
bytes read and written, busy-PE cycles, instructions, chunks — for random
layers under random tilings on random configs, and for whole zoo networks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from machine_cases import CONFIGS, FUZZ_KINDS, accel_configs, fuzz_graph, rejection, zoo_graph

from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.scheduler import plan_graph
from dian.ir import Graph
from dian.search.cost_model import layer_cost, network_cost, part_channels
from dian.sim.machine import run_lowered


def _counters(graph: Graph, cfg: AccelConfig, plans) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    low = lower_graph(graph, cfg, plans)
    c = run_lowered(low, {n: np.zeros(graph.tensors[n].shape, np.int8) for n in graph.inputs}).counters
    return c.cycles, c.dram_bytes_read, c.dram_bytes_written, c.busy_pe_cycles, c.instructions, c.chunks


def _smaller(t, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """A random tiling no bigger than the scheduler's in any dim (so it fits the same buffers)."""
    pick = lambda v: int(rng.integers(1, v + 1))  # noqa: E731
    return dataclasses.replace(t, kt=pick(t.kt), ct=pick(t.ct), ty=pick(t.ty), tx=pick(t.tx), fyt=pick(t.fyt),
                               fxt=pick(t.fxt), order=str(rng.choice(["kout", "pout"])) if t.order != "cout" else "cout")


def _check_layer(graph: Graph, kind: str, cfg: AccelConfig, seed: int, n_tilings: int = 3) -> None:
    if rejection(graph, kind, cfg):
        return  # a layer the accel compile refuses (tests/sim covers the errors)
    plans = plan_graph(graph, cfg)
    rng = np.random.default_rng(seed)
    for p in plans:
        tilings = [p.tiling] + [_smaller(p.tiling, rng) for _ in range(n_tilings - 1)]
        cost = layer_cost(p.work, cfg, tilings, part_channels(graph, p.work))
        for j, t in enumerate(tilings):
            got = tuple(int(getattr(cost, f)[j]) for f in ("cycles", "dram_read", "dram_write", "busy_pe",
                                                            "instructions", "chunks"))
            assert got == _counters(graph, cfg, [dataclasses.replace(p, tiling=t)]), (p.work.op.name, cfg.name, t)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("kind", sorted(set(FUZZ_KINDS)))
def test_every_layer_kind_on_the_test_configs(kind: str, cfg: AccelConfig) -> None:
    for seed in range(3):
        _check_layer(fuzz_graph(kind, seed), kind, cfg, seed)


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=accel_configs(), kind=st.sampled_from(FUZZ_KINDS), seed=st.integers(0, 2**31))
def test_random_layers_tilings_and_configs(cfg: AccelConfig, kind: str, seed: int) -> None:
    _check_layer(fuzz_graph(kind, seed), kind, cfg, seed)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=accel_configs(), kind=st.sampled_from(FUZZ_KINDS), seed=st.integers(0, 2**31))
def test_random_layers_tilings_and_configs_long(cfg: AccelConfig, kind: str, seed: int) -> None:
    _check_layer(fuzz_graph(kind, seed), kind, cfg, seed, n_tilings=6)


@pytest.mark.parametrize("preset", ["tiny", "small", "default"])
@pytest.mark.parametrize("name", ["lenet", "resnet_small", "mobilenet_small"])
def test_whole_zoo_networks(name: str, preset: str) -> None:
    g, cfg = zoo_graph(name), PRESETS[preset]
    plans = plan_graph(g, cfg)
    nc = network_cost(g, cfg, plans)
    assert (nc.cycles, nc.dram_read, nc.dram_write, nc.busy_pe, nc.instructions, nc.chunks) == \
        _counters(g, cfg, plans)
    assert sum(int(c.busy_pe[0]) for c in nc.layers.values()) == nc.busy_pe
