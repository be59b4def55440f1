"""Helpers for the machine-simulator tests: accelerator configs that force
tiling, random legal configs, and the compare-with-reference runner."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dian.hwgen.accel_config import AccelConfig, BufferConfig, Dataflow, Target, validate
from dian.hwgen.lower import lower_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph
from dian.sim.machine import MachineResult, run_lowered
from dian.sim.reference import run_graph

#: 4 lanes and buffers of a few words per half: every layer is tiled, kernel taps too.
CRAMPED = validate(AccelConfig(
    name="cramped", pe_rows=4, pe_cols=4, dataflows=(Dataflow.GEMM, Dataflow.DEPTHWISE),
    ibuf=BufferConfig(512, 2), wbuf=BufferConfig(128), abuf=BufferConfig(256), obuf=BufferConfig(64),
    dram_bus_bits=16, dram_latency=3, target=Target.GENERIC, clock_mhz=100.0, imem_instructions=32))

CONFIGS = [PRESETS["tiny"], PRESETS["small"], CRAMPED]


@st.composite
def accel_configs(draw: st.DrawFn) -> AccelConfig:
    """Random legal configs: 2..16 lanes, buffers from a few words to a few hundred per half."""
    lanes = draw(st.sampled_from([2, 4, 8, 16]))

    def buf(word: int, lo: int, hi: int, banks: int = 1) -> BufferConfig:
        unit = 2 * banks * word
        return BufferConfig(unit * draw(st.integers(lo, hi)), banks)

    dataflows = draw(st.sampled_from([(Dataflow.GEMM,), (Dataflow.GEMM, Dataflow.DEPTHWISE)]))
    return validate(AccelConfig(
        name="fuzz", pe_rows=lanes, pe_cols=lanes, dataflows=dataflows,
        ibuf=buf(lanes, 4, 96, draw(st.sampled_from([1, 2, 4]))), wbuf=buf(lanes, max(4, lanes), 8 * lanes),
        abuf=buf(lanes * 4, 4, 64), obuf=buf(lanes, 4, 64),
        dram_bus_bits=8 * draw(st.sampled_from([b for b in (1, 2, 4, 8, 16) if b <= lanes])),
        dram_latency=draw(st.integers(1, 40)), target=Target.GENERIC, clock_mhz=100.0,
        imem_instructions=draw(st.sampled_from([32, 64, 256]))))


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
        got = low.read_tensor(res.dram, op.output)
        want = ref[op.output]
        if not np.array_equal(got, want):
            where = tuple(int(i) for i in np.argwhere(got != want)[0])
            raise AssertionError(f"{graph.name} on {cfg.name}: layer '{op.name}' differs first at {where}: machine "
                                 f"{got[where]} != reference {want[where]} ({int((got != want).sum())} of {got.size})")
    return res
