"""Verilator confirmation of the machine simulator's cycle counts, and
Verilator simulation speed, on a sample of ResNet-18 layers.

The layers are cut out of ResNet-18 (zoo weights, 8 calibration samples)
traced at a reduced input (default 1x3x64x64: the same layers as at 224x224
with every feature map 3.5x smaller in each dimension, so that the RTL
simulation of the small presets stays in seconds) and, with ``--full``, a
few layers of the 1x3x224x224 network as well. Each layer, as its own graph,
is mapped for the preset (search/mapper.py ``map_graph``: the tilings a compile
uses), lowered, run in sim/machine and in the Verilator model of
the emitted RTL (``hwgen.rtl.emit.emit_verilog`` -> ``hwgen.tools.verilator_run``) on
the same DRAM image: the four performance counters (cycles, busy-PE cycles,
DRAM bytes read and written) and the whole DRAM after the run are compared.
Speed = RTL cycles / the harness's own simulation seconds (``sim_seconds``,
which excludes building and loading the image).

    .venv/bin/python benchmarks/bench_verilator.py [--presets tiny,small] [--input 64] [--full LAYER,...]

Writes benchmarks/results/verilator.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accelerator import describe, random_inputs, single_op_graph

from dian.frontend import calibration_samples, load_model, lower
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
from dian.hwgen.tools.verilator_run import build_harness, run_harness
from dian.ir import op_macs
from dian.search.mapper import map_graph
from dian.sim.machine import Machine

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUILD = REPO / "build" / "bench_verilator"
SAMPLE = (
    "layer1_0_conv1",
    "layer2_0_conv1",
    "layer2_0_downsample_0",
    "add_2",
    "maxpool",
    "layer3_1_conv1",
    "layer4_0_conv2",
    "fc",
)


def traced(model: str, size: int):
    m = load_model(f"zoo:{model}")
    shape = (1, 3, size, size)
    return lower(m.module, shape, calibration_samples(m, shape, 8, 0), model)[1]


def run_layer(exe: Path, preset: str, g, name: str, size: int, timeout: float) -> dict:
    cfg = PRESETS[preset]
    op = g.op(name)
    lg = single_op_graph(g, op)
    plans = map_graph(lg, cfg)
    low = lower_graph(lg, cfg, plans)
    dram = np.frombuffer(low.image, dtype=np.uint8).copy()
    low.write_inputs(dram, random_inputs(lg, 2))
    image = dram.tobytes()
    kind, shape = describe(g, op, plans[0].work.kind)
    row = {
        "preset": preset,
        "model": g.name,
        "input": size,
        "layer": name,
        "kind": kind,
        "shape": shape,
        "macs": op_macs(g, op),
    }
    mdram = dram.copy()
    t = time.perf_counter()
    mc = Machine(cfg, mdram).run()
    row["machine_s"] = time.perf_counter() - t
    row["machine"] = {
        "cycles": mc.cycles,
        "busy_pe_cycles": mc.busy_pe_cycles,
        "dram_bytes_read": mc.dram_bytes_read,
        "dram_bytes_written": mc.dram_bytes_written,
    }
    row["util_macs"] = row["macs"] / (mc.cycles * cfg.pe_rows * cfg.pe_cols)
    try:
        t = time.perf_counter()
        run = run_harness(exe, image, max_cycles=4 * mc.cycles + 100_000, timeout=timeout)
        after, c = run.dram, run.counters
        row["rtl_wall_s"] = time.perf_counter() - t
    except Exception as e:
        row["rtl_error"] = f"{type(e).__name__}: {e}"[:800]
        return row
    row["rtl"] = {
        "cycles": c["perf_cycles"],
        "busy_pe_cycles": c["perf_busy_pe_cycles"],
        "dram_bytes_read": c["perf_dram_bytes_read"],
        "dram_bytes_written": c["perf_dram_bytes_written"],
        "harness_cycles": run.cycles,
    }
    row["sim_seconds"] = run.sim_seconds
    row["cycles_per_s"] = c["perf_cycles"] / run.sim_seconds if run.sim_seconds else None
    row["counters_equal"] = all(row["rtl"][k] == row["machine"][k] for k in row["machine"])
    row["dram_equal"] = after == mdram.tobytes()
    return row


def markdown(rows: list[dict], builds: dict, env: dict) -> str:
    lines = [
        "# Verilator vs machine simulator on ResNet-18 (and MobileNetV2 depthwise) layers",
        "",
        f"Each layer cut out of ResNet-18 as its own graph, mapped for the preset (search/mapper.py), lowered, "
        f"run in sim/machine and in the "
        f"Verilator model of the emitted RTL on the same DRAM image (random int8 input). Input size column: the "
        f"ResNet-18 input the layer was traced at ({env['input']}x{env['input']} scales every 224x224 feature map "
        f"down by {224 / env['input']:.1f}x per side to keep RTL runs short; 224 rows are the full-size layer). "
        f"Equal = all four performance counters equal; DRAM = the whole DRAM after the run byte-identical. "
        f"Speed: RTL cycles per second of Verilator simulation (the harness's own timer; one thread, "
        f"`-O3`, machine shared: load average {env['load_average'][0]} -> {env['load_average'][1]}). "
        f"Code: {env['git']}. MobileNetV2 rows are its depthwise layers (DW mode).",
        "",
        "Verilator builds: "
        + "; ".join(
            f"{p}: {b['seconds']:.0f} s build, Verilog {b['verilog_kib']:.0f} KiB"
            + (f" ({b['error']})" if b.get("error") else "")
            for p, b in builds.items()
        )
        + ".",
        "",
        "| preset | model | input | layer | kind | shape | machine cycles | Verilator cycles | equal | DRAM equal "
        "| utilization | Verilator s | cycles/s |",
        "|---|---|---:|---|---|---|---:|---:|---|---|---:|---:|---:|",
    ]
    for r in rows:
        if "rtl" not in r:
            lines.append(
                f"| {r['preset']} | {r['model']} | {r['input']} | {r['layer']} | {r['kind']} | {r['shape']} "
                f"| {r['machine']['cycles']:,} | {r.get('rtl_error', '')} | | | {100 * r['util_macs']:.1f} % | | |"
            )
            continue
        lines.append(
            f"| {r['preset']} | {r['model']} | {r['input']} | {r['layer']} | {r['kind']} | {r['shape']} "
            f"| {r['machine']['cycles']:,} | {r['rtl']['cycles']:,} | {'yes' if r['counters_equal'] else 'NO'} "
            f"| {'yes' if r['dram_equal'] else 'NO'} | {100 * r['util_macs']:.1f} % | {r['sim_seconds']:.2f} "
            f"| {r['cycles_per_s']:,.0f} |"
        )
    lines += [
        "",
        "Verilator speed per preset (total RTL cycles / total simulation seconds over the layers above):",
        "",
        "| preset | layers | cycles | seconds | cycles/s | all counters equal | all DRAM equal |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for p in dict.fromkeys(r["preset"] for r in rows):
        rs = [r for r in rows if r["preset"] == p and "rtl" in r]
        if not rs:
            continue
        cyc, sec = sum(r["rtl"]["cycles"] for r in rs), sum(r["sim_seconds"] for r in rs)
        lines.append(
            f"| {p} | {len(rs)} | {cyc:,} | {sec:.2f} | {cyc / sec:,.0f} "
            f"| {'yes' if all(r['counters_equal'] for r in rs) else 'NO'} "
            f"| {'yes' if all(r['dram_equal'] for r in rs) else 'NO'} |"
        )
    mism = [r for r in rows if "rtl" in r and not r["counters_equal"]]
    for r in mism:
        lines.append(f"\nMismatch {r['preset']} {r['layer']}: machine {r['machine']}, RTL {r['rtl']}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="tiny,small")
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--layers", default=",".join(SAMPLE))
    p.add_argument(
        "--dw-layers",
        default="features_1_conv_0_0,features_2_conv_1_0",
        help="MobileNetV2 (depthwise) layers at --input",
    )
    p.add_argument("--full", default="", help="layers of the 224x224 network to run too")
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args()
    before = os.getloadavg()[0]
    graphs = {("resnet18", args.input): traced("resnet18", args.input)}
    if args.full:
        graphs[("resnet18", 224)] = traced("resnet18", 224)
    if args.dw_layers:
        graphs[("mobilenetv2", args.input)] = traced("mobilenetv2", args.input)
    rows, builds = [], {}
    for preset in args.presets.split(","):
        cfg = PRESETS[preset]
        folder = BUILD / preset
        t = time.perf_counter()
        files = emit_verilog(cfg, folder / "rtl")
        try:
            exe = build_harness(
                files, TOP_NAME, cfg.dram_bus_bits, cfg.dram_latency, folder / "build", max_burst=cfg.max_burst_beats
            )
        except Exception as e:
            builds[preset] = {
                "seconds": time.perf_counter() - t,
                "verilog_kib": files[0].stat().st_size / 1024,
                "error": f"{type(e).__name__}: {e}"[:500],
            }
            continue
        builds[preset] = {"seconds": time.perf_counter() - t, "verilog_kib": files[0].stat().st_size / 1024}
        print(preset, builds[preset], flush=True)
        for key, names in (
            (("resnet18", args.input), args.layers),
            (("resnet18", 224), args.full),
            (("mobilenetv2", args.input), args.dw_layers),
        ):
            for name in filter(None, names.split(",")):
                row = run_layer(exe, preset, graphs[key], name, key[1], args.timeout)
                rows.append(row)
                print(json.dumps(row), flush=True)
    import subprocess

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "hwgen", "sim"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    env = {
        "git": head + (" + uncommitted changes in hwgen/sim" if dirty else ""),
        "input": args.input,
        "load_average": [round(before, 2), round(os.getloadavg()[0], 2)],
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    text = markdown(rows, builds, env)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "verilator.md").write_text(text)
    (RESULTS / "verilator.json").write_text(
        json.dumps({"env": env, "builds": builds, "rows": rows}, indent=1, sort_keys=True) + "\n"
    )


if __name__ == "__main__":
    main()
