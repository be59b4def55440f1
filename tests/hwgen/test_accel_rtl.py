"""The accelerator top level (hwgen/top.py) against sim/machine: the DRAM
after the run, the cycle count and the performance counters must be equal —
in amaranth.sim for a small hand-built program, in Verilator (the shared
``tiny`` build) for the rest."""

from __future__ import annotations

import time

import pytest
from accel_programs import build_image, copy_requant_program, mem_only_program, run_amaranth, run_machine
from tool_helpers import needs

from dian.hwgen.emit import verilog_text
from dian.hwgen.presets import PRESETS
from dian.hwgen.top import Accelerator
from dian.hwgen.verilator_run import run_harness

TINY = PRESETS["tiny"]


def _verilator(exe, image: bytes) -> tuple[bytes, dict[str, int]]:
    after, counters = run_harness(exe, image, max_cycles=10_000_000)
    for k in ("sim_seconds", "dram_reads", "dram_writes"):
        counters.pop(k)
    assert counters.pop("reads_unanswered") == 0
    return after, counters


def test_verilog_is_deterministic() -> None:
    assert verilog_text(TINY) == verilog_text(TINY)


def test_mem_stream_and_chunks_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *mem_only_program(TINY))
    assert run_amaranth(Accelerator(TINY), TINY, image) == run_machine(TINY, image)


@needs("verilator")
def test_mem_stream_and_chunks_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *mem_only_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)


def test_copy_and_requant_in_amaranth_sim() -> None:
    image, _ = build_image(TINY, *copy_requant_program(TINY))
    got, want = run_amaranth(Accelerator(TINY), TINY, image), run_machine(TINY, image)
    assert got[0] != image  # the outputs were written
    assert got == want


@needs("verilator")
def test_copy_and_requant_in_verilator(tiny_harness) -> None:
    image, _ = build_image(TINY, *copy_requant_program(TINY))
    assert _verilator(tiny_harness, image) == run_machine(TINY, image)
