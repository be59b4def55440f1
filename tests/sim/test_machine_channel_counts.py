"""Channel counts that are not multiples of the lane count L, on the accelerator, with no host work:
a concat of two branches of any widths (ragged on a lane block: one-hot GEMMs and adds), a
squeeze-excite gate, a product and a difference of tensors, ceil_mode max pooling and nearest
upsampling, each of c1 and c2 channels; sim/machine bit for bit against sim/reference on the presets
and a cramped config, and the exact cost model's cycles against the machine's."""

from __future__ import annotations

import pytest
from machine_cases import CONFIGS, check_machine, random_inputs
from pointwise_nets import branches_net, pointwise_graph

from dian.hwgen.lower.graph import lower_graph
from dian.search.cost_model import network_cost
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered

WIDTHS = [(1, 3), (2, 11), (3, 4), (5, 6), (6, 6), (7, 1), (9, 3), (13, 4)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.name for c in CONFIGS])
@pytest.mark.parametrize("c1, c2", WIDTHS)
def test_any_channel_counts_on_the_machine(c1: int, c2: int, cfg) -> None:  # type: ignore[no-untyped-def]
    g = pointwise_graph(branches_net(c1, c2), (1, 3, 6, 6), seed=10 * c1 + c2)
    check_machine(g, cfg, seed=1)
    plans = map_graph(g, cfg, "latency")
    cost = network_cost(g, cfg, plans)
    got = run_lowered(lower_graph(g, cfg, plans), random_inputs(g)).counters
    assert (cost.cycles, cost.dram_read, cost.dram_write) == (got.cycles, got.dram_bytes_read, got.dram_bytes_written)
