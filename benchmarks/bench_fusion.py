"""MobileNetV2's depthwise -> projection (-> residual add) blocks fused through the fusion buffer
(``AccelConfig.fbuf``; docs/accelerator.md, "Fusion buffer"), measured by sim/machine at
1x3x224x224 on a preset with FBUF of 0 and of the given sizes, each with stage P1 and with stage P2
(``fuse_expand``: the blocks may start at the expand GEMM): cycles (also by kind of work),
utilization, DRAM bytes, the blocks that fuse and each one's tiling and cycles fused against
unfused (its layers with the mapper's plans, timed exactly: hwgen/lower/program_timing.py).
Every run is checked bit for bit against sim/reference, and its cycles against the schedules'
predictions (a fused block's exact share on its depthwise layer) and against the cost model
(search/cost_model.py ``network_cost`` on the same plans, fused blocks priced by
search/fused_cost.py), with its wall time.

    .venv/bin/python benchmarks/bench_fusion.py [--preset default] [--kib 32,64] [--size 224] [--no-write]

Writes benchmarks/results/fusion.md and .json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dian.frontend import calibration_samples, load_model, lower
from dian.hwgen import timing
from dian.hwgen.accel_config import BufferConfig, validate
from dian.hwgen.lower.fused_choice import scratch_ctx
from dian.hwgen.lower.gathers import accelerator_form
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.ppu_steps import STEPS
from dian.hwgen.lower.program import Assembler
from dian.hwgen.lower.program_timing import work_share
from dian.hwgen.lower.workload import tensor_regions
from dian.hwgen.presets import PRESETS
from dian.ir import op_macs
from dian.search.cost_model import network_cost
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered
from dian.sim.reference import run_graph

RESULTS = Path(__file__).resolve().parent / "results"
STEM = "fusion"


def unfused_share(graph, cfg, plans, names) -> int:  # type: ignore[no-untyped-def]
    """The exact cycles share of layers ``names`` unfused with their plans (a program of them alone)."""
    g, _ = accelerator_form(graph, cfg)
    ctx = scratch_ctx(g, cfg, tensor_regions(g))
    asm = Assembler(cfg)
    for p in plans:
        if p.work.op.name in names:
            for s in STEPS[p.work.kind](ctx, p.work, p.tiling):
                asm.add(s)
    return work_share(asm.program(), cfg).cycles


def kind_of(plan) -> str:  # type: ignore[no-untyped-def]
    """The kind of work a layer is, for the table of where the cycles go."""
    w = plan.work
    if w.kind.name == "GEMM" and (w.fy, w.fx) == (1, 1):
        return "1x1 GEMM"
    return {"GEMM": "conv GEMM", "DW": "depthwise"}.get(w.kind.name, w.kind.name.lower())


def run(graph, base, plans, kib: int, x, ref, p2: bool = False) -> dict:  # type: ignore[no-untyped-def]
    cfg = validate(dataclasses.replace(base, fbuf=BufferConfig(kib * 1024), fuse_expand=p2)) if kib else base
    t0 = time.time()
    low = lower_graph(graph, cfg, list(plans))
    lower_s = time.time() - t0
    res = run_lowered(low, x)
    outs = [op.output for op in graph.ops if op.output in low.slots]  # every layer's output that reaches DRAM
    exact = all(np.array_equal(low.read_tensor(res.dram, n), ref[n]) for n in outs)
    c = res.counters
    shares = {b.dw.op.name: s for b, s in low.fused}
    predicted = timing.boot_cycles(cfg) + timing.done_cycles(cfg)
    inside = {w.op.name for b, _ in low.fused for w in b.members if w is not b.dw}
    kinds: dict[str, list[int]] = {}  # kind -> [cycles, MACs]
    stage = {b.dw.op.name: "P2" if b.expand is not None else "P1" for b, _ in low.fused}
    for p in plans:
        name = p.work.op.name
        macs = op_macs(graph, p.work.op)
        if name in inside:  # its MACs go to its block's kind, its cycles are in the block's share
            owner = next(b.dw.op.name for b, _ in low.fused if name in {w.op.name for w in b.members})
            kinds.setdefault(f"fused block ({stage[owner]})", [0, 0])[1] += macs
            continue
        kind = f"fused block ({stage[name]})" if name in shares else kind_of(p)
        if name in shares:
            cyc = shares[name].cycles
        else:
            assert p.schedule.prediction is not None
            cyc = p.schedule.prediction.cycles
        predicted += cyc
        k = kinds.setdefault(kind, [0, 0])
        k[0] += cyc
        k[1] += macs
    t0 = time.time()
    nc = network_cost(graph, cfg, list(plans))
    model_s = time.time() - t0
    t0 = time.time()
    map_graph(graph, cfg, "latency")  # the mapper on this config: its predictions price the fused blocks
    map_s = time.time() - t0
    fixed = timing.boot_cycles(cfg) + timing.done_cycles(cfg)
    macs = sum(op_macs(graph, op) for op in graph.ops)
    blocks = []
    for b, s in low.fused:
        names = {w.op.name for w in b.members}
        plain = unfused_share(graph, cfg, plans, names)
        t = b.tiling
        blocks.append(
            {
                "block": b.name,
                "fused": s.cycles,
                "model": int(nc.layers[b.dw.op.name].cycles[0]) - fixed,
                "unfused": plain,
                "tiling": f"{'P2, ' if b.expand else ''}rows {t.rows}, ct {t.ct}, kt {t.kt}, pct {t.pct}"
                f"{', pipelined' if t.pipelined else ''}",
            }
        )
    return {
        "fbuf_kib": kib,
        "stage": "P2" if p2 else ("P1" if kib else "-"),
        "kinds": kinds,
        "p2_blocks": sum(b.expand is not None for b, _ in low.fused),
        "cycles": c.cycles,
        "predicted_cycles": predicted,
        "model_cycles": nc.cycles,
        "model_dram_read": nc.dram_read,
        "model_dram_written": nc.dram_write,
        "model_energy_uj": round(nc.energy_pj / 1e6, 1),
        "model_seconds": round(model_s, 1),
        "map_seconds": round(map_s, 1),
        "utilization": macs / (c.cycles * cfg.pe_rows * cfg.pe_cols),
        "dram_read": c.dram_bytes_read,
        "dram_written": c.dram_bytes_written,
        "bit_exact": bool(exact),
        "lower_seconds": round(lower_s, 1),
        "blocks": blocks,
    }


def markdown(runs: list[dict], env: dict) -> str:
    base = runs[0]["cycles"]
    out = [
        f"# MobileNetV2 blocks fused through FBUF on `{env['preset']}`",
        "",
        f"sim/machine, MobileNetV2 at 1x3x{env['size']}x{env['size']}, mapper plans (latency), random int8 input; "
        f"commit {env['git']}, {env['date']}. Generated by benchmarks/bench_fusion.py.",
        "",
        "| FBUF | stage | cycles | cost model | vs none | utilization | DRAM read | DRAM written | fused (from expand) "
        "| bit-exact | predicted = measured | model = machine | lowering | cost model time | mapper time "
        "| model energy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        agree = (r["model_cycles"], r["model_dram_read"], r["model_dram_written"]) == (
            r["cycles"],
            r["dram_read"],
            r["dram_written"],
        )
        out.append(
            f"| {r['fbuf_kib']} KiB | {r['stage']} | {r['cycles']:,} | {r['model_cycles']:,} "
            f"| {100 * (r['cycles'] / base - 1):+.1f} % "
            f"| {100 * r['utilization']:.1f} % | {r['dram_read']:,} | {r['dram_written']:,} "
            f"| {len(r['blocks'])} ({r['p2_blocks']}) "
            f"| {'yes' if r['bit_exact'] else 'NO'} | {'yes' if r['predicted_cycles'] == r['cycles'] else 'NO'} "
            f"| {'yes' if agree else 'NO'} | {r['lower_seconds']} s | {r['model_seconds']} s | {r['map_seconds']} s "
            f"| {r['model_energy_uj']:,} uJ |"
        )
    out += [
        "",
        "model = machine: the cost model's cycles, DRAM bytes read and written equal sim/machine's counters. "
        "Cost model time: `network_cost` on the plans; mapper time: `map_graph` on the config (with an FBUF "
        "both time the fused blocks' candidate programs, as the lowering does). Energy is search/energy.py's "
        "estimate (no counter).",
        "",
        "## Where the cycles go",
        "",
        "Exact shares (the schedules' predictions, which sum to the measured cycles less boot and done), by "
        "kind of work: a fused block's MACs are its layers'; utilization = MACs / (cycles x array).",
        "",
        "| FBUF | stage | " + " | ".join(kinds := sorted({k for r in runs for k in r["kinds"]})) + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    pe = env["array"]
    for r in runs:
        cells = []
        for k in kinds:
            cyc, macs = r["kinds"].get(k, (0, 0))
            cells.append(f"{cyc:,} ({100 * macs / max(1, cyc * pe):.0f} %)" if cyc else "-")
        out.append(f"| {r['fbuf_kib']} KiB | {r['stage']} | " + " | ".join(cells) + " |")
    for r in runs[1:]:
        out += [
            "",
            f"## Blocks at {r['fbuf_kib']} KiB, stage {r['stage']}",
            "",
            "| block | unfused cycles | fused cycles | cost model | ratio | tiling |",
            "|---|---|---|---|---|---|",
        ]
        for b in r["blocks"]:
            ratio = b["fused"] / b["unfused"]
            out.append(
                f"| {b['block']} | {b['unfused']:,} | {b['fused']:,} | {b['model']:,} | {ratio:.2f} | {b['tiling']} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="default")
    p.add_argument("--kib", default="32,64")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--stages", default="P1,P2", help="the fusion stages to measure at each FBUF size")
    a = p.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    env = {
        "git": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "benchmarks/bench_fusion.py " + " ".join(sys.argv[1:]),
        "load_average": list(os.getloadavg()),
        "preset": a.preset,
        "size": a.size,
    }
    m = load_model("zoo:mobilenetv2")
    shape = (1, 3, a.size, a.size)
    graph = lower(m.module, shape, calibration_samples(m, shape, num_samples=4), "mobilenetv2")[1]
    base = PRESETS[a.preset]
    plans = map_graph(graph, base, "latency")
    x = {graph.inputs[0]: np.random.default_rng(0).integers(-128, 128, shape).astype(np.int8)}
    ref = run_graph(graph, x, keep_all=True)
    env["array"] = base.pe_rows * base.pe_cols
    stages = a.stages.split(",")
    runs = [run(graph, base, plans, 0, x, ref)] + [
        run(graph, base, plans, int(k), x, ref, st == "P2") for k in a.kib.split(",") for st in stages
    ]
    md = markdown(runs, env)
    print(md)
    if not a.no_write:
        (RESULTS / f"{STEM}.json").write_text(json.dumps({"env": env, "runs": runs}, indent=1) + "\n")
        (RESULTS / f"{STEM}.md").write_text(md)


if __name__ == "__main__":
    main()
