"""sim/machine against sim/reference, bit for bit: single layers of every op
kind with odd shapes, strides, padding, dilation, groups and depthwise, on
the presets and on a cramped config that tiles everything; the zoo nets;
and a hypothesis fuzz over random layers x random legal configs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from int_layers import (
    ConvSpec,
    act,
    add_graph,
    conv_graph,
    global_avgpool_graph,
    linear_graph,
    pool_graph,
    random_mac_params,
    relu_graph,
    requant_per_channel,
    single_op_graph,
)
from layer_cases import AVGPOOLS_EVEN, AVGPOOLS_ODD, CORNER_CONVS, MAXPOOLS, random_conv_spec
from machine_cases import CONFIGS, CRAMPED, FUZZ_KINDS, accel_configs, check_machine, fuzz_graph, rejection, zoo_graph

from dian.errors import ProgramError
from dian.hwgen.isa import Token
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Concat, DType, Graph, Linear, QuantParams, Reshape, Tensor, verify
from dian.sim.machine import run_lowered

CFG_IDS = [c.name for c in CONFIGS]


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize(
    "spec", CORNER_CONVS, ids=lambda s: f"{s.c}x{s.h}x{s.w}-k{s.k}f{s.fy}{s.fx}s{s.stride}g{s.groups}"
)
def test_conv_corner_cases(spec: ConvSpec, cfg) -> None:
    rng = np.random.default_rng(1)
    check_machine(conv_graph(spec, random_mac_params(rng, spec.w_shape)), cfg)


@pytest.mark.parametrize("seed", range(12))
def test_conv_random_shapes(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    spec = random_conv_spec(rng)
    g = conv_graph(spec, random_mac_params(rng, spec.w_shape))
    check_machine(g, CONFIGS[seed % len(CONFIGS)], seed)


def test_conv_bigger_than_every_buffer_is_tiled() -> None:
    spec = ConvSpec(1, 40, 24, 23, 19, 7, 5, stride=(2, 1), padding=(3, 2))
    g = conv_graph(spec, random_mac_params(np.random.default_rng(2), spec.w_shape))
    res = check_machine(g, CRAMPED)
    assert res.counters.chunks > 1


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("n, fin, fout", [(1, 64, 10), (2, 9, 13), (3, 100, 3)])
def test_linear(n: int, fin: int, fout: int, cfg) -> None:
    g = linear_graph(n, fin, fout, random_mac_params(np.random.default_rng(3), (fout, fin)), relu=fin == 9)
    check_machine(g, cfg)


def _flatten_linear(shape: tuple[int, int, int, int], fout: int) -> Graph:
    p = random_mac_params(np.random.default_rng(4), (fout, int(np.prod(shape[1:]))))
    flat = (shape[0], int(np.prod(shape[1:])))
    tensors = [
        act("x", shape, p.in_scale),
        act("f", flat, p.in_scale),
        act("y", (shape[0], fout), p.out_scale),
        Tensor("w", p.w_int.shape, DType.INT8, QuantParams(tuple(map(float, p.w_scale)), 0)),
        Tensor("b", (fout,), DType.INT32),
    ]
    ops = [
        Reshape("flat", ("x",), "f", shape=flat),
        Linear(
            "fc", ("f",), "y", weight="w", bias="b", requant=requant_per_channel(p.ratios), out_min=-128, out_max=127
        ),
    ]
    return verify(Graph.build("flat", tensors, {"w": p.w_int, "b": p.b_int}, ops, ["x"], ["y", "f"]))


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("shape", [(1, 6, 3, 5), (2, 16, 2, 2), (1, 3, 1, 1)])
def test_flatten_then_linear_moves_no_data(shape, cfg) -> None:
    g = _flatten_linear(shape, 7)
    res = check_machine(g, cfg)
    assert res.outputs["f"].shape == (shape[0], int(np.prod(shape[1:])))


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize(
    "kind, case", [("max", c) for c in MAXPOOLS] + [("avg", c) for c in AVGPOOLS_ODD + AVGPOOLS_EVEN]
)
def test_pooling(kind: str, case, cfg) -> None:
    kernel, stride, padding, h, w = case
    check_machine(pool_graph(kind, (2, 6, h, w), kernel, stride, padding, 0.05), cfg)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("shape", [(1, 9, 5, 7), (2, 16, 3, 3), (1, 3, 1, 1)])
def test_global_avgpool(shape, cfg) -> None:
    check_machine(global_avgpool_graph(shape, 0.05, 0.01), cfg)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("shape, relu", [((1, 7, 9, 5), False), ((2, 16, 4, 4), True), ((3, 10), True)])
def test_add(shape, relu: bool, cfg) -> None:
    check_machine(add_graph(shape, 0.05, 0.09, 0.07, relu), cfg)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
@pytest.mark.parametrize("lo, hi", [(0, None), (0, 6), (-20, 35)])
def test_clamp(lo, hi, cfg) -> None:
    check_machine(relu_graph((2, 5, 7, 3), 0.1, lo, hi), cfg)


@pytest.mark.parametrize("cfg", CONFIGS, ids=CFG_IDS)
def test_concat_rescales_each_input(cfg) -> None:
    L = cfg.lanes
    shapes = [(1, L, 5, 3), (1, 2 * L, 5, 3), (1, 3, 5, 3)]
    scales = [0.5, 0.25, 2.0]
    k = sum(s[1] for s in shapes)
    rq = requant_per_channel([s / 1.0 for s in scales])
    tensors = [act(f"x{i}", s, sc) for i, (s, sc) in enumerate(zip(shapes, scales, strict=True))] + [
        act("y", (1, k, 5, 3), 1.0)
    ]
    op = Concat("cat", tuple(f"x{i}" for i in range(3)), "y", axis=1, requant=rq)
    check_machine(single_op_graph(op, tensors, {}), cfg)


# -- whole networks -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoo_graphs() -> dict[str, Graph]:
    return {name: zoo_graph(name) for name in ("lenet", "resnet_small", "mobilenet_small")}


@pytest.mark.parametrize("preset", ["tiny", "small"])
@pytest.mark.parametrize("name", ["lenet", "resnet_small", "mobilenet_small"])
def test_zoo_net_bit_exact(zoo_graphs, name: str, preset: str) -> None:
    res = check_machine(zoo_graphs[name], PRESETS[preset])
    c = res.counters
    assert c.cycles > 0 and 0 < c.utilization(PRESETS[preset]) <= 1
    assert c.dram_bytes_written > 0 and c.dram_bytes_read > c.dram_bytes_written


def test_zoo_net_on_cramped_config(zoo_graphs) -> None:
    check_machine(zoo_graphs["lenet"], CRAMPED)


# -- engines --------------------------------------------------------------------------------------


def test_missing_token_deadlocks_with_a_message_naming_the_instruction() -> None:
    spec = ConvSpec(1, 4, 4, 5, 5, 3, 3, padding=(1, 1))
    g = conv_graph(spec, random_mac_params(np.random.default_rng(5), spec.w_shape))
    low = lower_graph(g, PRESETS["tiny"])
    chunk = low.program.chunks[0]
    # Drop the LD->CMP signal of the first load group: CMP's first instruction waits forever.
    mem = list(chunk.mem)
    i = next(i for i, ins in enumerate(mem) if ins.signal & Token.LD_CMP)
    mem[i] = mem[i].with_tokens(signal=mem[i].signal & ~Token.LD_CMP)
    import dataclasses

    from dian.hwgen.encoding import Encoding
    from dian.hwgen.lower.dram_image import read_header

    enc = Encoding(low.cfg)
    hdr = read_header(low.image)
    image = bytearray(low.image)
    image[hdr.chunks[0].addr : hdr.chunks[0].addr + 32 * len(mem)] = enc.encode_stream(mem)
    bad = dataclasses.replace(low, image=bytes(image))
    with pytest.raises(ProgramError, match=r"deadlock in program chunk 0: .*CMP instruction 0 \(GEMM .*LD_CMP"):
        run_lowered(bad, {"x": np.zeros(spec.x_shape, np.int8)})


# -- fuzz: random layers x random legal configs --------------------------------------------------


def _fuzz(cfg, kind: str, seed: int) -> None:
    g = fuzz_graph(kind, seed)
    if rejection(g, kind, cfg) is None:
        check_machine(g, cfg, seed)


# derandomize: CI runs the same examples every time (the long tier below explores).
@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=accel_configs(), kind=st.sampled_from(FUZZ_KINDS), seed=st.integers(0, 2**31))
def test_fuzz_random_layers_on_random_configs(cfg, kind: str, seed: int) -> None:
    _fuzz(cfg, kind, seed)


@pytest.mark.slow
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=accel_configs(), kind=st.sampled_from(FUZZ_KINDS), seed=st.integers(0, 2**31))
def test_fuzz_random_layers_on_random_configs_long(cfg, kind: str, seed: int) -> None:
    _fuzz(cfg, kind, seed)
