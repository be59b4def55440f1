"""``ppu_rate`` R > 1: PPURequant takes a word every R cycles, so every instruction that feeds it is
paced (GEMM's last block and DW's pixels with ``rq``, COPY, MUL, POOL's windows) and hwgen/timing.py
counts it. The core of ``tiny`` at R = 2 against sim/machine, to the cycle: every hand-built
program in amaranth.sim (fast), lowered layers and nets in Verilator (slow)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from accel_programs import PROGRAMS, build_image, run_amaranth, run_machine
from int_layers import ConvSpec, conv_graph, global_avgpool_graph, pool_graph, random_mac_params
from pointwise_nets import ElementwiseNet, MixedNet, UpsampleNet, pointwise_graph
from rtl_check import rtl_mismatches
from tool_helpers import needs

from dian.hwgen.accel_config import validate
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.core import AcceleratorCore
from dian.ir import Graph
from dian.search.mapper import map_graph

TINY = PRESETS["tiny"]
HALF = validate(dataclasses.replace(TINY, name="tiny_r2", ppu_rate=2))


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_programs_at_half_rate_in_amaranth_sim(program) -> None:  # type: ignore[no-untyped-def]
    image, _ = build_image(HALF, *program(HALF)[:2])
    assert run_amaranth(AcceleratorCore(HALF), HALF, image) == run_machine(HALF, image)


def test_the_pacing_costs_cycles_where_the_requantizer_is_fed_faster() -> None:
    """Every program that feeds the requantizer (fused GEMM/DW, COPY, POOL with 1x1 windows, MUL
    beside ADD) takes longer at R = 2 than at R = 1 in sim/machine, so the test above sees the pacing."""
    slower = {}
    for program in PROGRAMS:
        at = {
            cfg.ppu_rate: run_machine(cfg, build_image(cfg, *program(cfg)[:2])[0])[1]["cycles"] for cfg in (TINY, HALF)
        }
        slower[program.__name__] = at[2] > at[1]
    assert slower == {p.__name__: p.__name__ != "mem_only_program" for p in PROGRAMS}


def _layers() -> dict[str, Graph]:
    rng = np.random.default_rng(21)
    convs = {
        "conv1x1_one_block": ConvSpec(1, 4, 9, 5, 6, 1, 1, relu=True),  # the whole GEMM is its last block
        "conv3x3": ConvSpec(1, 6, 5, 7, 6, 3, 3, padding=(1, 1)),
        "depthwise3x3": ConvSpec(1, 6, 6, 7, 8, 3, 3, padding=(1, 1), groups=6),
        "depthwise_s2": ConvSpec(1, 5, 5, 9, 9, 3, 3, stride=(2, 2), groups=5, relu=True),
    }
    out = {k: conv_graph(s, random_mac_params(rng, s.w_shape)) for k, s in convs.items()}
    out["maxpool1x1_s2"] = pool_graph("max", (1, 5, 7, 6), (1, 1), (2, 2), (0, 0), 0.05)
    out["avgpool2x2"] = pool_graph("avg", (1, 6, 6, 8), (2, 2), (2, 2), (0, 0), 0.05)
    out["gap_1x1"] = global_avgpool_graph((1, 7, 1, 1), 0.05)
    out["mixed"] = pointwise_graph(MixedNet, (1, 3, 5, 5), 1)
    out["elementwise"] = pointwise_graph(ElementwiseNet, (1, 3, 6, 7), 3)
    out["upsample"] = pointwise_graph(UpsampleNet, (1, 3, 6, 8), 4)
    return out


@pytest.mark.slow
@needs("verilator")
def test_lowered_layers_at_half_rate_in_verilator(accel_harness) -> None:  # type: ignore[no-untyped-def]
    exe = accel_harness(HALF)
    for name, g in _layers().items():
        problems, counters = rtl_mismatches(exe, HALF, g, seed=3, plans=map_graph(g, HALF, "latency"))
        assert not problems, (name, "\n".join(problems))
        assert counters["perf_cycles"] > 0
