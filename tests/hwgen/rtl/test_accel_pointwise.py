"""Pointwise lookup tables and elementwise arithmetic in the Verilator model of ``tiny``: the nets
of pointwise_nets.py (tables fused into a conv, a depthwise conv and a linear layer, standalone
COPYs, per tensor and per channel; MUL by a gate and of two tensors, a subtraction; nearest
upsampling by COPYs that repeat words; channel split, shuffle, slices and a concat of 6-channel
halves as one-hot GEMMs, two outputs; a 1-D net of Conv1d, pools and BatchNorm1d; transposed
convs as phase convs woven by strided COPYs; global average pools over a map too big for an
IBUF half as POOLs over bands of rows that carry the running sum), mapped by the mapper, on the ideal memory and on a
random one. Each run must give sim/reference's outputs bit for bit, sim/machine's DRAM, cycles
and counters, and the exact cost model's counters (rtl_check.rtl_mismatches)."""

from __future__ import annotations

import pytest
from pointwise_nets import (
    ChannelNet,
    ElementwiseNet,
    GlobalPoolNet,
    MixedNet,
    SequenceNet,
    StandaloneNet,
    TransposeNet,
    UpsampleNet,
    branches_net,
    pointwise_graph,
)
from rtl_check import rtl_mismatches
from tool_helpers import needs

from dian.hwgen.presets import PRESETS
from dian.search.mapper import map_graph

TINY = PRESETS["tiny"]


NETS = {
    "mixed": (MixedNet, (1, 3, 5, 5), 1),
    "standalone": (StandaloneNet, (1, 2, 6, 6), 2),
    "elementwise": (ElementwiseNet, (1, 3, 6, 7), 3),
    "upsample": (UpsampleNet, (1, 3, 6, 8), 4),
    "channels": (ChannelNet, (1, 3, 4, 5), 6),
    "sequence": (SequenceNet, (1, 3, 16), 8),
    "transpose": (TransposeNet, (1, 3, 3, 4), 9),
    "global_pool": (GlobalPoolNet, (1, 3, 45, 47), 10),
    "channel_counts": (branches_net(5, 6), (1, 3, 6, 6), 56),
}


@needs("verilator")
@pytest.mark.parametrize("net", list(NETS))
def test_pointwise_nets_in_verilator(tiny_harness, net: str) -> None:  # type: ignore[no-untyped-def]
    g = pointwise_graph(*NETS[net])
    plans = map_graph(g, TINY, "latency")
    problems, counters = rtl_mismatches(tiny_harness, TINY, g, seed=5, plans=plans, random_memories=(11,))
    assert not problems, "\n".join(problems)
    assert counters["perf_cycles"] > 0
