"""Random layers (conv of random shape/stride/padding/dilation/groups,
depthwise, linear, add, max/avg/global pooling) x accelerator configs through
the Verilator model of the RTL, each run checked three ways (rtl_check.py):
every output activation equals sim/reference's, the DRAM after the run equals
sim/machine's byte for byte, and the cycle count and the four perf counters
equal sim/machine's, on the harness's ideal memory; then on its random memory
(one seed a layer in the fast tier, two in the slow one) the DRAM is still
sim/machine's.

Every config is its own Verilator build (15-50 s on a quiet 2-core machine,
twice that under load), so the fast tier uses a fixed list chosen to cover
what ``tiny`` (test_accel_gemm.py) does not and draws only layers,
deterministically; the slow tier draws configs too, and runs the zoo nets.
``--hypothesis-show-statistics`` shows what ran (layer kinds, modes, chunks)."""

from __future__ import annotations

import dataclasses
import os
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, note, seed, settings
from hypothesis import strategies as st
from int_layers import linear_graph, random_mac_params
from machine_cases import FUZZ_KINDS, accel_configs, fuzz_graph, rejection, zoo_graph
from rtl_check import check_rtl
from tool_helpers import needs

from dian.hwgen.accel_config import AccelConfig, BufferConfig, Dataflow, validate
from dian.hwgen.isa import Gemm
from dian.hwgen.lower.graph import Lowered, lower_graph
from dian.hwgen.rtl.gemm_unit import GemmUnit
from dian.hwgen.targets import Target
from dian.ir import Conv2d, verify

_BOTH = (Dataflow.GEMM, Dataflow.DEPTHWISE)

FAST_CONFIGS = [
    # L = 2: a GEMM weight block loads in 2 cycles, under the ABUF read-to-write distance of 3, so
    # blocks of fewer than 3 pixels stall (timing.py's RAW); the shortest DRAM latency; small buffers.
    validate(
        AccelConfig(
            name="l2-lat1",
            pe_rows=2,
            pe_cols=2,
            dataflows=_BOTH,
            ibuf=BufferConfig(512),
            wbuf=BufferConfig(64),
            abuf=BufferConfig(512),
            obuf=BufferConfig(128),
            dram_bus_bits=16,
            dram_latency=1,
            target=Target.GENERIC,
            clock_mhz=100.0,
            imem_instructions=64,
        )
    ),
    # An 8-bit bus (4 beats a word), a long latency, buffer depths that are not powers of two,
    # 24-bit accumulators, and AXI bursts of 3 beats (a word straddles bursts).
    validate(
        AccelConfig(
            name="bus8-lat37-acc24",
            pe_rows=4,
            pe_cols=4,
            dataflows=_BOTH,
            ibuf=BufferConfig(768),
            wbuf=BufferConfig(192),
            abuf=BufferConfig(1536),
            obuf=BufferConfig(160),
            dram_bus_bits=8,
            dram_latency=37,
            target=Target.GENERIC,
            clock_mhz=100.0,
            imem_instructions=256,
            acc_bits=24,
            max_burst_beats=3,
        )
    ),
    # GEMM only (depthwise convs fall back to block-diagonal GEMM), L = 8, and a 32-instruction IMEM:
    # a layer of more than a few tiles spans several program chunks.
    validate(
        AccelConfig(
            name="gemm-only-l8-imem32",
            pe_rows=8,
            pe_cols=8,
            dataflows=(Dataflow.GEMM,),
            ibuf=BufferConfig(2048),
            wbuf=BufferConfig(1024),
            abuf=BufferConfig(4096),
            obuf=BufferConfig(512),
            dram_bus_bits=32,
            dram_latency=5,
            target=Target.GENERIC,
            clock_mhz=100.0,
            imem_instructions=32,
        )
    ),
]


def _raw_stalls(low: Lowered) -> bool:
    """Whether a GEMM instruction streams more than one weight block of fewer pixels than
    the ABUF read-to-write distance (timing.py's RAW), which only L = 2 cannot hide."""
    return low.cfg.lanes < GemmUnit.RAW and any(
        isinstance(i, Gemm) and i.n_c * i.n_fy * i.n_fx > 1 and i.n_oy * i.n_ox < GemmUnit.RAW
        for c in low.program.chunks
        for i in c.cmp
    )


def _run(exe, cfg: AccelConfig, kind: str, layer_seed: int, random_memories: int = 1) -> None:
    """One layer of ``kind`` drawn from ``layer_seed``: exact on the ideal memory, bit-exact on
    ``random_memories`` random ones."""
    g = fuzz_graph(kind, layer_seed)
    refused = rejection(g, kind, cfg)
    if refused:
        event(f"{kind}: refused, {refused}")
        return
    check_rtl(exe, cfg, g, layer_seed, random_memories=range(layer_seed, layer_seed + random_memories))
    low = lower_graph(g, cfg)
    event(f"{kind} in {'/'.join(sorted(p.work.kind.name for p in low.plans))} mode")
    event(f"program chunks: {'1' if len(low.program.chunks) == 1 else '> 1'}")
    event(f"GEMM RAW stall: {_raw_stalls(low)}")


# Every config sees every layer kind (a draw of kinds left whole kinds out of a config).
@needs("verilator")
@pytest.mark.parametrize("kind", sorted(set(FUZZ_KINDS)))
@pytest.mark.parametrize("cfg", FAST_CONFIGS, ids=lambda c: c.name)
@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_seed=st.integers(0, 2**31))
def test_random_layer_in_verilator(accel_harness, cfg: AccelConfig, kind: str, layer_seed: int) -> None:
    _run(accel_harness(cfg), cfg, kind, layer_seed)


@needs("verilator")
def test_one_row_kernel_in_a_small_ibuf_in_verilator(accel_harness) -> None:
    """The slow fuzz's find (config seed random, layer seed 213): a depthwise conv with a 1-row,
    row-dilated (2) kernel, stride (3, 2), on a 2x2 array with an 8-word IBUF. Its instruction
    carried the unused row step dilation x tile width = 8, which does not fit the 3-bit IBUF
    address field, so lowering failed; a loop of one iteration now carries stride 0."""
    small = {"ibuf": BufferConfig(16), "wbuf": BufferConfig(16), "abuf": BufferConfig(64), "obuf": BufferConfig(16)}
    cfg = validate(dataclasses.replace(FAST_CONFIGS[0], name="fuzz-213", **small))  # l2-lat1, tiny buffers
    g = fuzz_graph("depthwise", 213)
    conv = g.ops[0]
    assert isinstance(conv, Conv2d) and conv.dilation[0] == 2 and not rejection(g, "depthwise", cfg)
    check_rtl(accel_harness(cfg), cfg, g, 213, random_memories=(213,))


@needs("verilator")
def test_gemm_raw_stall_in_verilator(accel_harness) -> None:
    """A linear layer of batch 1 on L = 2: one pixel per weight block, every block stalls."""
    cfg = FAST_CONFIGS[0]
    g = linear_graph(1, 9, 5, random_mac_params(np.random.default_rng(7), (5, 9)), relu=True)
    assert _raw_stalls(lower_graph(g, cfg))
    check_rtl(accel_harness(cfg), cfg, g)


# -- slow tier: random legal configs ---------------------------------------------------------------

LONG_CONFIGS = 4
LONG_LAYERS_PER_CONFIG = 75


def draw_configs(n: int, config_seed: int) -> list[AccelConfig]:
    """``n`` distinct configs drawn from ``accel_configs()``, as many lane counts as possible,
    reproducible from ``config_seed``."""
    pool: list[AccelConfig] = []

    @seed(config_seed)
    @settings(max_examples=40 * n, database=None, deadline=None, phases=[Phase.generate])
    @given(accel_configs())
    def collect(cfg: AccelConfig) -> None:
        if cfg not in pool:
            pool.append(cfg)

    collect()
    random.Random(config_seed).shuffle(pool)
    # Hypothesis's draws lean to some lane counts (8 of 12 were L = 16): take one config of each first.
    lanes = {c.lanes: c for c in reversed(pool)}
    first = list(lanes.values())[:n]
    return first + [c for c in pool if c not in first][: n - len(first)]


@pytest.fixture(scope="session")
def long_configs() -> list[AccelConfig]:
    """Random unless ``DIAN_FUZZ_CONFIG_SEED`` is set; the seed is printed to reproduce a run."""
    config_seed = int(os.environ.get("DIAN_FUZZ_CONFIG_SEED", random.randrange(2**32)))
    print(f"test_rtl_fuzz: DIAN_FUZZ_CONFIG_SEED={config_seed}")
    return draw_configs(LONG_CONFIGS, config_seed)


@needs("verilator")
@pytest.mark.slow
@pytest.mark.parametrize("slot", range(LONG_CONFIGS))
@settings(max_examples=LONG_LAYERS_PER_CONFIG, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(FUZZ_KINDS), layer_seed=st.integers(0, 2**31))
def test_random_layer_on_random_config_in_verilator(
    accel_harness, long_configs, slot: int, kind: str, layer_seed: int
) -> None:
    cfg = long_configs[slot]
    note(f"config: {cfg}")
    _run(accel_harness(cfg), cfg, kind, layer_seed, random_memories=2)


@needs("verilator")
@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet", "resnet_small", "mobilenet_small"])
@pytest.mark.parametrize("cfg", FAST_CONFIGS, ids=lambda c: c.name)
def test_zoo_net_whole_in_verilator(accel_harness, cfg: AccelConfig, name: str) -> None:
    """Whole nets (layers handing activations on, chunks spanning layers) on the fast configs."""
    g = verify(zoo_graph(name), acc_bits=cfg.acc_bits)
    check_rtl(accel_harness(cfg), cfg, g, random_memories=(1,))
