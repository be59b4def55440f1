"""Pointwise lookup tables on the accelerator: sim/machine against sim/reference bit for bit,
fused into the producing conv, depthwise conv or linear layer and standalone (a COPY through
the LUT stage), per-tensor and per-channel (PReLU), on the presets and on a cramped config
whose tiles split every layer; the exact cost model's counters against the machine's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn as nn
from machine_cases import CONFIGS, CRAMPED, check_machine, random_inputs

from dian.errors import ScheduleError
from dian.frontend import lower
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.workload import WorkKind, fused_pointwise
from dian.ir import Graph
from dian.search.cost_model import network_cost
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered

CFG_IDS = [c.name for c in CONFIGS]


class MixedNet(nn.Module):
    """SiLU after a conv read twice (standalone), Hardswish after a depthwise conv (fused), sigmoid
    after an add (standalone), PReLU per channel after a 1x1 conv (fused), tanh after the linear
    layer at the graph's output (fused: the linear output is read by tanh alone)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.a1 = nn.Conv2d(3, 8, 3, padding=1), nn.SiLU()
        self.dw, self.a2 = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Hardswish()
        self.c2, self.p = nn.Conv2d(8, 6, 1), nn.PReLU(6)
        self.fc = nn.Linear(6 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a1(self.c1(x))
        z = torch.sigmoid(self.a2(self.dw(y)) + y)
        return torch.tanh(self.fc(self.p(self.c2(z)).flatten(1)))


class StandaloneNet(nn.Module):
    """Every table standalone: after an add (per channel, 10 channels: 3 blocks of 4 lanes) and
    after a max pool; the GELU is the graph's output."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.p = nn.Conv2d(2, 10, 3, padding=1), nn.Conv2d(2, 10, 1), nn.PReLU(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.p(self.c1(x) + self.c2(x))
        return nn.functional.gelu(nn.functional.max_pool2d(y, 2))


def _graph(net: nn.Module, shape: tuple[int, ...]) -> Graph:
    torch.manual_seed(0)
    m = net.eval()
    for p in m.modules():
        if isinstance(p, nn.PReLU):
            with torch.no_grad():
                p.weight.copy_(torch.linspace(-0.5, 1.5, p.num_parameters))
    calib = np.random.default_rng(0).standard_normal((8, *shape[1:])).astype(np.float32)
    return lower(m, shape, calib, type(net).__name__)[1]


@pytest.fixture(scope="module")
def mixed() -> Graph:
    torch.manual_seed(1)
    return _graph(MixedNet(), (1, 3, 5, 5))


@pytest.fixture(scope="module")
def standalone() -> Graph:
    torch.manual_seed(2)
    return _graph(StandaloneNet(), (1, 2, 6, 6))


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
    cost = network_cost(g, cfg, plans)
    got = run_lowered(lower_graph(g, cfg, plans), random_inputs(g)).counters
    assert (cost.cycles, cost.dram_read, cost.instructions, cost.chunks) == (
        got.cycles,
        got.dram_bytes_read,
        got.instructions,
        got.chunks,
    )


def test_per_channel_tables_bound_the_output_tile(mixed: Graph) -> None:
    # one table a half: the PReLU's conv runs one channel block a tile
    plans = {p.work.op.name: p for p in map_graph(mixed, CRAMPED, "latency")}
    assert plans["c2"].work.lut_per_channel and plans["c2"].tiling.kt == 1


def test_a_config_without_a_lut_stage_is_refused(mixed: Graph) -> None:
    no_lut = dataclasses.replace(CRAMPED, lut_tables=0)
    with pytest.raises(ScheduleError, match=r"lut_tables = 0"):
        lower_graph(mixed, no_lut)
