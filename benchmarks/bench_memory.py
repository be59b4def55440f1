"""The zoo networks on the ideal and on random AXI memories, in Verilator; and what the AXI4
master cost in cycles against the single-beat port it replaced.

For each (model, preset) pair: the network (zoo weights, 8 calibration samples, its default
input), mapped for the preset (search/mapper.py, the compile default) and lowered, runs in
sim/machine and in the Verilator model of the emitted RTL (hwgen/tools/verilator_run.py) on the
harness's ideal memory (the reference of the timing contract: the RTL's cycles must equal the
machine's) and on ``--seeds`` random memories (rtl_templates/axi_memory.h: every ready dropped at
random, long-tailed read latencies, bursts answered with gaps, late B responses, writes that
reach memory only with their B). Every run's DRAM after the run must be sim/machine's, byte for
byte. The random memory's figures say how much a hostile memory slows the accelerator, not what a
board does.

``before`` is the machine simulator's cycle count for the same network and preset at commit
cdb3528, the last one with the single-beat DRAM port (no bursts, posted writes never answered,
reads on a fixed delay line), measured with this script's mapping and lowering on that commit:
the AXI master adds ``READ_PIPE`` cycles to each read, a longer header check at boot and the last
stores' answers before done (hwgen/timing.py); the goal is at most +3 %.

    .venv/bin/python benchmarks/bench_memory.py [--pairs M:P,...] [--machine-pairs M:P,...] [--seeds 3]

Writes benchmarks/results/memory.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dian.frontend import calibration_samples, load_model, lower
from dian.frontend.zoo import ZOO
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
from dian.hwgen.tools.verilator_run import build_harness, run_harness
from dian.search.mapper import map_graph
from dian.sim.machine import Machine

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUILD = REPO / "build" / "bench_memory"
PAIRS = "lenet:tiny,resnet_small:tiny,mobilenet_small:tiny,lenet:small,resnet_small:small,mobilenet_small:small"
#: Too big for the RTL here (the 16x16 build and millions of cycles): the machine simulator only, which the
#: timing contract makes the ideal memory's cycle count.
MACHINE_PAIRS = "resnet18:default,mobilenetv2:default"
#: sim/machine cycles at cdb3528 (the single-beat DRAM port), same mapping and lowering.
BEFORE = {
    ("lenet", "tiny"): 4648,
    ("lenet", "small"): 2572,
    ("resnet_small", "tiny"): 851617,
    ("mobilenet_small", "tiny"): 129713,
    ("resnet_small", "small"): 226660,
    ("mobilenet_small", "small"): 54544,
    ("resnet18", "default"): 7726979,
    ("mobilenetv2", "default"): 2784071,
}
GOAL = 0.03


def graph_of(name: str):
    m = load_model(f"zoo:{name}")
    shape = ZOO[name].default_input_shape
    return lower(m.module, shape, calibration_samples(m, shape, 8, 0), name)[1]


def image_of(graph, cfg) -> bytes:
    low = lower_graph(graph, cfg, map_graph(graph, cfg))
    dram = np.frombuffer(low.image, dtype=np.uint8).copy()
    rng = np.random.default_rng(0)
    low.write_inputs(dram, {n: rng.integers(-128, 128, graph.tensors[n].shape, dtype=np.int8) for n in graph.inputs})
    return dram.tobytes()


def bench_pair(model: str, preset: str, graph, exe, seeds: int) -> dict:
    """One network on one preset: sim/machine, then (with ``exe``) the RTL on the ideal memory and
    on ``seeds`` random ones."""
    cfg = PRESETS[preset]
    image = image_of(graph, cfg)
    dram = np.frombuffer(image, dtype=np.uint8).copy()
    mc = Machine(cfg, dram).run()
    want = dram.tobytes()
    row: dict = {"model": model, "preset": preset, "machine_cycles": mc.cycles, "before": BEFORE.get((model, preset))}
    if exe is None:
        return row
    ideal = run_harness(exe, image, max_cycles=4 * mc.cycles + 100_000)
    row["ideal"] = {"cycles": ideal.counters["perf_cycles"], "dram_equal": ideal.dram == want}
    row["random"] = []
    for seed in range(1, seeds + 1):
        t = time.perf_counter()
        run = run_harness(exe, image, max_cycles=60 * mc.cycles + 1_000_000, memory=f"random:{seed}", base=0x10000)
        row["random"].append(
            {
                "seed": seed,
                "cycles": run.counters["perf_cycles"],
                "dram_equal": run.dram == want,
                "bytes_equal": run.counters["perf_dram_bytes_read"] == mc.dram_bytes_read
                and run.counters["perf_dram_bytes_written"] == mc.dram_bytes_written,
                "max_read_latency": run.bus.get("max_read_latency"),
                "ready_drops": run.bus.get("ready_drops"),
                "wall_s": round(time.perf_counter() - t, 2),
            }
        )
    return row


def _pct(new: int, old: int | None) -> str:
    return f"{100 * (new - old) / old:+.2f} %" if old else ""


def markdown(rows: list[dict], builds: dict, env: dict) -> str:
    lines = [
        "# Zoo networks on the ideal and on random AXI memories (Verilator)",
        "",
        "Each network mapped for the preset (search/mapper.py) and lowered, on a random int8 input; run in "
        "sim/machine and in the Verilator model of the emitted RTL (`benchmarks/bench_memory.py`). *ideal*: "
        "the harness's ideal memory, the timing contract's reference (its cycles must be the machine's). "
        "*random*: rtl_templates/axi_memory.h's seeded random memory (readies dropped, long-tailed latencies, "
        "split bursts, late B, writes landing with their B), the image at base 0x10000. *DRAM equal*: the "
        "whole memory after the run is sim/machine's, byte for byte. *before*: sim/machine's cycles at cdb3528, "
        "the last commit with the single-beat DRAM port; the goal is at most +3 % (hwgen/timing.py says what "
        f"the AXI master adds). Code: {env['git']}. Machine: {env['cpu']}; load average "
        f"{env['load_average'][0]} -> {env['load_average'][1]}; {env['date']}.",
        "",
        "Verilator builds: " + "; ".join(f"{p}: {s:.0f} s" for p, s in builds.items()) + ".",
        "",
        "| model | preset | before (cdb3528) | ideal: machine | ideal: RTL | change | goal | DRAM equal "
        "| random: cycles (seeds) | random / ideal | random: DRAM equal | max read latency |",
        "|---|---|---:|---:|---:|---:|---|---|---|---:|---|---:|",
    ]
    for r in rows:
        change = _pct(r["machine_cycles"], r["before"])
        goal = ""
        if r["before"]:
            goal = "meets" if r["machine_cycles"] <= (1 + GOAL) * r["before"] else "MISSES"
        before = f"{r['before']:,}" if r["before"] else ""
        head = f"| {r['model']} | {r['preset']} | {before} | {r['machine_cycles']:,} | "
        if "ideal" not in r:
            lines.append(head + f"(machine only) | {change} | {goal} | | | | | |")
            continue
        rand = r["random"]
        worst = max(x["cycles"] for x in rand)
        lines.append(
            head
            + f"{r['ideal']['cycles']:,} | {change} | {goal} | {'yes' if r['ideal']['dram_equal'] else 'NO'} | "
            + ", ".join(f"{x['cycles']:,}" for x in rand)
            + f" | {worst / r['machine_cycles']:.2f}x max | "
            + ("yes" if all(x["dram_equal"] and x["bytes_equal"] for x in rand) else "NO")
            + f" | {max((x['max_read_latency'] or 0) for x in rand)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", default=PAIRS, help="model:preset,...")
    p.add_argument("--machine-pairs", default=MACHINE_PAIRS, help="model:preset,... in sim/machine only")
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    load0 = os.getloadavg()
    pairs = [tuple(x.split(":")) for x in args.pairs.split(",") if x]
    machine_pairs = [tuple(x.split(":")) for x in args.machine_pairs.split(",") if x]
    graphs = {m: graph_of(m) for m in dict.fromkeys(m for m, _ in pairs + machine_pairs)}
    exes, builds = {}, {}
    for preset in dict.fromkeys(pr for _, pr in pairs):
        cfg = PRESETS[preset]
        t = time.perf_counter()
        folder = BUILD / preset
        files = emit_verilog(cfg, folder / "rtl")
        exes[preset] = build_harness(
            files, TOP_NAME, cfg.dram_bus_bits, cfg.dram_latency, folder / "build", max_burst=cfg.max_burst_beats
        )
        builds[preset] = time.perf_counter() - t
    rows = []
    for model, preset in pairs + machine_pairs:
        row = bench_pair(
            model, preset, graphs[model], exes.get(preset) if (model, preset) in pairs else None, args.seeds
        )
        rows.append(row)
        print(model, preset, row["machine_cycles"], row.get("ideal"), [x["cycles"] for x in row.get("random", [])])
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor(),
    )
    env = {
        "command": " ".join(["benchmarks/bench_memory.py", *sys.argv[1:]]),
        "git": git.strip(),
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "load_average": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps({"env": env, "builds": builds, "rows": rows}, indent=1) + "\n")
    text = markdown(rows, builds, env)
    (RESULTS / "memory.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
