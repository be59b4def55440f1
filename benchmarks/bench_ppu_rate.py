"""The cycle cost of a slower requantizer (AccelConfig.ppu_rate R: PPURequant takes a word every R
cycles with L / R lanes of multipliers, so (R - 1) / R of its DSPs go to the PE array), by the
exact cost model, on the zoo's ImageNet networks at 1x3x224x224 on ``default``.

For each model and R in 1, 2, 4: the network's cycles with the mapping the compile picks at R = 1
(``search.mapper.map_graph``, objective latency) timed at R (``same map``: what R costs the
schedule as it is), and with the layers re-mapped at R (``re-mapped``: the compile's own answer
at that R); the cycles of the layers whose cost grows, per op kind (fused GEMM/DW requantization,
COPY, MUL, POOL; ADD runs on PPUAdd and does not change); and the DSP plan at R
(``hwgen.dsp_plan.plan_dsps``). With ``--machine`` the re-mapped networks are also lowered and run
in sim/machine on a random int8 input, whose cycles must equal the model's. With ``--synth`` the
``default`` accelerator at each R is synthesized by Yosys for ECP5-85k (``synth_ecp5``, no P&R;
``hwgen.tools.synth.synthesize``; ~10 min each on a shared 2-core machine) into
build/bench_ppu_rate/default_r<R> (a folder whose Yosys stat exists is read, not run again).

    .venv/bin/python benchmarks/bench_ppu_rate.py [--models resnet18,mobilenetv2] [--machine] [--synth] [--no-write]

Writes benchmarks/results/ppu_rate.md and .json.
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
from dian.hwgen.dsp_plan import plan_dsps
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import TARGET_FABRIC
from dian.search.cost_model import network_cost
from dian.search.mapper import map_graph
from dian.sim.machine import run_lowered

RESULTS = Path(__file__).resolve().parent / "results"
BUILD = Path(__file__).resolve().parents[1] / "build" / "bench_ppu_rate"
STEM = "ppu_rate"
RATES = (1, 2, 4)
MODELS = ("resnet18", "mobilenetv2")
PRESET = "default"


def graph_at_224(name: str):  # type: ignore[no-untyped-def]
    m = load_model(f"zoo:{name}")
    return lower(m.module, (1, 3, 224, 224), calibration_samples(m, num_samples=2), name)[1]


def bench_model(name: str, machine: bool) -> dict:
    g = graph_at_224(name)
    base = PRESETS[PRESET]
    fixed = timing.boot_cycles(base) + timing.done_cycles(base)
    plans1 = map_graph(g, base)
    layer1 = {p.work.op.name: int(network_cost(g, base, [p]).cycles) - fixed for p in plans1}
    rows = []
    for R in RATES:
        cfg = dataclasses.replace(base, ppu_rate=R)
        same = network_cost(g, cfg, plans1)
        plans = map_graph(g, cfg)
        remapped = network_cost(g, cfg, plans)
        grown: dict[str, int] = {}
        for p in plans1:
            extra = int(network_cost(g, cfg, [p]).cycles) - fixed - layer1[p.work.op.name]
            if extra:
                kind = p.work.kind.value
                grown[kind] = grown.get(kind, 0) + extra
        row = {
            "ppu_rate": R,
            "dsp_plan": plan_dsps(cfg).describe(),
            "cycles_same_map": same.cycles,
            "cycles_remapped": remapped.cycles,
            "extra_by_kind_same_map": grown,
        }
        if machine:
            t = time.perf_counter()
            low = lower_graph(g, cfg, plans)
            rng = np.random.default_rng(0)
            inputs = {n: rng.integers(-128, 128, g.tensors[n].shape, dtype=np.int8) for n in g.inputs}
            row["machine_cycles"] = run_lowered(low, inputs).counters.cycles
            row["machine_s"] = time.perf_counter() - t
            assert row["machine_cycles"] == remapped.cycles, (name, R, row["machine_cycles"], remapped.cycles)
        rows.append(row)
        print(name, R, row["cycles_same_map"], row["cycles_remapped"], grown, flush=True)
    return {"model": name, "rates": rows}


def synth_default(R: int) -> dict:
    """Yosys (synth only) of ``default`` at ppu_rate R: LUT4, FFs, DSPs, block RAMs."""
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
    from dian.hwgen.tools.synth import _RESOURCES, _cell_types, _count, synthesize

    cfg = dataclasses.replace(PRESETS[PRESET], ppu_rate=R)
    folder = BUILD / f"{PRESET}_r{R}"
    stat = folder / "build" / "stat.json"
    if not stat.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        synthesize(emit_verilog(cfg, folder / "rtl"), TOP_NAME, cfg.target.value, cfg.clock_mhz, folder / "build")
    ct = _cell_types(stat, TOP_NAME)
    out = {k: _count(ct, w) for k, w in _RESOURCES["ecp5"].items()}
    return {"ppu_rate": R, **out, "cell_types": ct, "dsp_plan": plan_dsps(cfg).describe()}


def markdown(results: list[dict], env: dict, synth: list[dict]) -> str:
    out = [
        "# The cycle cost of the requantizer's rate (ppu_rate) on `default`",
        "",
        f"Exact cost model, 1x3x224x224, batch 1; commit {env['git']}, {env['date']}.",
        "`same map`: the R = 1 mapping timed at R; `re-mapped`: mapped again at R. `+%` is over R = 1.",
        "Generated by benchmarks/bench_ppu_rate.py.",
        "",
        "| model | R | cycles (same map) | +% | cycles (re-mapped) | +% | extra cycles by layer kind | DSP plan |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c1s, c1r = r["rates"][0]["cycles_same_map"], r["rates"][0]["cycles_remapped"]
        for row in r["rates"]:
            s, m = row["cycles_same_map"], row["cycles_remapped"]
            extra = ", ".join(f"{k} {v:,}" for k, v in sorted(row["extra_by_kind_same_map"].items())) or "-"
            plan = row["dsp_plan"].split(": ", 1)[-1]
            out.append(
                f"| {r['model']} | {row['ppu_rate']} | {s:,} | {100 * (s / c1s - 1):+.2f} | {m:,} "
                f"| {100 * (m / c1r - 1):+.2f} | {extra} | {plan} |"
            )
    if any("machine_cycles" in row for r in results for row in r["rates"]):
        out += ["", "sim/machine, run on the re-mapped networks, counts the model's cycles exactly."]
    if synth:
        luts = TARGET_FABRIC[PRESETS[PRESET].target].luts
        out += [
            "",
            f"## `{PRESET}` by Yosys (synth_ecp5, no P&R) at each R",
            "",
            "| R | LUT4 | of the part | FFs | DSPs | block RAMs |",
            "|---|---|---|---|---|---|",
        ]
        for x in synth:
            out.append(
                f"| {x['ppu_rate']} | {x['luts']:,} | {100 * x['luts'] / luts:.1f} % | {x['ffs']:,} | {x['dsps']} "
                f"| {x['brams']} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--machine", action="store_true")
    p.add_argument("--synth", action="store_true")
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    env = {
        "git": commit,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "benchmarks/bench_ppu_rate.py " + " ".join(sys.argv[1:]),
        "load_average": list(os.getloadavg()),
        "preset": PRESET,
    }
    results = [bench_model(m, a.machine) for m in a.models.split(",")]
    synth = [synth_default(R) for R in RATES] if a.synth else []
    md = markdown(results, env, synth)
    print(md)
    if not a.no_write:
        (RESULTS / f"{STEM}.json").write_text(
            json.dumps({"env": env, "results": results, "synth": synth}, indent=1) + "\n"
        )
        (RESULTS / f"{STEM}.md").write_text(md)


if __name__ == "__main__":
    main()
