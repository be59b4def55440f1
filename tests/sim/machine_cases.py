"""Helpers for the machine-simulator and RTL tests: accelerator configs that
force tiling, random legal configs, the random single-layer graphs of the
fuzz, the zoo nets' graphs, and the compare-with-reference runner."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as st
from int_layers import add_graph, conv_graph, global_avgpool_graph, linear_graph, pool_graph, random_mac_params
from layer_cases import random_conv_spec

from dian.errors import IRValidationError, ScheduleError
from dian.hwgen.accel_config import AccelConfig, BufferConfig, Dataflow, validate
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import Target
from dian.ir import Graph, verify
from dian.sim.machine import MachineResult, run_lowered
from dian.sim.reference import run_graph

#: 4 lanes and buffers of a few words per half: every layer is tiled, kernel taps too; the
#: requantizer at half rate (ppu_rate 2: every feed of it paced, hwgen/timing.py).
CRAMPED = validate(
    AccelConfig(
        name="cramped",
        pe_rows=4,
        pe_cols=4,
        dataflows=(Dataflow.GEMM, Dataflow.DEPTHWISE),
        ibuf=BufferConfig(512),
        wbuf=BufferConfig(128),
        abuf=BufferConfig(256),
        obuf=BufferConfig(64),
        dram_bus_bits=16,
        dram_latency=3,
        target=Target.GENERIC,
        clock_mhz=100.0,
        imem_instructions=32,
        lut_tables=1,
        ppu_rate=2,
    )
)

CONFIGS = [PRESETS["tiny"], PRESETS["small"], CRAMPED]


@st.composite
def accel_configs(draw: st.DrawFn) -> AccelConfig:
    """Random legal configs: 2..16 lanes, buffers from a few words to a few hundred per half,
    16- to 32-bit accumulators, AXI bursts of 1 to 256 beats, every requantizer rate the lanes allow."""
    lanes = draw(st.sampled_from([2, 4, 8, 16]))

    def buf(word: int, lo: int, hi: int) -> BufferConfig:
        return BufferConfig(2 * word * draw(st.integers(lo, hi)))

    dataflows = draw(st.sampled_from([(Dataflow.GEMM,), (Dataflow.GEMM, Dataflow.DEPTHWISE)]))
    acc_bits = draw(st.sampled_from([32, 24, 16]))
    banks = min(4, lanes // 2) if Dataflow.DEPTHWISE in dataflows else 1  # the IBUF a whole number of bank rows
    return validate(
        AccelConfig(
            name="fuzz",
            pe_rows=lanes,
            pe_cols=lanes,
            dataflows=dataflows,
            ibuf=buf(lanes * banks, -(-4 // banks), 192 // banks),
            wbuf=buf(lanes, max(4, lanes), 8 * lanes),
            abuf=buf(lanes * acc_bits // 8, 4, 64),
            obuf=buf(lanes, 4, 64),
            dram_bus_bits=8 * draw(st.sampled_from([b for b in (1, 2, 4, 8, 16) if b <= lanes])),
            dram_latency=draw(st.integers(1, 40)),
            target=Target.GENERIC,
            clock_mhz=100.0,
            imem_instructions=draw(st.sampled_from([32, 64, 256])),
            acc_bits=acc_bits,
            max_burst_beats=draw(st.sampled_from([1, 2, 3, 16, 256])),
            ppu_rate=draw(st.sampled_from([r for r in (1, 2, 4) if 2 * r <= lanes])),
        )
    )


@functools.cache
def zoo_graph(name: str) -> Graph:
    """The integer graph of zoo model ``name`` (lowered once per session: torch calibration)."""
    from dian.frontend import calibration_samples, load_model, lower

    m = load_model(f"zoo:{name}")
    return lower(m.module, m.default_input_shape, calibration_samples(m, num_samples=8), name)[1]


def random_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, size=graph.tensors[n].shape).astype(np.int8) for n in graph.inputs}


def check_machine(graph: Graph, cfg: AccelConfig, seed: int = 0) -> MachineResult:
    """Run ``graph`` on the machine simulator and assert every activation equals the reference's."""
    x = random_inputs(graph, seed)
    low = lower_graph(graph, cfg)
    res = run_lowered(low, x)
    ref = run_graph(graph, x, keep_all=True)
    for op in graph.ops:
        if op.output not in low.slots:  # a layer's results that only pass its fused lookup table
            continue
        got = low.read_tensor(res.dram, op.output)
        want = ref[op.output]
        if not np.array_equal(got, want):
            where = tuple(int(i) for i in np.argwhere(got != want)[0])
            raise AssertionError(
                f"{graph.name} on {cfg.name}: layer '{op.name}' differs first at {where}: machine "
                f"{got[where]} != reference {want[where]} ({int((got != want).sum())} of {got.size})"
            )
    return res


#: Layer kinds of the fuzz, convs (dense, grouped, depthwise, channel multiplier) weighted up.
FUZZ_KINDS = ["conv", "conv", "conv", "depthwise", "linear", "add", "gap", "max", "avg"]


def fuzz_graph(kind: str, seed: int) -> Graph:
    """One random layer of ``kind`` (a FUZZ_KINDS entry), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    if kind in ("conv", "depthwise"):
        spec = random_conv_spec(rng)
        while kind == "depthwise" and not spec.groups == spec.c == spec.k:
            spec = random_conv_spec(rng)
        return conv_graph(spec, random_mac_params(rng, spec.w_shape))
    if kind == "linear":
        n, fin, fout = int(rng.integers(1, 3)), int(rng.integers(1, 80)), int(rng.integers(1, 40))
        return linear_graph(n, fin, fout, random_mac_params(rng, (fout, fin)), relu=bool(rng.random() < 0.5))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 20)), int(rng.integers(1, 12)), int(rng.integers(1, 12)))
    if kind == "add":
        return add_graph(shape, *(float(s) for s in rng.uniform(0.01, 0.1, 3)), relu=bool(rng.random() < 0.5))
    if kind == "gap":
        return global_avgpool_graph(shape, 0.05, float(rng.uniform(0.005, 0.05)))
    k = (int(rng.integers(1, min(shape[2], 4) + 1)), int(rng.integers(1, min(shape[3], 4) + 1)))
    s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    p = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
    return pool_graph(kind, shape, k, s, p, 0.05)


def rejection(graph: Graph, kind: str, cfg: AccelConfig) -> str | None:
    """Why dian's accel compile (dian/accel_artifacts.py) refuses the fuzz layer ``graph`` for
    ``cfg``, or None. Only two refusals are allowed, each asserted to be exactly that: a
    multiply-accumulate whose worst case overflows ``acc_bits`` < 32 (ir.verify), and a pooling
    window (global pooling: the whole plane) larger than one IBUF half (ScheduleError, v1)."""
    try:
        verify(graph, acc_bits=cfg.acc_bits)
    except IRValidationError as e:
        assert cfg.acc_bits < 32 and kind in ("conv", "depthwise", "linear") and "accumulator" in str(e), e
        return f"accumulator over {cfg.acc_bits} bits"
    try:
        lower_graph(graph, cfg)
    except ScheduleError as e:
        op = graph.ops[0]
        window = op.kernel if kind in ("max", "avg") else graph.tensors[op.inputs[0]].shape[2:]  # type: ignore[attr-defined]
        assert kind in ("max", "avg", "gap") and window[0] * window[1] > cfg.words("ibuf") // 2, e
        assert f"layer '{op.name}'" in str(e) and "IBUF half holds" in str(e), e
        return "pooling window over an IBUF half"
    return None
