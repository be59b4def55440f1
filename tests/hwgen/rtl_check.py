"""The accelerator RTL in Verilator against the two simulators and the cost
model: build the model of a config, run a graph lowered for it, and list
every disagreement — an output activation that differs from sim/reference's,
DRAM after the run that differs from sim/machine's, a cycle count or perf
counter that differs from sim/machine's or from search/cost_model.py's
prediction. Shared by test_accel_gemm.py (``tiny``), test_rtl_fuzz.py and test_accel_mapped.py
(``small``, the mapper's plans)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from accel_programs import run_machine
from machine_cases import random_inputs

from dian.errors import CycleLimitError
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.lower.fusion import TilingChooser
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.scheduler import LayerPlan, plan_graph
from dian.hwgen.tools.verilator_run import run_harness
from dian.ir import Graph
from dian.search.cost_model import network_cost
from dian.sim.reference import run_graph


def build_accel(cfg: AccelConfig, folder: Path) -> Path:
    """Emit ``cfg``'s Verilog into ``folder/rtl`` and verilate it with the harness; the executable."""
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
    from dian.hwgen.tools.verilator_run import build_harness

    files = emit_verilog(cfg, folder / "rtl")
    return build_harness(
        files, TOP_NAME, cfg.dram_bus_bits, cfg.dram_latency, folder / "build", max_burst=cfg.max_burst_beats
    )


def _first_diff(got: np.ndarray, want: np.ndarray) -> str:
    where = tuple(int(i) for i in np.argwhere(got != want)[0])
    return f"first at {where}: {got[where]} != {want[where]} ({int((got != want).sum())} of {got.size} differ)"


def rtl_mismatches(
    exe: Path,
    cfg: AccelConfig,
    graph: Graph,
    seed: int = 0,
    plans: list[LayerPlan] | None = None,
    random_memories: Sequence[int] = (),
    tiling: TilingChooser | None = None,
) -> tuple[list[str], dict[str, int]]:
    """Run ``graph`` lowered for ``cfg`` with ``plans`` (default: the default scheduler's) on the
    model ``exe`` (built from ``cfg``) on the harness's ideal memory, then once on its random memory
    per seed in ``random_memories`` (the image at a base address other than 0); the disagreements
    (empty when it is exact) and the RTL's counters on the ideal memory. ``tiling``: the fused blocks'
    chooser on a config with a fusion buffer (lower_graph's; None: the lowering's timed choice)."""
    x = random_inputs(graph, seed)
    plans = plan_graph(graph, cfg) if plans is None else plans
    low = lower_graph(graph, cfg, plans, tiling=tiling)
    dram = np.frombuffer(low.image, dtype=np.uint8).copy()
    low.write_inputs(dram, x)
    image = dram.tobytes()
    want_dram, want = run_machine(cfg, image)
    try:  # a hang shows up after a few times the machine's cycles, not after millions
        run = run_harness(exe, image, max_cycles=2 * want["cycles"] + 10_000)
    except CycleLimitError as e:
        return [f"RTL hangs: sim/machine finishes in {want['cycles']} cycles; {e}"], {}
    after, got = run.dram, run.counters
    problems = [
        f"{n}: RTL {got.get(n)} != sim/machine {v}"
        for n, v in want.items()
        if n.startswith("perf_") and got.get(n) != v
    ]
    nc = network_cost(graph, cfg, plans, tiling)  # the exact cost model, straight against the RTL's counters
    model = {
        "perf_cycles": nc.cycles,
        "perf_busy_pe_cycles": nc.busy_pe,
        "perf_dram_bytes_read": nc.dram_read,
        "perf_dram_bytes_written": nc.dram_write,
    }
    problems += [f"{n}: RTL {got.get(n)} != cost model {v}" for n, v in model.items() if got.get(n) != v]
    ram = np.frombuffer(after, dtype=np.uint8)
    ref = run_graph(graph, x, keep_all=True)
    for op in graph.ops:
        if op.output not in low.slots:  # a layer's results that only pass its fused lookup table
            continue
        out = low.read_tensor(ram, op.output)
        if not np.array_equal(out, ref[op.output]):
            problems.append(f"layer '{op.name}' output vs sim/reference: {_first_diff(out, ref[op.output])}")
    if after != want_dram:
        problems.append(f"DRAM vs sim/machine: bytes {_first_diff(ram, np.frombuffer(want_dram, np.uint8))}")
    for mem_seed in random_memories:
        memory, base = f"random:{mem_seed}", 0x1000 * (1 + mem_seed % 7)
        try:
            rand = run_harness(exe, image, max_cycles=50 * want["cycles"] + 100_000, memory=memory, base=base)
        except CycleLimitError as e:
            problems.append(f"{memory}: RTL hangs; {e}")
            continue
        if rand.dram != want_dram:
            got_ram = np.frombuffer(rand.dram, np.uint8)
            problems.append(
                f"{memory}: DRAM vs sim/machine: {_first_diff(got_ram, np.frombuffer(want_dram, np.uint8))}"
            )
        if rand.counters["perf_cycles"] < want["cycles"]:
            problems.append(f"{memory}: {rand.counters['perf_cycles']} cycles, fewer than the ideal {want['cycles']}")
    return problems, got


def check_rtl(
    exe: Path,
    cfg: AccelConfig,
    graph: Graph,
    seed: int = 0,
    plans: list[LayerPlan] | None = None,
    random_memories: Sequence[int] = (),
) -> dict[str, int]:
    """Assert the RTL model ``exe`` of ``cfg`` runs ``graph`` (lowered with ``plans``, default the
    default scheduler's) exactly on the ideal memory, and bit-exactly on the random memories of
    ``random_memories``; its counters on the ideal memory."""
    problems, counters = rtl_mismatches(exe, cfg, graph, seed, plans, random_memories)
    assert not problems, f"{graph.name} on {cfg.name} (seed {seed}): " + "; ".join(problems)
    return counters
