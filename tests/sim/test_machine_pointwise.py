"""Pointwise lookup tables on the accelerator: sim/machine against sim/reference bit for bit,
fused into the producing conv, depthwise conv or linear layer and standalone (a COPY through
the LUT stage), per-tensor and per-channel (PReLU), on the presets and on a cramped config
whose tiles split every layer; the exact cost model's counters against the machine's."""

from __future__ import annotations

import dataclasses

import pytest
from machine_cases import CONFIGS, CRAMPED, check_machine, random_inputs
from pointwise_nets import (
    ChannelNet,
    ElementwiseNet,
    GlobalPoolNet,
    MixedNet,
    SequenceNet,
    StandaloneNet,
    TransposeNet,
    UpsampleNet,
    pointwise_graph,
)

from dian.errors import ScheduleError
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.scheduler import LayerPlan
from dian.hwgen.lower.workload import WorkKind, fused_pointwise
from dian.ir import Graph
from dian.search.cost_model import network_cost
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered

CFG_IDS = [c.name for c in CONFIGS]


def _cost_is_the_machines(g: Graph, cfg, plans: list[LayerPlan]) -> None:  # type: ignore[no-untyped-def]
    """The exact cost model's cycles, DRAM bytes, instructions and chunks are the machine's."""
    cost = network_cost(g, cfg, plans)
    got = run_lowered(lower_graph(g, cfg, plans), random_inputs(g)).counters
    assert (cost.cycles, cost.dram_read, cost.dram_write, cost.instructions, cost.chunks) == (
        got.cycles,
        got.dram_bytes_read,
        got.dram_bytes_written,
        got.instructions,
        got.chunks,
    )


@pytest.fixture(scope="module")
def mixed() -> Graph:
    return pointwise_graph(MixedNet, (1, 3, 5, 5), seed=1)


@pytest.fixture(scope="module")
def standalone() -> Graph:
    return pointwise_graph(StandaloneNet, (1, 2, 6, 6), seed=2)


def test_the_fusion_rule(mixed: Graph, standalone: Graph) -> None:
    # the producers whose output only the pointwise op reads, and not a graph output
    assert sorted(fused_pointwise(mixed)) == ["c1", "c2", "dw", "fc"]
    assert fused_pointwise(standalone) == {}


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("net", ["mixed", "standalone"])
def test_machine_equals_reference(net: str, cfg, request: pytest.FixtureRequest) -> None:
    g = request.getfixturevalue(net)
    res = check_machine(g, cfg, seed=3)
    assert res.counters.cycles > 0


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("net", ["mixed", "standalone"])
def test_cost_model_counts_what_the_machine_does(net: str, cfg, request: pytest.FixtureRequest) -> None:
    g = request.getfixturevalue(net)
    plans = map_graph(g, cfg, "latency")
    kinds = {p.work.op.name: (p.work.kind, p.work.lut is not None) for p in plans}
    if net == "mixed":
        assert kinds["sigmoid"] == (WorkKind.COPY, True) and kinds["c2"][1] and kinds["fc"][1]
        assert "p" not in kinds and "tanh" not in kinds  # fused: no plan of their own
    _cost_is_the_machines(g, cfg, plans)


def test_per_channel_tables_bound_the_output_tile(mixed: Graph) -> None:
    # one table a half: the PReLU's conv runs one channel block a tile
    plans = {p.work.op.name: p for p in map_graph(mixed, CRAMPED, "latency")}
    assert plans["c2"].work.lut_per_channel and plans["c2"].tiling.kt == 1


def test_a_config_without_a_lut_stage_is_refused(mixed: Graph) -> None:
    no_lut = dataclasses.replace(CRAMPED, lut_tables=0)
    with pytest.raises(ScheduleError, match=r"lut_tables = 0"):
        lower_graph(mixed, no_lut)


@pytest.fixture(scope="module")
def elementwise() -> Graph:
    return pointwise_graph(ElementwiseNet, (1, 3, 6, 7), seed=3)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_elementwise_ops_on_the_machine(elementwise: Graph, cfg) -> None:
    check_machine(elementwise, cfg, seed=4)
    plans = map_graph(elementwise, cfg, "latency")
    works = {p.work.op.name: p.work for p in plans}
    assert works["mul"].kind is WorkKind.MUL and works["mul"].broadcast and not works["mul_1"].broadcast
    _cost_is_the_machines(elementwise, cfg, plans)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_upsampling_on_the_machine(cfg) -> None:
    g = pointwise_graph(UpsampleNet, (1, 3, 6, 8), seed=4)
    check_machine(g, cfg, seed=5)
    plans = map_graph(g, cfg, "latency")
    assert sorted(p.work.upsample for p in plans if p.work.kind is WorkKind.UPSAMPLE) == [(1, 3), (1, 3), (2, 2)]
    _cost_is_the_machines(g, cfg, plans)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_channel_moves_on_the_machine(cfg) -> None:
    # chunk, shuffle, slices and split as one-hot GEMMs; the concat of two 6-channel halves is
    # ragged on 4 lanes (tiny, cramped), so it runs as placing GEMMs and identity adds there
    g = pointwise_graph(ChannelNet, (1, 3, 4, 5), seed=6)
    check_machine(g, cfg, seed=7)
    plans = map_graph(g, cfg, "latency")
    kinds = {p.work.op.name: p.work.kind for p in plans}
    assert kinds["view_1"] is WorkKind.GEMM and kinds["getitem_9"] is WorkKind.GEMM  # the shuffle; the [N, C] slice
    assert ("cat__part0" in kinds) == (6 % cfg.lanes != 0)
    _cost_is_the_machines(g, cfg, plans)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_a_1d_net_on_the_machine(cfg) -> None:
    # Conv1d, 1-D pools and BatchNorm1d as H = 1 2-D ops between reshapes that move no data
    g = pointwise_graph(SequenceNet, (1, 3, 16), seed=8)
    check_machine(g, cfg, seed=2)
    plans = map_graph(g, cfg, "latency")
    _cost_is_the_machines(g, cfg, plans)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_transposed_convs_on_the_machine(cfg) -> None:
    # each a conv per output phase and an INTERLEAVE that weaves them with strided COPYs
    g = pointwise_graph(TransposeNet, (1, 3, 3, 4), seed=9)
    check_machine(g, cfg, seed=7)
    plans = map_graph(g, cfg, "latency")
    assert sorted(p.work.upsample for p in plans if p.work.kind is WorkKind.INTERLEAVE) == [(2, 2), (2, 2), (2, 3)]
    _cost_is_the_machines(g, cfg, plans)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_global_pools_in_bands_on_the_machine(cfg) -> None:
    # a 45 x 47 map: more words than an IBUF half of any config here, so both global average pools
    # run as POOLs over bands of rows carrying the running sum (POOL's cont)
    g = pointwise_graph(GlobalPoolNet, (1, 3, 45, 47), seed=10)
    check_machine(g, cfg, seed=3)
    plans = map_graph(g, cfg, "latency")
    bands = [p.work.oy for p in plans if p.work.banded]
    assert len(bands) == 2 and min(bands) >= 2
    _cost_is_the_machines(g, cfg, plans)
