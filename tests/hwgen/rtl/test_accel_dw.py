"""Depthwise v2 (docs/accelerator.md, "Depthwise v2") in the Verilator model: lowered depthwise convs
whose tap groups read several kernel rows a cycle from the banked IBUF (``tiny``: 2 banks; ``small``:
4 banks, 3x3 in groups of 2 + 1 kernel rows) and MobileNetV2's depthwise layers (traced at 64x64,
each cut out as its own graph): sim/reference's outputs, sim/machine's DRAM, cycles and counters
and the exact cost model's counters, on the ideal memory and bit-exactly on a random one."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from int_layers import ConvSpec, conv_graph, random_mac_params
from rtl_check import check_rtl
from tool_helpers import needs

from dian.hwgen.lower.scheduler import plan_graph
from dian.hwgen.lower.workload import WorkKind
from dian.hwgen.presets import PRESETS
from dian.ir import Conv2d, Graph, Op, verify

TINY, SMALL = PRESETS["tiny"], PRESETS["small"]

#: Kernels whose tap groups take several kernel rows on tiny (L = 4, 2 banks): 3x1 (2 + 1 rows),
#: 2x2 stride 1 (a 2x2 group, a column kept), 2x2 stride 2 with even-width tiles (the odd pitch).
MULTI_ROW = [
    ConvSpec(1, 6, 6, 9, 7, 3, 1, padding=(1, 0), groups=6),
    ConvSpec(1, 5, 5, 8, 9, 2, 2, padding=(1, 1), groups=5, relu=True),
    ConvSpec(2, 4, 4, 10, 10, 2, 2, stride=(2, 2), groups=4),
]


@needs("verilator")
@pytest.mark.parametrize("spec", MULTI_ROW, ids=lambda s: f"{s.c}x{s.h}x{s.w}-f{s.fy}{s.fx}s{s.stride}")
def test_multi_row_tap_groups_in_verilator(tiny_harness, spec: ConvSpec) -> None:
    g = conv_graph(spec, random_mac_params(np.random.default_rng(6), spec.w_shape))
    assert plan_graph(g, TINY)[0].work.kind is WorkKind.DW
    check_rtl(tiny_harness, TINY, g, random_memories=(8,))


@functools.cache
def _mobilenetv2() -> Graph:
    from dian.frontend import calibration_samples, load_model, lower

    m = load_model("zoo:mobilenetv2")
    shape = (1, 3, 64, 64)
    return lower(m.module, shape, calibration_samples(m, shape, 8, 0), "mobilenetv2")[1]


def _alone(g: Graph, op: Op) -> Graph:
    consts = {n: g.constants[n] for n in op.constants}
    names = [*dict.fromkeys([*op.inputs, op.output]), *consts]
    return verify(Graph.build(op.name, [g.tensors[n] for n in names], consts, [op], list(op.inputs), [op.output]))


def _depthwise(name: str) -> Graph:
    g = _mobilenetv2()
    (op,) = [o for o in g.ops if o.name == name]
    assert isinstance(op, Conv2d) and op.groups > 1
    return _alone(g, op)


#: 32 channels at 32x32 stride 1, 96 at 32x32 stride 2, 144 at 16x16 stride 1, 960 at 2x2.
MOBILENETV2_DW = ["features_1_conv_0_0", "features_2_conv_1_0", "features_3_conv_1_0", "features_16_conv_1_0"]


@pytest.mark.slow
@needs("verilator")
@pytest.mark.parametrize("layer", MOBILENETV2_DW)
def test_mobilenetv2_depthwise_layers_on_tiny_in_verilator(tiny_harness, layer: str) -> None:
    check_rtl(tiny_harness, TINY, _depthwise(layer), random_memories=(9,))


@pytest.mark.slow
@needs("verilator")
@pytest.mark.parametrize("layer", MOBILENETV2_DW)
def test_mobilenetv2_depthwise_layers_on_small_in_verilator(accel_harness, layer: str) -> None:  # type: ignore[no-untyped-def]
    g = _depthwise(layer)
    assert plan_graph(g, SMALL)[0].work.kind is WorkKind.DW
    check_rtl(accel_harness(SMALL), SMALL, g, random_memories=(10,))
