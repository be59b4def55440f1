"""Lowered conv, depthwise and linear layers (hwgen.lower on ``tiny``) through the
Verilator model of the accelerator: the DRAM after the run, the cycle count
and every performance counter equal sim/machine's, and the layer's output
equals sim/reference's; the whole zoo nets also run bit-exactly on random memories."""

from __future__ import annotations

import numpy as np
import pytest
from int_layers import ConvSpec, conv_graph, linear_graph, random_mac_params
from layer_cases import CORNER_CONVS
from machine_cases import zoo_graph
from rtl_check import check_rtl
from tool_helpers import needs

from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph

TINY = PRESETS["tiny"]


GEMM_CONVS = [s for s in CORNER_CONVS if not (s.groups > 1 and s.groups == s.c)]  # depthwise runs in DW mode


@needs("verilator")
@pytest.mark.parametrize(
    "spec", GEMM_CONVS, ids=lambda s: f"{s.c}x{s.h}x{s.w}-k{s.k}f{s.fy}{s.fx}s{s.stride}g{s.groups}"
)
def test_lowered_conv_in_verilator(tiny_harness, spec: ConvSpec) -> None:
    rng = np.random.default_rng(1)
    check_rtl(tiny_harness, TINY, conv_graph(spec, random_mac_params(rng, spec.w_shape)))


# Depthwise convs run in DW mode (a channel multiplier falls back to GEMM): the corner cases,
# plus a 5x5 kernel (7 tap groups on tiny) with dilation and unequal strides, and a 1-pixel output.
DW_CONVS = [s for s in CORNER_CONVS if s.groups > 1 and s.groups == s.c] + [
    ConvSpec(1, 6, 6, 11, 10, 5, 5, stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=6, relu=True),
    ConvSpec(2, 5, 5, 3, 3, 3, 3, groups=5),
]


@needs("verilator")
@pytest.mark.parametrize(
    "spec", DW_CONVS, ids=lambda s: f"{s.c}x{s.h}x{s.w}-k{s.k}f{s.fy}{s.fx}s{s.stride}d{s.dilation}"
)
def test_lowered_depthwise_in_verilator(tiny_harness, spec: ConvSpec) -> None:
    rng = np.random.default_rng(2)
    check_rtl(tiny_harness, TINY, conv_graph(spec, random_mac_params(rng, spec.w_shape)))


@needs("verilator")
@pytest.mark.parametrize("n, fin, fout", [(1, 64, 10), (2, 9, 13), (3, 100, 3)])
def test_lowered_linear_in_verilator(tiny_harness, n: int, fin: int, fout: int) -> None:
    g = linear_graph(n, fin, fout, random_mac_params(np.random.default_rng(3), (fout, fin)), relu=fin == 9)
    check_rtl(tiny_harness, TINY, g)


@pytest.fixture(scope="module")
def lenet() -> Graph:
    return zoo_graph("lenet")


@needs("verilator")
@pytest.mark.parametrize("layer", ["conv1", "conv2", "fc1", "fc2"])
def test_lenet_gemm_layer_in_verilator(tiny_harness, lenet: Graph, layer: str) -> None:
    """LeNet's conv and linear layers, each alone (the net's pooling needs POOL in the RTL)."""
    from dian.ir import verify

    op = next(o for o in lenet.ops if o.name == layer)
    consts = {n: lenet.constants[n] for n in (op.weight, op.bias) if n is not None}
    names = [*op.inputs, op.output, *consts]
    g = verify(Graph.build(layer, [lenet.tensors[n] for n in names], consts, [op], list(op.inputs), [op.output]))
    check_rtl(tiny_harness, TINY, g)


@needs("verilator")
def test_lenet_whole_in_verilator(tiny_harness, lenet: Graph) -> None:
    """conv, max pool, conv, max pool, flatten, two linears: every activation."""
    c = check_rtl(tiny_harness, TINY, lenet, random_memories=(1, 2))
    assert c["perf_busy_pe_cycles"] > 0


@needs("verilator")
def test_resnet_small_whole_in_verilator(tiny_harness) -> None:
    """GEMM convs, residual ADDs, pooling: every activation."""
    check_rtl(tiny_harness, TINY, zoo_graph("resnet_small"), random_memories=(3,))


@needs("verilator")
def test_mobilenet_small_whole_in_verilator(tiny_harness) -> None:
    """Depthwise (DW mode), pointwise and stem convs, residual ADDs, pooling: every activation."""
    from dian.hwgen.lower.workload import WorkKind

    g = zoo_graph("mobilenet_small")
    assert any(p.work.kind is WorkKind.DW for p in lower_graph(g, TINY).plans)
    check_rtl(tiny_harness, TINY, g, random_memories=(4,))
