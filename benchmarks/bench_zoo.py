"""PE utilization of the zoo's ImageNet-sized networks on the ``default`` and ``small``
accelerators, per network and per op kind, by the exact cost model.

For each model at 1x3x224x224 (zoo weights, 2 calibration samples, seed 0: every figure below
depends only on the shapes), on each preset; a model with a layer that does not map at 224 on
some preset (the scheduler's error is recorded) is measured at the largest of 192, 160, 128, 96
and 64 at which every layer maps on every preset:

* every layer mapped by the exact cost model (``search.mapper.map_graph``, the compile's
  default, objective latency) and the mapped network timed by ``search.cost_model.network_cost``:
  cycles, busy-PE cycles, DRAM bytes; each layer's share of the cycles is its cost less the
  boot and done a standalone run includes, so the shares plus one boot and done are the total;
* the same plans lowered (``lower_graph``) and run in sim/machine on a random int8 input: its
  cycle count must equal the model's (``--no-machine`` skips this check);
* per op kind (the kind of the IR op a layer comes from: full convs, 1x1 convs, the
  squeeze-excite 1x1 convs on 1x1 maps, depthwise, linear, channel gathers run as one-hot
  GEMMs, concat copies, SE gate multiplies, residual adds, pools, upsampling, ...): layers,
  MACs, cycles, and utilization.

Utilization = useful MACs / (cycles x PEs): the MACs of the IR's convs and linears only (a
one-hot gather's products are moves, not MACs; a shallow first layer's padding lanes are not
counted). ``busy`` = the busy-PE counter's ratio (array-occupied PE-cycles, padding lanes
included). FPS = the preset's clock / cycles, batch 1. Ratios compare models and presets
within one run.

    .venv/bin/python benchmarks/bench_zoo.py [--models M1,M2] [--presets default,small] [--no-machine] [--no-write]

Writes benchmarks/results/zoo_utilization.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from dian.errors import ScheduleError
from dian.frontend import calibration_samples, load_model, lower
from dian.hwgen import timing
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.workload import Work, WorkKind
from dian.hwgen.presets import PRESETS
from dian.ir import (
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    Pointwise,
    SelectChannels,
    Upsample,
    graph_macs,
    op_macs,
)
from dian.search.cost_model import network_cost
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered

RESULTS = Path(__file__).resolve().parent / "results"
CPUINFO = Path("/proc/cpuinfo")
STEM = "zoo_utilization"
SIZES = (224, 192, 160, 128, 96, 64)  # input sizes tried, largest first (see bench_model)
CALIB = 2
MODELS = ("resnet18", "mobilenetv2", "mobilenetv3_small", "efficientnet_b0", "shufflenetv2_x0_5", "unet_small")
PRESET_NAMES = ("default", "small")
BASELINE = "mobilenetv2"  # FPS ratios are to this model on the same preset


def op_kind(graph: Graph, op: Op | None, work: Work) -> str:
    """The row a layer counts in: what its IR op is, and how the array runs it where that differs."""
    if op is None or (isinstance(op, Concat) and work.kind is not WorkKind.COPY):
        return "ragged concat (one-hot GEMMs + adds)"  # its parts and sums: hwgen/lower/gathers.py
    if isinstance(op, SelectChannels):
        return "channel gather (one-hot GEMM)"
    if isinstance(op, Concat):
        return "concat (copy)"
    if isinstance(op, Conv2d):
        _, cg, fy, fx = graph.tensors[op.weight].shape
        if op.groups > 1 and cg == 1:
            return "depthwise" + (" (as GEMM)" if work.kind is WorkKind.GEMM else "")
        if op.groups > 1:
            return "grouped conv"
        _, _, oh, ow = graph.tensors[op.output].shape
        if fy == fx == 1:
            return "1x1 conv on a 1x1 map (SE)" if oh == ow == 1 else "pointwise 1x1 conv"
        return "conv kxk"
    if isinstance(op, Linear):
        return "linear"
    if isinstance(op, Mul):
        return "mul (SE gate)" if work.broadcast else "mul"
    if isinstance(op, Add):
        return "add (residual)"
    if isinstance(op, GlobalAvgPool):
        return "global avgpool"
    if isinstance(op, (MaxPool2d, AvgPool2d)):
        return "max/avg pool"
    if isinstance(op, Upsample):
        return "upsample (copy)"
    if isinstance(op, (Pointwise, Clamp)):
        return "pointwise table / clamp (copy)"
    return op.kind.value


def random_inputs(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {n: rng.integers(-128, 128, size=graph.tensors[n].shape, dtype=np.int8) for n in graph.inputs}


def bench_preset(g: Graph, preset: str, machine: bool) -> dict:
    cfg = PRESETS[preset]
    pes = cfg.pe_rows * cfg.pe_cols
    t = time.perf_counter()
    plans = map_graph(g, cfg)
    map_s = time.perf_counter() - t
    t = time.perf_counter()
    nc = network_cost(g, cfg, plans)
    cost_s = time.perf_counter() - t
    fixed = timing.boot_cycles(cfg) + timing.done_cycles(cfg)
    ops = {op.name: op for op in g.ops}
    macs = graph_macs(g)
    kinds: dict[str, dict] = defaultdict(lambda: {"layers": 0, "macs": 0, "cycles": 0, "busy_pe": 0})
    layers = []
    for p in plans:
        op = ops.get(p.work.op.name)
        kind = op_kind(g, op, p.work)
        c = nc.layers[p.work.op.name]
        row = {
            "layer": p.work.op.name,
            "kind": kind,
            "mode": p.work.kind.value,
            "macs": op_macs(g, op) if op is not None else 0,
            "cycles": int(c.cycles[0]) - fixed,
            "busy_pe": int(c.busy_pe[0]),
        }
        layers.append(row)
        k = kinds[kind]
        k["layers"] += 1
        for f in ("macs", "cycles", "busy_pe"):
            k[f] += row[f]
    for k in kinds.values():
        k["util_macs"] = k["macs"] / (k["cycles"] * pes) if k["cycles"] else 0.0
        k["util_busy"] = k["busy_pe"] / (k["cycles"] * pes) if k["cycles"] else 0.0
    out: dict = {
        "preset": preset,
        "pes": pes,
        "clock_mhz": cfg.clock_mhz,
        "layers_on_accel": len(plans),
        "pointwise_ops": sum(isinstance(op, Pointwise) for op in g.ops),
        "pointwise_copies": sum(isinstance(ops.get(p.work.op.name), Pointwise) for p in plans),
        "cycles": nc.cycles,
        "util_macs": macs / (nc.cycles * pes),
        "util_busy": nc.busy_pe / (nc.cycles * pes),
        "fps": cfg.clock_mhz * 1e6 / nc.cycles,
        "dram_read": nc.dram_read,
        "dram_write": nc.dram_write,
        "instructions": nc.instructions,
        "map_s": map_s,
        "cost_s": cost_s,
        "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["cycles"])),
        "layers": layers,
    }
    if machine:
        t = time.perf_counter()
        low = lower_graph(g, cfg, plans)
        r = run_lowered(low, random_inputs(g))
        out["machine"] = {
            "cycles": r.counters.cycles,
            "busy_pe": r.counters.busy_pe_cycles,
            "dram_read": r.counters.dram_bytes_read,
            "dram_write": r.counters.dram_bytes_written,
            "seconds": time.perf_counter() - t,
        }
        out["exact"] = (r.counters.cycles, r.counters.busy_pe_cycles, r.counters.dram_bytes_read) == (
            nc.cycles,
            nc.busy_pe,
            nc.dram_read,
        )
    return out


def bench_model(name: str, presets: list[str], machine: bool) -> dict:
    """``name`` at 224, or when a layer does not map on some preset at 224, at the largest of
    :data:`SIZES` at which every layer maps on every preset (the failures are recorded)."""
    t = time.perf_counter()
    m = load_model(f"zoo:{name}")
    load_s = time.perf_counter() - t
    frontend_s: dict[int, float] = {}
    unmapped: list[dict] = []
    for size in SIZES:
        shape = (1, 3, size, size)
        t = time.perf_counter()
        g = lower(m.module, shape, calibration_samples(m, shape, CALIB, 0), name)[1]
        frontend_s[size] = time.perf_counter() - t
        print(f"{name} at {size}: frontend {frontend_s[size]:.1f} s", flush=True)
        runs = []
        for preset in presets:
            try:
                runs.append(bench_preset(g, preset, machine))
            except ScheduleError as e:
                unmapped.append({"input": list(shape), "preset": preset, "error": str(e)})
                print(f"  {preset}: does not map: {e}", flush=True)
                continue
            print(f"  {preset}: {runs[-1]['cycles']:,} cycles, map {runs[-1]['map_s']:.1f} s", flush=True)
        if len(runs) == len(presets):
            break
    return {
        "model": name,
        "input": list(shape),
        "macs": graph_macs(g),
        "ops": len(g.ops),
        "load_s": load_s,
        "frontend_s": {str(k): v for k, v in frontend_s.items()},
        "runs": runs,
        "unmapped": unmapped,
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def markdown(results: list[dict], env: dict) -> str:
    presets = [r["preset"] for r in results[0]["runs"]]
    lines = [
        "# Zoo networks on the accelerator presets: utilization by the exact cost model",
        "",
        "Input 1x3x224x224 (where a layer does not map at 224: the largest of "
        + ", ".join(map(str, SIZES[1:]))
        + " at which every layer maps on every preset; the errors are below), batch 1, every layer mapped by "
        "`search.mapper.map_graph` (objective latency) and timed by `search.cost_model.network_cost`; "
        + (
            "the plans lowered and run in sim/machine on a random input as a check (column `= machine`). "
            if "machine" in results[0]["runs"][0]
            else ""
        )
        + "Utilization = useful MACs (the IR's convs and linears) / (cycles x PEs); busy = the busy-PE counter "
        "(array-occupied PE-cycles, padding lanes included) / (cycles x PEs). FPS at the preset's clock. "
        f"Code {env['git']}; {env['cpu']} ({env['cores']} cores), Python {env['python']}; load average "
        f"before/after {env['load_average'][0]} / {env['load_average'][1]}; {env['date']}.",
        "",
        "Presets: "
        + "; ".join(
            f"`{p}` {PRESETS[p].pe_rows}x{PRESETS[p].pe_cols} PEs at {PRESETS[p].clock_mhz:g} MHz, DRAM bus "
            f"{PRESETS[p].dram_bus_bits} bit"
            for p in presets
        )
        + ".",
        "",
        "## Whole networks",
        "",
        "| model | input | GMACs | preset | cycles | utilization | busy | FPS | FPS / "
        + BASELINE
        + " | DRAM MiB r / w "
        "| layers | = machine | map s |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    base = {r["preset"]: r["fps"] for x in results if x["model"] == BASELINE for r in x["runs"]}
    for x in results:
        for r in x["runs"]:
            exact = "" if "exact" not in r else ("yes" if r["exact"] else "NO")
            same = x["input"] == next((y["input"] for y in results if y["model"] == BASELINE), None)
            ratio = f"{r['fps'] / base[r['preset']]:.2f}" if r["preset"] in base and same else ""
            lines.append(
                f"| {x['model']} | {x['input'][2]} | {x['macs'] / 1e9:.3f} | {r['preset']} | {r['cycles']:,} "
                f"| {_pct(r['util_macs'])} "
                f"| {_pct(r['util_busy'])} | {r['fps']:,.1f} | {ratio} | {r['dram_read'] / 2**20:.2f} / "
                f"{r['dram_write'] / 2**20:.2f} | {r['layers_on_accel']} | {exact} | {r['map_s']:.1f} |"
            )
    failed = [x for x in results if x.get("unmapped")]
    if failed:
        lines += ["", "Does not map at 224 (the scheduler's error; `dian compile --accel` stops with it):", ""]
    for x in failed:
        first = [u for u in x["unmapped"] if u["input"][2] == SIZES[0]]
        later = [f"{u['input'][2]} on `{u['preset']}`" for u in x["unmapped"] if u["input"][2] != SIZES[0]]
        lines += [f"- {x['model']} on `{u['preset']}`: {u['error']}" for u in first]
        lines += [f"- {x['model']} does not map either at " + ", ".join(later) + "."] if later else []
    if len(presets) > 1:
        a, b = presets[0], presets[1]
        more = PRESETS[a].pe_rows * PRESETS[a].pe_cols / (PRESETS[b].pe_rows * PRESETS[b].pe_cols)
        lines += [
            "",
            f"`{a}` against `{b}` ({more:g}x the PEs): speed-up "
            + ", ".join(
                f"{x['model']} {x['runs'][1]['cycles'] / x['runs'][0]['cycles']:.2f}x"
                for x in results
                if len(x["runs"]) > 1
            )
            + ".",
        ]
    lines += [
        "",
        "Pointwise tables (Hardswish, Hardsigmoid, SiLU, sigmoid) fused into the conv before them: "
        + ", ".join(
            f"{x['model']} {x['runs'][0]['pointwise_ops'] - x['runs'][0]['pointwise_copies']} of "
            f"{x['runs'][0]['pointwise_ops']}"
            for x in results
            if x["runs"][0]["pointwise_ops"]
        )
        + " (the rest run as COPYs through the table).",
        "",
        "Time: "
        + "; ".join(
            f"{x['model']} load {x['load_s']:.1f} s, frontend "
            + " / ".join(f"{v:.1f}" for v in x["frontend_s"].values())
            + f" s (at {', '.join(x['frontend_s'])}), map "
            + " / ".join(f"{r['map_s']:.1f}" for r in x["runs"])
            + " s"
            + (", lower + sim/machine " + " / ".join(f"{r['machine']['seconds']:.1f}" for r in x["runs"]) + " s")
            * ("machine" in x["runs"][0])
            for x in results
        )
        + f" (per preset: {', '.join(presets)}); whole run {env['seconds'] / 60:.1f} min.",
    ]
    for preset in presets:
        lines += [
            "",
            f"## Per op kind on `{preset}`",
            "",
            "Sorted by share of the cycles. Utilization of a kind = its MACs / (its cycles x PEs).",
            "",
            "| model | op kind | layers | MACs M | share of MACs | cycles | share of cycles | utilization | busy |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for x in results:
            r = next(r for r in x["runs"] if r["preset"] == preset)
            for kind, k in r["kinds"].items():
                lines.append(
                    f"| {x['model']} | {kind} | {k['layers']} | {k['macs'] / 1e6:,.1f} | "
                    f"{_pct(k['macs'] / x['macs'])} | {k['cycles']:,} | {_pct(k['cycles'] / r['cycles'])} "
                    f"| {_pct(k['util_macs'])} | {_pct(k['util_busy'])} |"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--presets", default=",".join(PRESET_NAMES))
    p.add_argument("--no-machine", action="store_true", help="skip the sim/machine check of the cycles")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--from-json", action="store_true", help="rewrite the .md from the committed .json")
    args = p.parse_args()
    if args.from_json:
        data = json.loads((RESULTS / f"{STEM}.json").read_text())
        text = markdown(data["results"], data["env"])
        print(text)
        (RESULTS / f"{STEM}.md").write_text(text)
        return
    root = RESULTS.parent.parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "hwgen", "sim", "ir", "frontend", "search"],
        capture_output=True,
        text=True,
        cwd=root,
    ).stdout.strip()
    env: dict = {
        "command": "benchmarks/bench_zoo.py"
        + (f" --models {args.models}" if args.models != ",".join(MODELS) else "")
        + (f" --presets {args.presets}" if args.presets != ",".join(PRESET_NAMES) else "")
        + (" --no-machine" if args.no_machine else ""),
        "git": head.stdout.strip() + (" + uncommitted changes" if dirty else ""),
        "cpu": next(
            (ln.split(":", 1)[1].strip() for ln in CPUINFO.read_text().splitlines() if "model name" in ln),
            platform.processor(),
        ),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    before, t0 = os.getloadavg()[0], time.perf_counter()
    results = [bench_model(m, args.presets.split(","), not args.no_machine) for m in args.models.split(",")]
    env["seconds"] = time.perf_counter() - t0
    env["load_average"] = [round(before, 2), round(os.getloadavg()[0], 2)]
    text = markdown(results, env)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{STEM}.md").write_text(text)
        (RESULTS / f"{STEM}.json").write_text(json.dumps({"env": env, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
