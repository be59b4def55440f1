"""PE utilization of ResNet-18 and MobileNetV2 on the ``default`` accelerator,
measured in the machine simulator (sim/machine), and compile time.

For each model at 1x3x224x224 (zoo weights as loaded, 8 calibration samples,
seed 0; the figures below depend only on shapes):

* compile time: the frontend (trace, calibrate, quantize), then hwgen's
  mapping (``search.mapper.map_graph``, the compile default) and lowering (``lower_graph``: DRAM image and
  program), median of ``--repeats`` runs;
* the whole network lowered for ``default`` and run in sim/machine
  (``run_lowered``) on a random int8 input: cycles, busy-PE cycles, DRAM bytes;
* per layer: sim/machine exposes only whole-run counters, so every op that
  runs on the accelerator is cut out of the graph into a graph of its own
  (same tensors, weights and requant parameters), lowered and run alone.
  A layer's cycles therefore include its own start-up (boot, program-chunk
  fetch, first loads before any compute, last store) which in the whole
  network overlaps the neighbouring layers; the sum of the per-layer cycles is
  shown next to the whole-network run. The per-layer run keeps the trace, from
  which the MEM and CMP engines' busy cycles are summed: a layer is
  *compute-bound* when the CMP engine is busy at least as long as the MEM engine.

Utilization is ``MACs / (cycles x PEs)`` (useful MACs only: a 3-channel
input fills 3 of 16 rows). The RTL's busy-PE counter counts every lane of a
channel block (padding lanes included), so its ratio is shown too. Goals
(issue 4): >= 90 % on compute-bound convs, >= 60 % on depthwise, >= 75 % on the
whole ResNet-18; every layer is flagged, misses included.

    .venv/bin/python benchmarks/bench_accelerator.py [--models resnet18,mobilenetv2] [--repeats 3]

Writes benchmarks/results/accelerator_utilization.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from dian.accel_artifacts import fixed_cycles
from dian.frontend import calibration_samples, load_model, lower
from dian.hwgen.isa import End
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.workload import WorkKind
from dian.hwgen.presets import PRESETS
from dian.ir import Graph, graph_macs, op_macs
from dian.ir.ops import Conv2d, Linear
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = (1, 3, 224, 224)
PRESET = "default"
GOAL_CONV, GOAL_DW, GOAL_NET = 0.90, 0.60, 0.75
CALIB = 8


def single_op_graph(graph: Graph, op) -> Graph:
    """``op`` alone: its inputs become graph inputs, its output the graph output."""
    consts = {n: graph.constants[n] for n in op.constants}
    names = [*dict.fromkeys([*op.inputs, op.output]), *consts]
    return Graph.build(
        op.name, [graph.tensors[n] for n in names], consts, [op], list(dict.fromkeys(op.inputs)), [op.output]
    )


def random_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, size=graph.tensors[n].shape, dtype=np.int8) for n in graph.inputs}


def describe(graph: Graph, op, work_kind: WorkKind) -> tuple[str, str]:
    """(kind, shape) for the table."""
    ins = "+".join("x".join(map(str, graph.tensors[n].shape[1:])) for n in dict.fromkeys(op.inputs))
    out = "x".join(map(str, graph.tensors[op.output].shape[1:]))
    if isinstance(op, Conv2d):
        _, cg, fy, fx = graph.tensors[op.weight].shape
        if op.groups > 1 and cg == 1:
            kind = f"dw {fy}x{fx}" + ("" if work_kind is WorkKind.DW else " (as GEMM)")
        elif fy == fx == 1:
            kind = "pw 1x1"
        else:
            kind = f"conv {fy}x{fx}"
        if op.stride != (1, 1):
            kind += f" s{op.stride[0]}"
        return kind, f"{ins} -> {out}"
    if isinstance(op, Linear):
        return "linear", f"{ins} -> {out}"
    return op.kind.value, f"{ins} -> {out}"


def engine_busy(trace) -> dict[str, int]:
    busy = {"MEM": 0, "CMP": 0}
    for t in trace:
        if not isinstance(t.instr, End):
            busy[t.engine] += t.end - t.start
    return busy


def goal_of(kind: str, compute_bound: bool, macs: int) -> float | None:
    if kind.startswith("dw") and "GEMM" not in kind:
        return GOAL_DW
    if kind.startswith(("conv", "pw", "dw")) and compute_bound:
        return GOAL_CONV
    return None


def flag(util: float, goal: float | None) -> str:
    if goal is None:
        return ""
    return f"meets {goal:.0%}" if util >= goal else f"MISSES {goal:.0%}"


def bench_model(name: str, repeats: int) -> dict:
    cfg = PRESETS[PRESET]
    pes = cfg.pe_rows * cfg.pe_cols
    t = time.perf_counter()
    m = load_model(f"zoo:{name}")
    calib = calibration_samples(m, SHAPE, CALIB, 0)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    g = lower(m.module, SHAPE, calib, name)[1]
    t_frontend = time.perf_counter() - t
    plan_s, lower_s = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        plans = map_graph(g, cfg)
        plan_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        low = lower_graph(g, cfg, plans)
        lower_s.append(time.perf_counter() - t)
    out: dict = {
        "model": name,
        "input": list(SHAPE),
        "preset": PRESET,
        "pes": pes,
        "ops": len(g.ops),
        "layers_on_accel": len(plans),
        "macs": graph_macs(g),
        "image_bytes": len(low.image),
        "program_chunks": len(low.program.chunks),
        "compile_s": {
            "load + calibration samples": t_load,
            "frontend (trace, calibrate, quantize)": t_frontend,
            "map (map_graph)": statistics.median(plan_s),
            "lower (lower_graph)": statistics.median(lower_s),
            "schedule + lower": statistics.median(p + q for p, q in zip(plan_s, lower_s, strict=True)),
        },
    }
    t = time.perf_counter()
    r = run_lowered(low, random_inputs(g))
    out["machine_sim_s"] = time.perf_counter() - t
    c = r.counters
    out["whole"] = {
        "cycles": c.cycles,
        "busy_pe_cycles": c.busy_pe_cycles,
        "dram_bytes_read": c.dram_bytes_read,
        "dram_bytes_written": c.dram_bytes_written,
        "program_bytes_read": c.program_bytes_read,
        "instructions": c.instructions,
        "chunks": c.chunks,
        "util_macs": out["macs"] / (c.cycles * pes),
        "util_counter": c.busy_pe_cycles / (c.cycles * pes),
        "predicted_cycles": fixed_cycles(cfg) + sum(p.schedule.prediction.cycles for p in plans),
    }
    layers = []
    for p in plans:
        op = p.work.op
        lg = single_op_graph(g, op)
        lp = map_graph(lg, cfg)
        ll = lower_graph(lg, cfg, lp)
        lr = run_lowered(ll, random_inputs(lg, 1), keep_trace=True)
        lc = lr.counters
        busy = engine_busy(lr.trace)
        kind, shape = describe(g, op, p.work.kind)
        macs = op_macs(g, op)
        compute_bound = busy["CMP"] >= busy["MEM"]
        util = macs / (lc.cycles * pes)
        goal = goal_of(kind, compute_bound, macs)
        layers.append(
            {
                "layer": op.name,
                "kind": kind,
                "mode": p.work.kind.value,
                "shape": shape,
                "macs": macs,
                "cycles": lc.cycles,
                "predicted_cycles": fixed_cycles(cfg) + sum(q.schedule.prediction.cycles for q in lp),
                "util_macs": util,
                "util_counter": lc.busy_pe_cycles / (lc.cycles * pes),
                "dram_kib": (lc.dram_bytes_read + lc.dram_bytes_written) / 1024,
                "dram_read_kib": lc.dram_bytes_read / 1024,
                "dram_written_kib": lc.dram_bytes_written / 1024,
                "program_kib": lc.program_bytes_read / 1024,
                "mem_busy": busy["MEM"],
                "cmp_busy": busy["CMP"],
                "compute_bound": compute_bound,
                "goal": goal,
                "flag": flag(util, goal),
                "tiling": str(p.tiling),
            }
        )
    out["layers"] = layers
    out["sum_layer_cycles"] = sum(row["cycles"] for row in layers)
    conv = [row for row in layers if row["goal"] == GOAL_CONV]
    dw = [row for row in layers if row["goal"] == GOAL_DW]
    out["groups"] = {}
    for label, rows in (
        ("compute-bound convs", conv),
        ("depthwise convs", dw),
        ("all convs + linears", [r for r in layers if r["macs"]]),
    ):
        if rows:
            cyc = sum(r["cycles"] for r in rows)
            out["groups"][label] = {
                "layers": len(rows),
                "cycles": cyc,
                "macs": sum(r["macs"] for r in rows),
                "util_macs": sum(r["macs"] for r in rows) / (cyc * pes),
                "min_util": min(r["util_macs"] for r in rows),
                "misses": [r["layer"] for r in rows if r["goal"] and r["util_macs"] < r["goal"]],
            }
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def markdown(results: list[dict], env: dict) -> str:
    cfg = PRESETS[PRESET]
    lines = [
        "# PE utilization on the `default` accelerator (machine simulator) and compile time",
        "",
        f"Preset `{PRESET}`: {cfg.pe_rows}x{cfg.pe_cols} PEs, DRAM bus {cfg.dram_bus_bits} bit, latency "
        f"{cfg.dram_latency} cycles, IMEM {cfg.imem_instructions} instructions. Input 1x3x224x224, batch 1. "
        f"Measured in sim/machine (cycle counts from hwgen/timing.py, exact against the RTL for every instruction, "
        f"DW included: the v2 DW unit takes a window column a cycle from the banked IBUF, up to a pixel a "
        f"cycle, so depthwise layers are bound by the MEM engine's DRAM traffic, docs/accelerator.md "
        f"'Depthwise v2'). Code: {env['git']}.",
        f"Machine: {env['cpu']} ({env['cores']} cores), Python {env['python']}; load average before/after "
        f"{env['load_average'][0]} / {env['load_average'][1]}; {env['date']}.",
        "",
        "Utilization = MACs / (cycles x 256 PEs). `counter` = the busy-PE counter's ratio (counts all L lanes of "
        "a channel block, padding included). Per-layer rows: each op lowered and run **as its own graph** "
        "(sim/machine has whole-run counters only), so its cycles include its own start-up and drain "
        "(boot, chunk fetch, first load, last store) that the whole-network run overlaps. "
        "Compute-bound: the CMP engine busy >= the MEM engine busy in that run. Goals: >= 90 % compute-bound "
        "convs, >= 60 % depthwise, >= 75 % whole ResNet-18.",
        "",
        "## Whole networks",
        "",
        "| model | GMACs | cycles (measured) | predicted (mapper: layers + boot, done) | sum of per-layer runs "
        "| utilization | counter | DRAM read MiB | DRAM written MiB | instructions | chunks | ms at 150 MHz | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        w = r["whole"]
        goal = flag(w["util_macs"], GOAL_NET) if r["model"] == "resnet18" else ""
        lines.append(
            f"| {r['model']} | {r['macs'] / 1e9:.3f} | {w['cycles']:,} | {w['predicted_cycles']:,} "
            f"| {r['sum_layer_cycles']:,} | {_pct(w['util_macs'])} | {_pct(w['util_counter'])} "
            f"| {w['dram_bytes_read'] / 2**20:.2f} | {w['dram_bytes_written'] / 2**20:.2f} "
            f"| {w['instructions']:,} | {w['chunks']} | {w['cycles'] / 150e3:.1f} | {goal} |"
        )
    for r in results:
        tot = r["sum_layer_cycles"]
        top = sorted(r["layers"], key=lambda x: -x["cycles"])[:3]
        first = r["layers"][0]
        rest = (r["macs"] - first["macs"]) / ((r["whole"]["cycles"] - first["cycles"]) * r["pes"])
        lines.append(
            f"\n{r['model']}: largest shares of the per-layer cycles: "
            + ", ".join(
                f"{x['layer']} {100 * x['cycles'] / tot:.1f} % (utilization {_pct(x['util_macs'])})" for x in top
            )
            + f". The first layer ({first['layer']}: {first['shape'].split(' ->')[0]} input, its kernel "
            f"columns folded into input channels by the host: docs/accelerator.md 'Shallow input layers') "
            f"takes {100 * first['cycles'] / tot:.1f} % of the cycles at {_pct(first['util_macs'])}; the "
            f"whole-network run without its cycles and MACs would be at {_pct(rest)}."
        )
    lines += [
        "",
        "Layer groups (from the per-layer runs; utilization = their MACs / their cycles):",
        "",
        "| model | group | layers | cycles | utilization | worst layer | misses |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for label, gr in r["groups"].items():
            lines.append(
                f"| {r['model']} | {label} | {gr['layers']} | {gr['cycles']:,} | {_pct(gr['util_macs'])} "
                f"| {_pct(gr['min_util'])} | {', '.join(gr['misses']) or 'none'} |"
            )
    lines += [
        "",
        "## Compile time (seconds)",
        "",
        "| model | load + calib samples | frontend (trace, calibrate, quantize) | map | lower | map + lower "
        "| image MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r["compile_s"]
        lines.append(
            f"| {r['model']} | {c['load + calibration samples']:.2f} "
            f"| {c['frontend (trace, calibrate, quantize)']:.2f} "
            f"| {c['map (map_graph)']:.3f} | {c['lower (lower_graph)']:.3f} | {c['schedule + lower']:.3f} "
            f"| {r['image_bytes'] / 2**20:.2f} |"
        )
    lines.append(
        f"\nSchedule/lower: median of {env['repeats']} runs. Frontend with {CALIB} calibration samples "
        "(the CLI default is 64; see reference_sim.md for that). Machine-simulator wall time for the whole "
        "network: " + ", ".join(f"{r['model']} {r['machine_sim_s']:.1f} s" for r in results) + "."
    )
    for r in results:
        lines += [
            "",
            f"## {r['model']}: per layer",
            "",
            "| layer | kind | shape (C x H x W) | MACs | cycles | predicted | pred/meas | utilization | counter "
            "| DRAM KiB | MEM busy | CMP busy | bound | goal |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for x in r["layers"]:
            lines.append(
                f"| {x['layer']} | {x['kind']} | {x['shape']} | {x['macs']:,} | {x['cycles']:,} "
                f"| {x['predicted_cycles']:,} | {x['predicted_cycles'] / x['cycles']:.2f} "
                f"| {_pct(x['util_macs'])} | {_pct(x['util_counter'])} | {x['dram_kib']:,.0f} "
                f"| {x['mem_busy']:,} | {x['cmp_busy']:,} | {'compute' if x['compute_bound'] else 'memory'} "
                f"| {x['flag']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="resnet18,mobilenetv2")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--from-json", action="store_true", help="rewrite the .md from the committed .json")
    args = p.parse_args()
    if args.from_json:
        data = json.loads((RESULTS / "accelerator_utilization.json").read_text())
        text = markdown(data["results"], data["env"])
        print(text)
        (RESULTS / "accelerator_utilization.md").write_text(text)
        return
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    import subprocess

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=RESULTS.parent.parent
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "hwgen", "sim", "ir", "frontend"],
        capture_output=True,
        text=True,
        cwd=RESULTS.parent.parent,
    ).stdout.strip()
    env = {
        "git": head + (" + uncommitted changes in hwgen/sim/ir/frontend" if dirty else ""),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "repeats": args.repeats,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    before = os.getloadavg()[0]
    results = [bench_model(m, args.repeats) for m in args.models.split(",")]
    env["load_average"] = [round(before, 2), round(os.getloadavg()[0], 2)]
    text = markdown(results, env)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "accelerator_utilization.md").write_text(text)
        (RESULTS / "accelerator_utilization.json").write_text(
            json.dumps(
                {
                    "env": env,
                    "goals": {"compute_bound_conv": GOAL_CONV, "depthwise": GOAL_DW, "whole_resnet18": GOAL_NET},
                    "results": results,
                },
                indent=1,
                sort_keys=True,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
