"""The accelerator top level (hwgen/rtl/top.py) against sim/machine: the DRAM
after the run, the cycle count and the performance counters must be equal —
in amaranth.sim for a small hand-built program, in Verilator (the shared
``tiny`` build) for the rest."""

from __future__ import annotations

import dataclasses

import numpy as np
from accel_programs import (
    add_program,
    build_image,
    copy_program,
    dw_program,
    fused_requant_expected,
    fused_requant_program,
    gemm_program,
    mem_only_program,
    pool_program,
    run_amaranth,
    run_machine,
)
from tool_helpers import needs

from dian.hwgen.accel_config import validate
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.emit import verilog_text
from dian.hwgen.rtl.top import Accelerator
from dian.hwgen.tools.verilator_run import run_harness

TINY = PRESETS["tiny"]


def _verilator(exe, image: bytes) -> tuple[bytes, dict[str, int]]:
    run = run_harness(exe, image, max_cycles=10_000_000)
    return run.dram, run.counters


def test_verilog_is_deterministic() -> None:
    assert verilog_text(TINY) == verilog_text(TINY)


def test_mem_stream_and_chunks_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *mem_only_program(TINY))
    assert run_amaranth(Accelerator(TINY), TINY, image) == run_machine(TINY, image)


@needs("verilator")
def test_mem_stream_and_chunks_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *mem_only_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def test_copy_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *copy_program(TINY))
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    assert got[0] != image  # the outputs were written
    assert got == want


@needs("verilator")
def test_copy_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *copy_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def test_gemm_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *gemm_program(TINY))
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    assert got[0] != image
    assert got == want


@needs("verilator")
def test_gemm_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *gemm_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def test_gemm_abuf_hazard_stall_in_amaranth_sim() -> None:
    """L = 2: the 1- and 2-pixel streams of gemm_program are shorter than the
    ABUF read-to-write distance (GemmUnit.RAW = 3) and the weight load (2), so
    each block period stalls to RAW; without the stall the data differs."""
    cfg = validate(dataclasses.replace(TINY, name="lanes2", pe_rows=2, pe_cols=2, dram_bus_bits=16))
    image, _ = build_image(cfg, *gemm_program(cfg))
    assert run_amaranth(Accelerator(cfg), cfg, image) == run_machine(cfg, image)


def test_pool_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *pool_program(TINY))
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    assert got[0] != image
    assert got == want


@needs("verilator")
def test_pool_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *pool_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def test_add_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *add_program(TINY))
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    assert got[0] != image
    assert got == want


@needs("verilator")
def test_add_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *add_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def test_dw_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *dw_program(TINY))
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    assert got[0] != image
    assert got == want


@needs("verilator")
def test_dw_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *dw_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def _fused_outputs_are_the_reference(cfg, regions: dict[str, bytes], after: bytes, out: int) -> None:
    """The fused instructions' OBUF words, stored to ``out``, are sim/reference's requantized convolutions."""
    want = fused_requant_expected(cfg, regions)
    assert after[out : out + len(want)] == want
    lanes = np.frombuffer(want, np.int8)
    assert len(set(lanes.tolist())) > 20  # not all clamped: the test sees the arithmetic, not just the clamp


def test_fused_requant_in_amaranth_sim() -> None:
    regions, chunks = fused_requant_program(TINY)
    image, addrs = build_image(TINY, regions, chunks)
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    _fused_outputs_are_the_reference(TINY, regions, got[0], addrs["out"])
    assert got == want


@needs("verilator")
def test_fused_requant_in_verilator(tiny_harness) -> None:
    regions, chunks = fused_requant_program(TINY)
    image, addrs = build_image(TINY, regions, chunks)
    got, want = _verilator(tiny_harness, image), run_machine(TINY, image)
    _fused_outputs_are_the_reference(TINY, regions, got[0], addrs["out"])
    assert got == want
