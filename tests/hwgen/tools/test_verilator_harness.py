"""The Verilator harness (rtl_templates/verilator_harness.cpp.j2) on the stand-in top level
(tests/hwgen/dram_copy_top.py, an AXI copy engine with the issue 13 ports): the memory after a
run, the ideal memory's exact cycles (the stand-in's hand formula), the random memory's same bytes
in no fewer cycles, several runs without reset, and the documented errors."""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dram_copy_top import ideal_cycles
from tool_helpers import expected_dram, needs, standin_verilog

from dian.errors import AcceleratorFaultError, BusProtocolError, CycleLimitError
from dian.hwgen.tools.verilator_run import build_harness, harness_source, parse_memory, run_harness

pytestmark = needs("verilator")


@dataclass(frozen=True)
class Case:
    bus_bits: int
    n_words: int
    latency: int
    src: int
    dst: int
    burst: int

    @property
    def nbytes(self) -> int:
        return self.n_words * self.bus_bits // 8

    def expected(self, image: bytes) -> bytes:
        return expected_dram(image, bus_bits=self.bus_bits, n_words=self.n_words, src=self.src, dst=self.dst)


# A bus of at most 64 bits (scalar ports) and the widest one (VlWide ports); bursts of 2 and 4, the last shorter.
CASES = [Case(64, 5, 3, 128, 512, 2), Case(256, 6, 1, 64, 1024, 4)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"bus{c.bus_bits}-L{c.latency}")
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Path]:
    c: Case = request.param
    folder = tmp_path_factory.mktemp(f"harness{c.bus_bits}")
    v = standin_verilog(folder, bus_bits=c.bus_bits, n_words=c.n_words, src=c.src, dst=c.dst, burst=c.burst)
    return c, build_harness([v], "dram_copy_top", c.bus_bits, c.latency, folder / "build")


def _image(c: Case, size: int = 2048) -> bytes:
    rng = random.Random(c.bus_bits)
    return bytes(rng.randrange(256) for _ in range(size))


def test_ideal_memory_gives_the_hand_computed_cycles(built: tuple[Case, Path]) -> None:
    c, exe = built
    image = _image(c)
    run = run_harness(exe, image, max_cycles=1000)
    assert run.dram == c.expected(image)
    cycles = ideal_cycles(c.n_words, c.latency)
    assert run.counters == {
        "perf_cycles": cycles,
        "perf_busy_pe_cycles": c.n_words,
        "perf_dram_bytes_read": c.nbytes,
        "perf_dram_bytes_written": c.nbytes,
    }
    assert run.cycles == cycles + 1 and run.run_cycles == (cycles + 1,)  # irq comes one edge after DONE
    bursts = -(-c.n_words // c.burst)
    assert run.status == 0b010 and run.memory == "ideal" and run.sim_seconds >= 0
    assert {k: run.bus[k] for k in ("read_bursts", "read_beats", "write_bursts", "write_beats")} == {
        "read_bursts": bursts,
        "read_beats": c.n_words,
        "write_bursts": bursts,
        "write_beats": c.n_words,
    }
    assert run.bus["ready_drops"] == run.bus["r_gaps"] == run.bus["late_writes"] == 0
    assert run.bus["max_read_latency"] == c.latency + (bursts - 1) * (c.burst - 1)  # the last AR waits its turn


def test_random_memory_gives_the_same_bytes_in_no_fewer_cycles(built: tuple[Case, Path]) -> None:
    c, exe = built
    image, ideal = _image(c), ideal_cycles(c.n_words, c.latency)
    runs = [run_harness(exe, image, max_cycles=100_000, memory=f"random:{seed}") for seed in range(1, 7)]
    for run in runs:
        assert run.dram == c.expected(image), run.memory
        assert run.counters["perf_cycles"] >= ideal and run.cycles == run.counters["perf_cycles"] + 1
        assert run.counters["perf_dram_bytes_read"] == run.counters["perf_dram_bytes_written"] == c.nbytes
    assert [r.memory for r in runs] == [f"random:{s}" for s in range(1, 7)]
    assert max(r.counters["perf_cycles"] for r in runs) > ideal
    assert sum(r.bus["ready_drops"] for r in runs) > 0 and max(r.bus["max_read_latency"] for r in runs) > c.latency
    again = run_harness(exe, image, max_cycles=100_000, memory="random:3")
    assert again.cycles == runs[2].cycles and again.bus == runs[2].bus  # a seed is a reproducible run


def test_runs_in_a_row_without_reset(built: tuple[Case, Path]) -> None:
    c, exe = built
    image, cycles = _image(c), ideal_cycles(c.n_words, c.latency) + 1
    run = run_harness(exe, image, max_cycles=1000, runs=3)
    assert run.dram == c.expected(image) and run.run_cycles == (cycles,) * 3
    run = run_harness(exe, image, max_cycles=100_000, runs=2, memory="random:5")
    assert run.dram == c.expected(image) and len(run.run_cycles) == 2 and min(run.run_cycles) >= cycles


def test_polling_and_a_base_address(built: tuple[Case, Path]) -> None:
    c, exe = built
    image = _image(c)
    polled = run_harness(exe, image, max_cycles=1000, poll=True, base=0x7FFF_0000)
    assert polled.dram == c.expected(image)
    assert polled.counters["perf_cycles"] == ideal_cycles(c.n_words, c.latency)
    assert polled.cycles > ideal_cycles(c.n_words, c.latency)  # to the STATUS read that saw DONE


def test_cycle_limit_is_exact(built: tuple[Case, Path]) -> None:
    c, exe = built
    cycles = ideal_cycles(c.n_words, c.latency) + 1
    assert run_harness(exe, _image(c), max_cycles=cycles).cycles == cycles
    with pytest.raises(CycleLimitError, match=f"run 1 did not end within {cycles - 1} cycles") as e:
        run_harness(exe, _image(c), max_cycles=cycles - 1)
    assert e.value.returncode == 3


def test_decerr_ends_the_run_with_an_error_code(built: tuple[Case, Path]) -> None:
    """The memory ends before the destination (WRITE_ERROR) or before the source (READ_ERROR, first)."""
    c, exe = built
    with pytest.raises(AcceleratorFaultError, match=r"ended with error code 4, WRITE_ERROR \(STATUS 0x00000406\)") as e:
        run_harness(exe, _image(c, c.dst), max_cycles=1000)
    assert (e.value.code, e.value.name, e.value.returncode) == (4, "WRITE_ERROR", 6)
    with pytest.raises(AcceleratorFaultError, match="error code 3, READ_ERROR") as e:
        run_harness(exe, _image(c, c.src), max_cycles=1000, memory="random:2")
    assert e.value.name == "READ_ERROR"
    with pytest.raises(BusProtocolError, match=f"AW at 0x{c.dst:x} .*: outside the memory \\[0x0, 0x{c.dst:x}\\)"):
        run_harness(exe, _image(c, c.dst), max_cycles=1000, decerr=False)


def test_an_unaligned_master_is_a_protocol_error(tmp_path: Path) -> None:
    v = standin_verilog(tmp_path, bus_bits=32, n_words=2, src=6, dst=64, burst=2)
    exe = build_harness([v], "dram_copy_top", 32, 2, tmp_path / "build")
    with pytest.raises(
        BusProtocolError, match=r"AXI violation in cycle \d+: AR at 0x6 \(2 beats\): the address is not"
    ):
        run_harness(exe, bytes(256), max_cycles=1000)


def test_json_line_and_usage_errors(built: tuple[Case, Path], tmp_path: Path) -> None:
    """The harness's command line as its header documents it."""
    c, exe = built
    dram_in, dram_out = tmp_path / "in.bin", tmp_path / "out.bin"
    dram_in.write_bytes(_image(c))
    done = subprocess.run([exe, dram_in, dram_out, "1000", "--runs", "2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert list(line) == [
        "outcome", "message", "memory", "seed", "base", "runs", "cycles", "run_cycles", "status", "error_code",
        "perf_cycles", "perf_busy_pe_cycles", "perf_dram_bytes_read", "perf_dram_bytes_written", "bus", "sim_seconds",
    ]  # fmt: skip
    assert line["outcome"] == "done" and line["seed"] is None and line["runs"] == 2 and line["error_code"] == 0
    for args, message in [
        (["--memory", "random"], "--memory takes ideal or random:SEED"),
        (["--base", "0x800"], "--base 0x800 is not 4096-byte aligned"),
        (["--runs", "0"], "--runs takes a positive integer"),
        (["--frobnicate"], "unknown option --frobnicate"),
    ]:
        done = subprocess.run([exe, dram_in, dram_out, "1000", *args], capture_output=True, text=True)
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_unchanged_build_is_reused(built: tuple[Case, Path]) -> None:
    c, exe = built
    mtime = exe.stat().st_mtime_ns
    folder = exe.parent.parent
    again = build_harness([folder.parent / "dram_copy_top.v"], "dram_copy_top", c.bus_bits, c.latency, folder)
    assert again == exe and exe.stat().st_mtime_ns == mtime


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="latency"):
        harness_source("top", 64, 0)
    with pytest.raises(ValueError, match="bus_bits"):
        harness_source("top", 24, 1)
    with pytest.raises(ValueError, match="max_burst"):
        harness_source("top", 64, 1, max_burst=257)
    assert [parse_memory(t) for t in ("ideal", "random", "random:0", "random:42")] == [
        "ideal",
        "random:1",
        "random:0",
        "random:42",
    ]
    for bad in ("Ideal", "random:", "random:-1", "random:x", "random:1:2", f"random:{1 << 64}", "rand"):
        with pytest.raises(ValueError, match="memory must be 'ideal', 'random' or 'random:SEED'"):
            parse_memory(bad)
    for kw in ({"base": 0x800}, {"base": 1 << 32}, {"memory": "random:x"}, {"runs": 0}, {"dram_size": 4}):
        with pytest.raises(ValueError):
            run_harness(Path("/nonexistent"), bytes(64), 100, **kw)  # type: ignore[arg-type]
