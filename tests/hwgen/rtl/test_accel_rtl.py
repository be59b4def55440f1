"""The accelerator top level (hwgen/rtl/top.py) in Verilator (the shared ``tiny`` build) against
sim/machine, every hand-built program of accel_programs.py: on the harness's ideal memory the DRAM
after the run, the cycle count and the performance counters are equal; on its random memories
(rtl_templates/axi_memory.h: ready dropped, long-tailed latencies, split bursts, late B, writes
that land only with their B) the DRAM is equal and the run is slower. The same programs run on the
core in amaranth.sim against a second, Python memory model in test_core_bus.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from accel_programs import (
    PROGRAMS,
    build_image,
    fused_requant_expected,
    fused_requant_program,
    gemm_program,
    run_amaranth,
    run_machine,
)
from tool_helpers import needs

from dian.hwgen.accel_config import validate
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.core import AcceleratorCore
from dian.hwgen.rtl.emit import verilog_text
from dian.hwgen.tools.verilator_run import run_harness

TINY = PRESETS["tiny"]


def _verilator(exe, image: bytes, memory: str = "ideal", base: int = 0) -> tuple[bytes, dict[str, int]]:
    run = run_harness(exe, image, max_cycles=10_000_000, memory=memory, base=base)
    return run.dram, run.counters


def _machine(image: bytes) -> tuple[bytes, dict[str, int]]:
    """sim/machine's DRAM and the four counters the registers show."""
    dram, counters = run_machine(TINY, image)
    return dram, {k: v for k, v in counters.items() if k.startswith("perf_")}


def test_verilog_is_deterministic() -> None:
    assert verilog_text(TINY) == verilog_text(TINY)


@needs("verilator")
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_ideal_memory_in_verilator(tiny_harness, program) -> None:
    image, _ = build_image(TINY, *program(TINY)[:2])
    assert _verilator(tiny_harness, image) == _machine(image)


@needs("verilator")
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_random_memory_in_verilator(tiny_harness, program) -> None:
    image, _ = build_image(TINY, *program(TINY)[:2])
    want_dram, want = _machine(image)
    for seed, base in ((1, 0), (2, 0x9000)):
        got_dram, got = _verilator(tiny_harness, image, f"random:{seed}", base)
        assert got_dram == want_dram, f"seed {seed}"
        assert got["perf_cycles"] > want["perf_cycles"]
        assert got["perf_dram_bytes_read"] == want["perf_dram_bytes_read"]


def test_gemm_abuf_hazard_stall_in_amaranth_sim() -> None:
    """L = 2: the 1- and 2-pixel streams of gemm_program are shorter than the
    ABUF read-to-write distance (GemmUnit.RAW = 3) and the weight load (2), so
    each block period stalls to RAW; without the stall the data differs."""
    cfg = validate(dataclasses.replace(TINY, name="lanes2", pe_rows=2, pe_cols=2, dram_bus_bits=16))
    image, _ = build_image(cfg, *gemm_program(cfg))
    assert run_amaranth(AcceleratorCore(cfg), cfg, image) == run_machine(cfg, image)


@needs("verilator")
def test_fused_requant_outputs_are_the_reference(tiny_harness) -> None:
    """The fused instructions' OBUF words, stored to ``out``, are sim/reference's requantized convolutions."""
    regions, chunks = fused_requant_program(TINY)
    image, addrs = build_image(TINY, regions, chunks)
    after, _ = _verilator(tiny_harness, image, "random:4")
    want = fused_requant_expected(TINY, regions)
    assert after[addrs["out"] : addrs["out"] + len(want)] == want
    assert len(set(np.frombuffer(want, np.int8).tolist())) > 20  # not all clamped: the arithmetic is seen
