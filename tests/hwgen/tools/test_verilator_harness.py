"""The Verilator harness (rtl_templates/verilator_harness.cpp.j2) on the stand-in
top level: memory contents, exact cycle counts and counters, and its errors."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from tool_helpers import expected_cycles, expected_dram, needs, standin_verilog

from dian.errors import CycleLimitError, ToolFailedError
from dian.hwgen.tools.verilator_run import build_harness, harness_source, run_harness

pytestmark = needs("verilator")


@dataclass(frozen=True)
class Case:
    bus_bits: int
    n_words: int
    latency: int
    src: int
    dst: int

    @property
    def bus_bytes(self) -> int:
        return self.bus_bits // 8


# A bus of at most 64 bits (scalar ports) and a wide one (VlWide ports).
CASES = [Case(64, 4, 3, 0, 256), Case(128, 5, 1, 64, 512)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"bus{c.bus_bits}-L{c.latency}")
def built(request, tmp_path_factory) -> tuple[Case, Path]:
    case: Case = request.param
    folder = tmp_path_factory.mktemp(f"harness{case.bus_bits}")
    v = standin_verilog(folder, bus_bits=case.bus_bits, n_words=case.n_words, src=case.src, dst=case.dst)
    return case, build_harness([v], "dram_copy_top", case.bus_bits, case.latency, folder / "build")


def _image(case: Case, size: int = 1024) -> bytes:
    rng = random.Random(case.bus_bits)
    return bytes(rng.randrange(256) for _ in range(size))


def test_memory_cycles_and_counters_are_exact(built) -> None:
    case, exe = built
    image = _image(case)
    after, counters = run_harness(exe, image, max_cycles=1000)
    assert after == expected_dram(image, bus_bits=case.bus_bits, n_words=case.n_words, src=case.src, dst=case.dst)
    cycles = expected_cycles(case.n_words, case.latency)
    nbytes = case.n_words * case.bus_bytes
    assert counters.pop("sim_seconds") >= 0
    assert counters == {
        "cycles": cycles,
        "dram_reads": case.n_words,
        "dram_writes": case.n_words,
        "reads_unanswered": 0,
        "perf_cycles": cycles,
        "perf_busy_pe_cycles": case.n_words,
        "perf_dram_bytes_read": nbytes,
        "perf_dram_bytes_written": nbytes,
    }


def test_cycle_limit_is_exact(built) -> None:
    case, exe = built
    cycles = expected_cycles(case.n_words, case.latency)
    assert run_harness(exe, _image(case), max_cycles=cycles)[1]["cycles"] == cycles
    with pytest.raises(CycleLimitError, match=f"within {cycles - 1} cycles"):
        run_harness(exe, _image(case), max_cycles=cycles - 1)


def test_dram_is_padded_to_the_asked_size(built) -> None:
    case, exe = built
    image = _image(case, case.dst)  # the destination lies beyond the image, inside the padding
    after, _ = run_harness(exe, image, max_cycles=1000, dram_size=2048)
    assert len(after) == 2048
    assert after == expected_dram(
        image + bytes(2048 - len(image)), bus_bits=case.bus_bits, n_words=case.n_words, src=case.src, dst=case.dst
    )


def test_access_outside_the_dram_fails(built) -> None:
    case, exe = built
    with pytest.raises(
        ToolFailedError, match=f"write at byte address 0x{case.dst:x} .* outside the {case.dst}-byte DRAM"
    ):
        run_harness(exe, _image(case, case.dst), max_cycles=1000)


def test_dram_size_must_be_whole_bus_words(built) -> None:
    case, exe = built
    with pytest.raises(ToolFailedError, match=f"multiple of {case.bus_bytes}"):
        run_harness(exe, _image(case, 1024 + 1), max_cycles=1000)


def test_unchanged_build_is_reused(built) -> None:
    case, exe = built
    mtime = exe.stat().st_mtime_ns
    folder = exe.parent.parent
    again = build_harness([folder.parent / "dram_copy_top.v"], "dram_copy_top", case.bus_bits, case.latency, folder)
    assert again == exe and exe.stat().st_mtime_ns == mtime


def test_harness_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="latency"):
        harness_source("top", 64, 0)
    with pytest.raises(ValueError, match="bus_bits"):
        harness_source("top", 12, 1)
