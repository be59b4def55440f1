"""The accelerator core (hwgen/rtl/core.py) as a bus citizen, in amaranth.sim against the AXI4
memory of tests/hwgen/axi_memory.py (written from the AXI rules, independently of the RTL; it
fails a run on any protocol violation: valid or payload dropped before ready, a burst crossing
4 KiB or leaving the memory, wlast on the wrong beat, a size or burst type that is not the bus's):

* on the ideal memory, DRAM, cycles and counters equal sim/machine's (the timing contract);
* on a random memory (ready dropped, long-tailed latencies, split bursts, late B, writes that
  reach memory only with their B) the DRAM is still sim/machine's, and the run takes longer;
* the two failures the old port had: one read answered late, a memory that drops ready;
* bursts: never longer than ``max_burst_beats``, split at 4 KiB, placed at the base address;
* errors (a bad header, an image for another config, SLVERR on R or B, an illegal instruction)
  end the run with their code after the bus is drained, and the next start runs normally;
* a soft reset in the middle of a run drains the bus and clears the status;
* several inferences in a row, without a reset, from two base addresses.
"""

from __future__ import annotations

import dataclasses

import pytest
from accel_programs import (
    PROGRAMS,
    Clock,
    build_image,
    copy_program,
    mem_only_program,
    run_amaranth,
    run_machine,
    run_once,
)
from amaranth.sim import Simulator
from axi_memory import AxiMemory, MemoryStats

from dian.hwgen.accel_config import validate
from dian.hwgen.csr_map import ErrorCode
from dian.hwgen.isa import LoadWgt
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.core import AcceleratorCore

TINY = PRESETS["tiny"]


def _image(cfg, program):
    return build_image(cfg, *program(cfg)[:2])[0]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_ideal_memory_is_the_machine_simulator_to_the_cycle(program) -> None:
    image = _image(TINY, program)
    got_dram, got = run_amaranth(AcceleratorCore(TINY), TINY, image)
    want_dram, want = run_machine(TINY, image)
    assert got_dram != image or program is mem_only_program  # outputs were written
    assert (got_dram, got) == (want_dram, want)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("seed", [1, 2])
def test_random_memory_is_bit_exact_and_slower(program, seed: int) -> None:
    image = _image(TINY, program)
    stats: list[MemoryStats] = []
    got_dram, got = run_amaranth(
        AcceleratorCore(TINY), TINY, image, max_cycles=200_000, memory="random", seed=seed, stats_out=stats
    )
    want_dram, want = run_machine(TINY, image)
    assert got_dram == want_dram
    assert got["cycles"] > want["cycles"]
    assert stats[0].ready_drops > 0 and stats[0].max_latency > 2 * TINY.dram_latency


def test_a_read_answered_one_cycle_late_is_still_exact() -> None:
    """The old port's failure: one late answer corrupted 19-24 output bytes, silently."""
    image = _image(TINY, copy_program)
    want_dram, want = run_machine(TINY, image)
    for burst in (0, 3, 5):
        got_dram, got = run_amaranth(AcceleratorCore(TINY), TINY, image, late_reads={burst: 1})
        assert got_dram == want_dram, f"burst {burst} late"
        assert got["cycles"] >= want["cycles"]


def test_a_memory_dropping_ready_30_percent_of_the_time_finishes() -> None:
    """The old port's other failure: it hung."""
    image = _image(TINY, mem_only_program)
    want_dram, _ = run_machine(TINY, image)
    got_dram, _ = run_amaranth(AcceleratorCore(TINY), TINY, image, 50_000, memory="random", seed=7, ready_prob=0.7)
    assert got_dram == want_dram


@pytest.mark.parametrize("mode", ["ideal", "random"])
def test_bursts_are_capped_split_at_4k_and_based(mode: str) -> None:
    """A config with 3-beat bursts, the image at base 0x5000 and a weight load that straddles
    the image's 4 KiB line: the memory sees no long or page-crossing burst (it would fail the
    run), every burst in the base's pages, and the DRAM is sim/machine's."""
    cfg = validate(dataclasses.replace(TINY, name="tiny-b3", max_burst_beats=3))
    L = cfg.lanes
    regions = {"pad": bytes(4096 - 104), "wgt": bytes(range(256)) * 2, "out": bytes(16 * L)}
    image, a = build_image(
        cfg, regions, lambda a: [([LoadWgt(a["wgt"], 0, 32)], []), ([LoadWgt(a["wgt"] + 64, 0, 8)], [])]
    )
    assert a["wgt"] < 4096 < a["wgt"] + 32 * L
    want_dram, want = run_machine(cfg, image)
    stats: list[MemoryStats] = []
    base = 0x5000
    got_dram, got = run_amaranth(
        AcceleratorCore(cfg), cfg, image, 50_000, memory=mode, seed=3, base=base, stats_out=stats
    )
    assert got_dram == want_dram
    assert stats[0].longest_burst == 3
    assert stats[0].pages_touched == {base // 4096, base // 4096 + 1}
    if mode == "ideal":
        assert got == want


def _error_run(cfg, image: bytes, **kw) -> dict[str, int]:
    _, got = run_amaranth(AcceleratorCore(cfg), cfg, image, 20_000, after_error=3, **kw)
    return got


def test_a_bad_magic_ends_the_run_with_bad_image() -> None:
    image = bytearray(_image(TINY, copy_program))
    image[0] ^= 0xFF
    got = _error_run(TINY, bytes(image))
    assert (got["error_code"], got["done_after"], got["busy_after"]) == (ErrorCode.BAD_IMAGE, 1, 0)


def test_an_image_for_another_config_is_refused() -> None:
    small_cfg = validate(dataclasses.replace(TINY, name="tiny-other", dram_latency=17))
    got = _error_run(TINY, _image(small_cfg, copy_program))
    assert got["error_code"] == ErrorCode.CONFIG_MISMATCH


@pytest.mark.parametrize(
    "option, code", [("slverr_reads", ErrorCode.READ_ERROR), ("slverr_writes", ErrorCode.WRITE_ERROR)]
)
def test_bus_errors_end_the_run_with_their_code(option: str, code: ErrorCode) -> None:
    """SLVERR on one burst (the fourth read, the first write): the run ends with the code, after
    the bus is drained (the memory would fail the run on a burst left unfinished)."""
    got = _error_run(TINY, _image(TINY, copy_program), **{option: frozenset({3 if option == "slverr_reads" else 0})})
    assert (got["error_code"], got["done_after"]) == (code, 1)


def test_runs_in_a_row_after_an_error_and_from_another_base() -> None:
    """Start, error, start again: each run is exact, none needs a reset; the same core runs the
    image at base 0 and at 0x3000."""
    good = _image(TINY, copy_program)
    bad = bytearray(good)
    bad[4] ^= 1  # image version
    want_dram, want = run_machine(TINY, good)
    dut = AcceleratorCore(TINY)
    results: list[tuple[int, int, int, bytes]] = []

    async def bench(ctx) -> None:
        clock = Clock()
        for image, base in ((good, 0), (bytes(bad), 0), (good, 0x3000), (good, 0x3000)):
            dram = bytearray(base) + bytearray(image)
            ctx.set(dut.base, base)
            t = await run_once(ctx, dut, AxiMemory(dram, TINY.bus_bytes, TINY.dram_latency), clock, 20_000)
            results.append((ctx.get(dut.error_code), t, ctx.get(dut.cycles), bytes(dram[base:])))
            await clock.tick(ctx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert [r[0] for r in results] == [0, ErrorCode.BAD_IMAGE, 0, 0]
    for _, t, cycles, dram in (results[0], *results[2:]):
        assert (t, cycles, dram) == (want["cycles"], want["perf_cycles"], want_dram)


def test_a_soft_reset_mid_run_drains_and_clears() -> None:
    """A soft reset in the middle of a store: the core drains the bus (owed W beats go with
    wstrb 0, no burst left open), returns to idle with the status clear, and the next run is exact."""
    image = _image(TINY, copy_program)
    want_dram, want = run_machine(TINY, image)
    dut = AcceleratorCore(TINY)
    seen: dict[str, int] = {}

    async def bench(ctx) -> None:
        dram = bytearray(image)
        mem = AxiMemory(dram, TINY.bus_bytes, TINY.dram_latency, "random", 5)
        clock = Clock()
        for t in range(50_000):
            ctx.set(dut.start, t == 0)
            ctx.set(dut.soft_reset, 0)
            if ctx.get(dut.m_axi_wvalid) and "reset_at" not in seen:
                ctx.set(dut.soft_reset, 1)
                seen["reset_at"] = t
            mem.step(ctx, dut, clock.cycle)
            if "reset_at" in seen and t > seen["reset_at"] and not ctx.get(dut.busy):
                break
            await clock.tick(ctx)
        seen.update(done=ctx.get(dut.done), code=ctx.get(dut.error_code), quiet=int(mem.quiet))
        await clock.tick(ctx)
        t = await run_once(ctx, dut, AxiMemory(dram, TINY.bus_bytes, TINY.dram_latency), clock, 20_000)
        seen.update(second=t, second_dram=int(bytes(dram) == want_dram))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert (seen["done"], seen["code"], seen["quiet"]) == (0, 0, 1)
    assert (seen["second"], seen["second_dram"]) == (want["cycles"], 1)
