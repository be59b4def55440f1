"""Depthwise v2 (docs/accelerator.md, "Depthwise v2") in sim/machine and the cost model: depthwise
convs of every shape class — 3x3 and 5x5, stride 1, 2 and unequal, padding, dilation (even: one
kernel row a tap group), channel counts off the lane count, kernels wider than the array, an
even-width tile that needs the odd IBUF pitch — on the presets, bit-exact against sim/reference
and every counter of the exact cost model equal to the machine's; the DW instruction's cycle
formula on hand-counted cases; the machine's refusal of tap groups the banks cannot read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from int_layers import ConvSpec, conv_graph, random_mac_params
from machine_cases import CONFIGS, check_machine

from dian.errors import ProgramError
from dian.hwgen import timing
from dian.hwgen.isa import Dw
from dian.hwgen.lower.scheduler import plan_graph
from dian.hwgen.lower.workload import WorkKind
from dian.hwgen.presets import PRESETS
from dian.search.cost_model import network_cost
from dian.sim.machine.datapath import Datapath

DW_SPECS = [
    ConvSpec(1, 16, 16, 14, 14, 3, 3, padding=(1, 1), groups=16),  # MobileNetV2's shape class
    ConvSpec(1, 20, 20, 13, 12, 3, 3, stride=(2, 2), padding=(1, 1), groups=20, relu=True),
    ConvSpec(1, 24, 24, 11, 11, 5, 5, padding=(2, 2), groups=24),  # 5x5: two tap groups at L = 16
    ConvSpec(1, 9, 9, 10, 9, 3, 3, stride=(1, 2), padding=(1, 1), dilation=(2, 1), groups=9),
    ConvSpec(2, 5, 5, 7, 8, 3, 3, stride=(2, 1), padding=(0, 2), groups=5),  # batch, channels off L
    ConvSpec(1, 6, 6, 9, 12, 1, 7, padding=(0, 3), groups=6),  # 1x7: wider than tiny's array
    ConvSpec(1, 7, 7, 9, 9, 3, 1, padding=(1, 0), groups=7),  # 3x1: several kernel rows, one column
    ConvSpec(1, 33, 33, 6, 6, 2, 2, stride=(2, 2), dilation=(1, 2), groups=33),
]
CONFIGS_DW = [*CONFIGS, PRESETS["default"]]


@pytest.mark.parametrize("cfg", CONFIGS_DW, ids=lambda c: c.name)
@pytest.mark.parametrize("spec", DW_SPECS, ids=lambda s: f"{s.c}x{s.h}x{s.w}-f{s.fy}{s.fx}s{s.stride}d{s.dilation}")
def test_depthwise_is_exact_and_predicted(spec: ConvSpec, cfg) -> None:
    g = conv_graph(spec, random_mac_params(np.random.default_rng(4), spec.w_shape))
    plans = plan_graph(g, cfg)
    assert plans[0].work.kind is WorkKind.DW or cfg.name == "cramped"  # its IMEM may force the GEMM fallback
    res = check_machine(g, cfg)  # every output byte equals sim/reference's
    nc = network_cost(g, cfg, plans)
    c = res.counters
    got = (c.cycles, c.busy_pe_cycles, c.dram_bytes_read, c.dram_bytes_written)
    assert got == (nc.cycles, nc.busy_pe, nc.dram_read, nc.dram_write)
    macs = spec.out_shape[0] * spec.c * spec.out_shape[2] * spec.out_shape[3] * spec.fy * spec.fx
    L = cfg.lanes
    assert c.busy_pe_cycles >= macs and c.busy_pe_cycles % L == 0  # every tap of every pixel, L lanes


def _dw(**kw: int) -> Dw:
    fields = {"wgt": 0, "src": 0, "dst": 0, "reset": 1, "n_gy": 1, "n_gx": 3, "s_fy": 0, "s_fx": 1}
    fields |= {"n_oy": 1, "n_ox": 1, "s_oy": 0, "s_ox": 0, "d_oy": 0, "d_ox": 0}
    return Dw(**(fields | kw))


@pytest.mark.parametrize(
    "ins, cycles",
    [
        # 3x3 at L = 16: R = 9 rows; 3 rows of 5 pixels, stride 1 (2 columns kept): 3 * (3 + 4) columns.
        (_dw(n_gy=3, s_fy=7, n_oy=3, n_ox=5, s_oy=7, s_ox=1, d_oy=5, d_ox=1), 9 + 21 + 8),
        # stride 2 (1 column kept): 2 columns a further pixel; fused requantization: 8 more.
        (_dw(n_gy=3, s_fy=7, n_oy=2, n_ox=4, s_oy=14, s_ox=2, d_oy=4, d_ox=1, rq=1), 9 + 2 * (3 + 6) + 8 + 8),
        # stride 3 >= 3 columns: nothing kept, 3 columns every pixel; and a lookup table: 2 more.
        (_dw(n_oy=1, n_ox=4, s_ox=3, d_ox=1, rq=1, lut=1), 3 + 12 + 8 + 8 + 2),
        # dilation 2 (columns 2 apart), stride 1: no whole number of column steps, nothing kept.
        (_dw(n_gx=2, s_fx=2, n_oy=1, n_ox=3, s_ox=1, d_ox=1), 2 + 6 + 8),
        # one tap, one pixel.
        (_dw(n_gx=1, s_fx=0), 1 + 1 + 8),
    ],
)
def test_dw_cycles_by_hand(ins: Dw, cycles: int) -> None:
    assert timing.duration(ins, PRESETS["default"]) == cycles
    assert timing.busy_pe(ins, PRESETS["default"]) == ins.n_gy * ins.n_gx * ins.n_oy * ins.n_ox * 16


@pytest.mark.parametrize(
    "ins, match",
    [
        (_dw(n_gy=2, s_fy=8), "share an IBUF bank"),  # rows 8 words apart: the same bank of 4
        (_dw(n_gy=3, s_fy=6), "share an IBUF bank"),
        (_dw(n_gy=5, n_gx=3, s_fy=7), "does not fit"),  # 5 kernel rows, 4 banks
        (_dw(n_gy=3, n_gx=6, s_fy=7), "does not fit"),  # 18 taps, 16 rows
    ],
)
def test_machine_refuses_groups_the_banks_cannot_read(ins: Dw, match: str) -> None:
    cfg = PRESETS["default"]
    with pytest.raises(ProgramError, match=match):
        Datapath(cfg, np.zeros(64, np.uint8)).dw(dataclasses.replace(ins, rq=0))
