"""search/cost_model.py against the machine simulator (which the RTL matches
cycle for cycle in Verilator, tests/hwgen): every counter — cycles, DRAM
bytes read and written, busy-PE cycles, instructions, chunks — for random
layers under random tilings on random configs, and for whole zoo networks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from int_layers import ConvSpec, add_graph, conv_graph, pool_graph, random_mac_params
from machine_cases import CONFIGS, FUZZ_KINDS, accel_configs, fuzz_graph, rejection, zoo_graph

from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.scheduler import plan_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph
from dian.search.cost_model import batch_steps, layer_cost, network_cost, part_channels
from dian.sim.machine import run_lowered


def _counters(graph: Graph, cfg: AccelConfig, plans) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    low = lower_graph(graph, cfg, plans)
    c = run_lowered(low, {n: np.zeros(graph.tensors[n].shape, np.int8) for n in graph.inputs}).counters
    return c.cycles, c.dram_bytes_read, c.dram_bytes_written, c.busy_pe_cycles, c.instructions, c.chunks


def _smaller(t, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """A random tiling no bigger than the scheduler's in any dim (so it fits the same buffers)."""
    pick = lambda v: int(rng.integers(1, v + 1))  # noqa: E731
    return dataclasses.replace(
        t,
        kt=pick(t.kt),
        ct=pick(t.ct),
        ty=pick(t.ty),
        tx=pick(t.tx),
        fyt=pick(t.fyt),
        fxt=pick(t.fxt),
        order=str(rng.choice(["kout", "pout"])) if t.order != "cout" else "cout",
    )


def _check_layer(graph: Graph, kind: str, cfg: AccelConfig, seed: int, n_tilings: int = 3) -> None:
    if rejection(graph, kind, cfg):
        return  # a layer the accel compile refuses (tests/sim covers the errors)
    plans = plan_graph(graph, cfg)
    rng = np.random.default_rng(seed)
    for p in plans:
        tilings = [p.tiling] + [_smaller(p.tiling, rng) for _ in range(n_tilings - 1)]
        cost = layer_cost(p.work, cfg, tilings, part_channels(graph, p.work))
        for j, t in enumerate(tilings):
            got = tuple(
                int(getattr(cost, f)[j])
                for f in ("cycles", "dram_read", "dram_write", "busy_pe", "instructions", "chunks")
            )
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


def _repeating_layers() -> list[Graph]:
    """Layers of many identical tiles (interior tiles in every row, several rows, images and
    channel tiles): a dense and a depthwise conv, a pooling and an add."""
    rng = np.random.default_rng(7)
    dense = ConvSpec(2, 8, 12, 20, 23, 3, 3, padding=(1, 1))
    dw = ConvSpec(2, 12, 12, 19, 22, 3, 3, stride=(1, 2), padding=(1, 1), groups=12)
    return [
        conv_graph(dense, random_mac_params(rng, dense.w_shape)),
        conv_graph(dw, random_mac_params(rng, dw.w_shape)),
        pool_graph("max", (2, 12, 21, 22), (3, 3), (2, 2), (1, 1), 0.05),
        add_graph((2, 20, 17, 18), 0.05, 0.04, 0.06),
    ]


@pytest.mark.parametrize("cfg", [PRESETS["tiny"], PRESETS["small"]], ids=lambda c: c.name)
def test_skipped_repeats_equal_the_machine(cfg: AccelConfig) -> None:
    """The replay steps through the first tiles of a run and skips the identical rest (search/
    replay.py): on layers where it skips most steps, at every level of the loop nest and across
    chunk boundaries, every counter still equals the machine's."""
    rng = np.random.default_rng(1)
    for graph in _repeating_layers():
        p = plan_graph(graph, cfg)[0]
        t = p.tiling
        narrow = [
            dataclasses.replace(t, tx=min(t.tx, tx), ty=min(t.ty, ty), order=order if t.order != "cout" else t.order)
            for tx, ty, order in ((3, 2, "kout"), (4, 1, "pout"), (2, 3, "kout"))
        ]
        tilings = [t, *narrow, _smaller(t, rng)]
        cost = layer_cost(p.work, cfg, tilings)
        steps = batch_steps([(p.work, tilings)], cfg).n_steps
        assert (cost.replayed_steps[1:4] < steps[1:4]).all(), (graph.name, cost.replayed_steps, steps)
        assert cost.chunks.max() > 1, graph.name
        for j, t in enumerate(tilings):
            got = tuple(
                int(getattr(cost, f)[j])
                for f in ("cycles", "dram_read", "dram_write", "busy_pe", "instructions", "chunks")
            )
            assert got == _counters(graph, cfg, [dataclasses.replace(p, tiling=t)]), (graph.name, cfg.name, t)


@pytest.mark.parametrize("preset", ["tiny", "small", "default"])
@pytest.mark.parametrize("name", ["lenet", "resnet_small", "mobilenet_small"])
def test_whole_zoo_networks(name: str, preset: str) -> None:
    g, cfg = zoo_graph(name), PRESETS[preset]
    plans = plan_graph(g, cfg)
    nc = network_cost(g, cfg, plans)
    assert (nc.cycles, nc.dram_read, nc.dram_write, nc.busy_pe, nc.instructions, nc.chunks) == _counters(g, cfg, plans)
    assert sum(int(c.busy_pe[0]) for c in nc.layers.values()) == nc.busy_pe


def test_the_compiled_replays_cache_stamps_every_source_it_compiles_in() -> None:
    """numba's disk cache checks a function against its own file only: the replay's stamp must
    cover the steps' code and the timing formulas and latencies it compiles in, or an edit to
    them would leave a stale (wrong) replay in the cache."""
    from dian.search import replay

    files = {Path(f).relative_to(Path(replay.__file__).parents[1]).as_posix() for f in replay._compiled_sources()}
    assert {
        "search/replay.py",
        "search/step_record.py",
        "search/steps_gemm.py",
        "search/steps_blocked.py",
        "hwgen/timing.py",
        "hwgen/image_format.py",
    } <= files
