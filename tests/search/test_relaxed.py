"""search/relaxed.py: the torch form equals the exact model at one-hot choices
(and so the machine simulator), and its gradients point to the cheaper option."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from int_layers import ConvSpec, conv_graph, random_mac_params

from dian.hwgen.lower import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.scheduler import plan_graph
from dian.search.mapper import map_graph
from dian.search.relaxed import RelaxedCost, cost_table
from dian.sim.machine import run_lowered

CFGS = [PRESETS["tiny"], PRESETS["small"]]


def _graph(k: int, f: int):  # type: ignore[no-untyped-def]
    spec = ConvSpec(1, 8, k, 12, 12, f, f, padding=(f // 2, f // 2), relu=True)
    return conv_graph(spec, random_mac_params(np.random.default_rng(k + f), spec.w_shape))


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    graphs = [[_graph(8, 3), _graph(16, 3)], [_graph(8, 1), _graph(8, 5)]]  # two slots, two options each
    slots = [[plan_graph(g, CFGS[0])[0].work for g in opts] for opts in graphs]
    return graphs, cost_table(slots, CFGS)


def test_one_hot_choice_is_the_machine_simulators_count(setup) -> None:  # type: ignore[no-untyped-def]
    graphs, table = setup
    rc = RelaxedCost(table)
    for ci, cfg in enumerate(CFGS):
        for choice in ((0, 0), (1, 0), (0, 1), (1, 1)):
            logits = torch.full((2, 2), -1e4, dtype=torch.float64)
            logits[0, choice[0]] = logits[1, choice[1]] = 0.0
            accel = torch.full((2,), -1e4, dtype=torch.float64)
            accel[ci] = 0.0
            cycles, _ = rc(logits, accel)
            # Each chosen layer compiled alone and run in sim/machine: its cycles less the run's boot
            # and done are the layer's share; the relaxed cost adds one boot and done.
            want = float(table.fixed_cycles[ci])
            for s, o in enumerate(choice):
                g = graphs[s][o]
                c = run_lowered(lower_graph(g, cfg, map_graph(g, cfg)),
                                {n: np.zeros(g.tensors[n].shape, np.int8) for n in g.inputs}).counters
                want += c.cycles - table.fixed_cycles[ci]
            assert float(cycles) == want, (cfg.name, choice)


def test_gradients_point_to_the_cheaper_options(setup) -> None:  # type: ignore[no-untyped-def]
    _, table = setup
    rc = RelaxedCost(table)
    logits = torch.zeros((2, 2), dtype=torch.float64, requires_grad=True)
    accel = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    cycles, energy = rc(logits, accel)
    cycles.backward()
    mean = table.cycles.mean(axis=2)  # over configs, equally likely here
    for s in range(2):
        cheaper = int(np.argmin(mean[s]))
        assert logits.grad[s, cheaper] < 0 < logits.grad[s, 1 - cheaper]
    faster_cfg = int(np.argmin(table.cycles.mean(axis=1).sum(axis=0) + table.fixed_cycles))
    assert accel.grad[faster_cfg] < 0
    assert energy.item() > 0
