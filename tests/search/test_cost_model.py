"""search/cost_model.py against the machine simulator (which the RTL matches
cycle for cycle in Verilator, tests/hwgen): every counter — cycles, DRAM
bytes read and written, busy-PE cycles, instructions, chunks — for random
layers under random tilings on random configs, and for whole zoo networks."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dian.errors import ScheduleError
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.scheduler import plan_graph
from dian.ir import Graph
from dian.search.cost_model import layer_cost, network_cost, part_channels
from dian.sim.machine import run_lowered

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
from machine_cases import CONFIGS, accel_configs  # noqa: E402

_spec = importlib.util.spec_from_file_location("_machine_tests", Path(__file__).parents[1] / "sim/test_machine.py")
_machine_tests = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(_machine_tests)  # type: ignore[union-attr]
fuzz_graph, KINDS = _machine_tests._fuzz_graph, _machine_tests.KINDS


@pytest.fixture(scope="module")
def zoo_graphs() -> dict[str, Graph]:
    from dian.frontend import calibration_samples, load_model, lower

    out = {}
    for name in ("lenet", "resnet_small", "mobilenet_small"):
        m = load_model(f"zoo:{name}")
        out[name] = lower(m.module, m.default_input_shape, calibration_samples(m, num_samples=8), name)[1]
    return out


def _counters(graph: Graph, cfg: AccelConfig, plans) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    low = lower_graph(graph, cfg, plans)
    c = run_lowered(low, {n: np.zeros(graph.tensors[n].shape, np.int8) for n in graph.inputs}).counters
    return c.cycles, c.dram_bytes_read, c.dram_bytes_written, c.busy_pe_cycles, c.instructions, c.chunks


def _smaller(t, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """A random tiling no bigger than the scheduler's in any dim (so it fits the same buffers)."""
    pick = lambda v: int(rng.integers(1, v + 1))  # noqa: E731
    return dataclasses.replace(t, kt=pick(t.kt), ct=pick(t.ct), ty=pick(t.ty), tx=pick(t.tx), fyt=pick(t.fyt),
                               fxt=pick(t.fxt), order=str(rng.choice(["kout", "pout"])) if t.order != "cout" else "cout")


def _check_layer(graph: Graph, cfg: AccelConfig, seed: int, n_tilings: int = 3) -> None:
    try:
        plans = plan_graph(graph, cfg)
    except ScheduleError:
        return  # pooling windows larger than IBUF: tests/sim covers the error
    rng = np.random.default_rng(seed)
    for p in plans:
        tilings = [p.tiling] + [_smaller(p.tiling, rng) for _ in range(n_tilings - 1)]
        cost = layer_cost(p.work, cfg, tilings, part_channels(graph, p.work))
        for j, t in enumerate(tilings):
            got = tuple(int(getattr(cost, f)[j]) for f in ("cycles", "dram_read", "dram_write", "busy_pe",
                                                            "instructions", "chunks"))
            assert got == _counters(graph, cfg, [dataclasses.replace(p, tiling=t)]), (p.work.op.name, cfg.name, t)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("kind", sorted(set(KINDS)))
def test_every_layer_kind_on_the_test_configs(kind: str, cfg: AccelConfig) -> None:
    for seed in range(3):
        _check_layer(fuzz_graph(kind, seed), cfg, seed)


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=accel_configs(), kind=st.sampled_from(KINDS), seed=st.integers(0, 2**31))
def test_random_layers_tilings_and_configs(cfg: AccelConfig, kind: str, seed: int) -> None:
    _check_layer(fuzz_graph(kind, seed), cfg, seed)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=accel_configs(), kind=st.sampled_from(KINDS), seed=st.integers(0, 2**31))
def test_random_layers_tilings_and_configs_long(cfg: AccelConfig, kind: str, seed: int) -> None:
    _check_layer(fuzz_graph(kind, seed), cfg, seed, n_tilings=6)


@pytest.mark.parametrize("preset", ["tiny", "small", "default"])
@pytest.mark.parametrize("name", ["lenet", "resnet_small", "mobilenet_small"])
def test_whole_zoo_networks(zoo_graphs, name: str, preset: str) -> None:  # type: ignore[no-untyped-def]
    g, cfg = zoo_graphs[name], PRESETS[preset]
    plans = plan_graph(g, cfg)
    nc = network_cost(g, cfg, plans)
    assert (nc.cycles, nc.dram_read, nc.dram_write, nc.busy_pe, nc.instructions, nc.chunks) == \
        _counters(g, cfg, plans)
    assert sum(int(c.busy_pe[0]) for c in nc.layers.values()) == nc.busy_pe
