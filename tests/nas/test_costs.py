"""nas/costs.py: the co-search's cost tables price a network exactly as the mapper and the
exact cost model price the compiled network, and the torch form is their expectation."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from dian.hwgen.lower.workload import WorkKind
from dian.nas.costs import RelaxedCoCost, cost_tables
from dian.nas.hardware import hardware_space
from dian.nas.shape_graph import network_graph
from dian.nas.space import OPS, SKIP, SPACES, Arch, SearchSpace
from dian.search.cost_model import layer_works, network_cost
from dian.search.mapper import map_graph

SPACE = SPACES["digits"]


@pytest.fixture(scope="module")
def priced():  # type: ignore[no-untyped-def]
    hw = hardware_space("ecp5-85k", quick=True).options()
    return hw, cost_tables(SPACE, hw)


def _random_arch(space: SearchSpace, rng: random.Random) -> Arch:
    return Arch(
        tuple(rng.choice(space.allowed_ops(b)) for b in range(space.n_blocks)),
        tuple(rng.randrange(len(s.widths)) for s in space.stages),
    )


def test_network_graph_has_the_blocks_layers() -> None:
    # k5e6 everywhere but a skip in block 1: hand-counted layers (stem, 3 convs a block, adds where
    # a block keeps its shape, head conv + pool + fc).
    arch = Arch((5, SKIP, 5, 5, 5, 5), (0, 0, 0))
    _, works = layer_works(network_graph(SPACE, arch), hardware_space("ecp5-85k", quick=True).options()[0].cfg)
    kinds = [w.kind for w in works]
    assert len(works) == 1 + 5 * 3 + 2 + 3
    assert kinds.count(WorkKind.ADD) == 2 and kinds.count(WorkKind.DW) == 5
    dw = [w for w in works if w.kind is WorkKind.DW]
    # expansion 6 of: the stem's 16, stage 0's 8 (block 1 skipped), stage 1's 16 twice, stage 2's 24.
    assert [(w.c, w.fy, w.stride[0], w.oy) for w in dw] == [
        (16 * 6, 5, 1, 8),
        (8 * 6, 5, 2, 4),
        (16 * 6, 5, 1, 4),
        (16 * 6, 5, 2, 2),
        (24 * 6, 5, 1, 2),
    ]


def test_tables_price_a_network_as_the_compiled_one(priced) -> None:  # type: ignore[no-untyped-def]
    hw, tables = priced
    rng = random.Random(1)
    for _ in range(3):
        arch = _random_arch(SPACE, rng)
        g = network_graph(SPACE, arch)
        n_layers = len(layer_works(g, hw[0].cfg)[1])
        for h, opt in enumerate(hw):
            nc = network_cost(g, opt.cfg, map_graph(g, opt.cfg))  # as `dian compile` maps
            cycles, energy = tables.network(SPACE, arch, h)
            # Layers are priced at chunk 0; in the program a chunk fetch may move by a bus beat.
            assert abs(cycles - nc.cycles) <= 2 * n_layers, (arch, opt.cfg.name)
            assert energy == pytest.approx(nc.energy_pj, rel=1e-3)


def _one_hot(index: int, size: int) -> torch.Tensor:
    p = torch.zeros(size, dtype=torch.float64)
    p[index] = 1.0
    return p


def test_relaxed_cost_is_the_table_at_one_hot_choices(priced) -> None:  # type: ignore[no-untyped-def]
    hw, tables = priced
    rc = RelaxedCoCost(SPACE, tables)
    rng = random.Random(2)
    n_w = max(len(s.widths) for s in SPACE.stages)
    for _ in range(5):
        arch = _random_arch(SPACE, rng)
        ops = torch.stack([_one_hot(o, len(OPS)) for o in arch.ops])
        widths = torch.stack([_one_hot(w, n_w) for w in arch.widths])
        for h in range(len(hw)):
            cycles, energy = rc(ops, widths, _one_hot(h, len(hw)))
            want = tables.network(SPACE, arch, h)
            assert float(cycles) == pytest.approx(want[0], rel=1e-12)
            assert float(energy) == pytest.approx(want[1], rel=1e-12)


def test_relaxed_cost_is_the_expectation_over_sampled_networks(priced) -> None:  # type: ignore[no-untyped-def]
    # Independent check of the contraction: the expectation by enumeration-free Monte Carlo would be
    # noisy, so mix two architectures that differ in every choice: the cost of a 50/50 mixture of
    # independent choices is the mean over the 2**k combinations, computed here by brute force.
    hw, tables = priced
    rc = RelaxedCoCost(SPACE, tables)
    a, b = Arch((0, 1, 2, 3, 4, 5), (0, 0, 0)), Arch((1, 2, 3, 4, 5, 0), (1, 1, 1))
    n_w = max(len(s.widths) for s in SPACE.stages)
    ops = torch.stack([(_one_hot(x, len(OPS)) + _one_hot(y, len(OPS))) / 2 for x, y in zip(a.ops, b.ops, strict=True)])
    widths = torch.stack([(_one_hot(x, n_w) + _one_hot(y, n_w)) / 2 for x, y in zip(a.widths, b.widths, strict=True)])
    k = SPACE.n_blocks + len(SPACE.stages)
    total = 0.0
    for mask in range(2**k):
        pick = [(mask >> n) & 1 for n in range(k)]
        choice = [
            (x, y)[p] for (x, y), p in zip(zip(a.ops + a.widths, b.ops + b.widths, strict=True), pick, strict=True)
        ]
        arch = Arch(tuple(choice[: SPACE.n_blocks]), tuple(choice[SPACE.n_blocks :]))
        total += tables.network(SPACE, arch, 1)[0]
    cycles, _ = rc(ops, widths, _one_hot(1, len(hw)))
    assert float(cycles) == pytest.approx(total / 2**k, rel=1e-9)


def test_gradients_favour_the_cheaper_op_and_hardware(priced) -> None:  # type: ignore[no-untyped-def]
    hw, tables = priced
    rc = RelaxedCoCost(SPACE, tables)
    n_w = max(len(s.widths) for s in SPACE.stages)
    op_logits = torch.zeros(SPACE.n_blocks, len(OPS), dtype=torch.float64, requires_grad=True)
    hw_logits = torch.zeros(len(hw), dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[o in SPACE.allowed_ops(b) for o in range(len(OPS))] for b in range(SPACE.n_blocks)])
    ops = torch.softmax(op_logits.masked_fill(~mask, -torch.inf), dim=1)
    widths = torch.full((len(SPACE.stages), n_w), 1.0 / n_w, dtype=torch.float64)
    cycles, _ = rc(ops, widths, torch.softmax(hw_logits, 0))
    cycles.backward()
    # Block 3 keeps its width: skip costs nothing there, k5e6 the most of all ops.
    assert op_logits.grad[3, SKIP] < 0 < op_logits.grad[3, 5]
    # The hardware option with the smallest expected cost gets the most negative gradient.
    per_hw = rc.per_hardware(ops.detach(), widths)[0]
    assert int(torch.argmin(hw_logits.grad)) == int(torch.argmin(per_hw))
    assert not np.isnan(op_logits.grad.numpy()).any()
