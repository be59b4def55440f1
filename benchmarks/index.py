"""Render docs/benchmarks.md, the index of benchmarks/results/, from the committed results.

One entry per results file pair (a benchmark's Markdown report and its JSON data): what it
measures, the command that makes it (the usage lines of the script's docstring), the code and
date it was measured on, and its headline figures, picked from the JSON by the functions below.
``tests/benchmarks/test_index.py`` fails when docs/benchmarks.md differs from what this renders,
or when a results file has no entry here, so a re-measured result cannot leave the docs behind.

    .venv/bin/python benchmarks/index.py          # rewrite docs/benchmarks.md
    .venv/bin/python benchmarks/index.py --check  # exit 1 if docs/benchmarks.md is stale

Standard library only: it reads JSON and the scripts' docstrings, and imports nothing of dian's.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"

Doc = dict[str, Any]


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def env_line(env: Doc) -> str:
    """The measurement's code, date and machine load, as far as the file records them."""
    parts = []
    if env.get("command"):
        parts.append(f"as run: `.venv/bin/python {env['command'].strip()}`")
    if env.get("git"):
        parts.append(f"code {env['git']}")
    if env.get("date"):
        parts.append(str(env["date"]))
    load = env.get("load_average", env.get("load"))
    if isinstance(load, list) and load:
        parts.append("load average " + " / ".join(f"{x:.1f}" for x in load[:2]))
    return "; ".join(parts)


# Headline figures, one function per results file: (the JSON) -> (environment line, bullets).


def per_result(d: Doc, line: Callable[[Doc], str]) -> tuple[str, list[str]]:
    """The environment line and one bullet per entry of ``d["results"]``."""
    return env_line(d["env"]), [line(r) for r in d["results"]]


def reference_sim(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        one, dflt = r["sim_s"]["1 thread"], r["compile_s"]["default threads"]
        return (
            f"{r['model']} at {'x'.join(map(str, r['input']))}: int8 {one['int8']['wall']:.3f} s/image on one "
            f"thread ({verdict(one['int8']['wall'] <= d['goal_s'])} <= {d['goal_s']:g} s), float "
            f"{one['float']['wall']:.3f} s; compile {dflt['total']:.1f} s"
        )

    return per_result(d, line)


def compile_time(d: Doc) -> tuple[str, list[str]]:
    shape = "x".join(map(str, d["input_shape"]))
    bullets = [
        f"`dian compile {d['model']} --input-shape {','.join(map(str, d['input_shape']))}` ({shape}), {label}: "
        f"{r['wall_median']:.1f} s wall (median; min {r['wall_min']:.1f}), {r['cpu_median']:.1f} s CPU"
        for label, r in sorted(d["runs"].items(), key=lambda kv: kv[0].startswith("baseline"))
    ]
    if "identical_output" in d:
        bullets.append(f"output folders byte-identical: {'yes' if d['identical_output'] else 'NO'}")
    return env_line(d["env"]), bullets


def accelerator_utilization(d: Doc) -> tuple[str, list[str]]:
    goals = d["goals"]
    group_goal = {"compute-bound convs": goals["compute_bound_conv"], "depthwise convs": goals["depthwise"]}

    def line(r: Doc) -> str:
        w = r["whole"]
        whole_goal = goals["whole_resnet18"] if r["model"] == "resnet18" else None
        head = (
            f"{r['model']} on `{r['preset']}` ({r['pes']} PEs): whole network {pct(w['util_macs'])} PE "
            f"utilization, {w['cycles']:,} cycles (predicted {w['predicted_cycles']:,})"
        )
        if whole_goal is not None:
            head += f", {verdict(w['util_macs'] >= whole_goal)} {pct(whole_goal)}"
        groups = []
        for name, g in r["groups"].items():
            goal = group_goal.get(name)
            mark = f" ({verdict(g['util_macs'] >= goal)} {pct(goal)})" if goal is not None else ""
            groups.append(f"{name} {pct(g['util_macs'])}{mark}")
        return head + "; " + ", ".join(groups)

    return per_result(d, line)


def cost_model(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        ex, fo, mp = r["exact"], r["first_order"], r["mapper"]
        counters = mp["latency"]["model"] == mp["latency"]["machine"]
        return (
            f"{r['model']}: exact model {ex['evals'] / ex['seconds']:,.0f} evaluations/s (fastest of "
            f"{len(ex['runs'])} runs), first-order {fo['evals'] / fo['seconds']:,.0f}/s; mapper "
            + " / ".join(f"{mp[o]['seconds']:.2f}" for o in ("latency", "energy", "edp"))
            + " s (latency / energy / edp); model = sim/machine on cycles, DRAM bytes and busy-PE cycles: "
            + ("yes" if counters else "NO")
        )

    return per_result(d, line)


def zigzag_comparison(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        s = r["summary"]
        return (
            f"{r['model']} ({s['layers']} layers): mapping search {s['dian_s_first']:.2f} s vs ZigZag "
            f"{s['zigzag_s']:.0f} s ({s['speedup']:.0f}x faster); predicted cycles {s['dian_predicted']:,} vs "
            f"{s['zigzag_cycles']:,.0f} ({s['dian_predicted'] / s['zigzag_cycles']:.2f}x), "
            f"{s['layers_pred_le']} of {s['layers']} layers at or under ZigZag's"
        )

    return per_result(d, line)


def verilator(d: Doc) -> tuple[str, list[str]]:
    rows = d["rows"]
    rates = sorted(r["cycles_per_s"] for r in rows)
    presets = sorted({r["preset"] for r in rows})
    out = [
        f"{len(rows)} layers on {', '.join(presets)}: all four counters equal (RTL = sim/machine) on "
        f"{sum(r['counters_equal'] for r in rows)}, whole DRAM equal on {sum(r['dram_equal'] for r in rows)}",
        f"Verilator speed {rates[0]:,.0f} to {rates[-1]:,.0f} cycles/s (median {rates[len(rates) // 2]:,.0f})",
        "builds: " + ", ".join(f"{p} {b['seconds']:.0f} s" for p, b in sorted(d["builds"].items())),
    ]
    return env_line(d["env"]), out


def memory(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        before = r.get("before")
        change = f", {100 * (r['machine_cycles'] - before) / before:+.2f} %" if before else ""
        if "ideal" not in r:
            return f"{r['model']} on {r['preset']}: {r['machine_cycles']:,} cycles in sim/machine{change}"
        rand = r["random"]
        exact = r["ideal"]["cycles"] == r["machine_cycles"] and r["ideal"]["dram_equal"]
        return (
            f"{r['model']} on {r['preset']}: {r['machine_cycles']:,} cycles on the ideal memory "
            f"({'RTL = sim/machine' if exact else 'RTL DIFFERS'}{change}); random memories "
            f"{min(x['cycles'] for x in rand) / r['machine_cycles']:.2f}x to "
            f"{max(x['cycles'] for x in rand) / r['machine_cycles']:.2f}x, DRAM "
            f"{'bit-exact' if all(x['dram_equal'] for x in rand) else 'DIFFERS'} on {len(rand)} seeds"
        )

    return env_line(d["env"]), [line(r) for r in d["rows"]]


def synth_ecp5(d: Doc) -> tuple[str, list[str]]:
    out = []
    for r in d["results"]:
        dev = d["devices"][r["target"]]
        fits = r["luts"] <= dev["LUT4"] and r["dsps"] <= dev["MULT18X18D"]
        fmax = (
            f"Fmax {r['fmax_mhz']:.1f} MHz ({verdict(r['meets_timing'])} {r['clock_mhz']:g} MHz)"
            if r.get("fmax_mhz") is not None
            else f"no Fmax ({r['status']})"
        )
        era = "" if "dsp_plan" in r else ", before the DSP plan"
        out.append(
            f"{r['preset']} on {r['target']} (RTL {r['rtl_source'].split()[0]}{era}): {r['luts']:,} LUT4, "
            f"{r['ffs']:,} FF, {r['dsps']} of {dev['MULT18X18D']} DSP, {r['brams']} of {dev['DP16KD']} DP16KD, "
            f"{'fits' if fits else 'does not fit'}; {fmax}"
        )
    return "", out


def ice40(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        s, e, a = r["synth"], r["estimate"], r["accel"]
        out = (
            f"{r['config']} ({a['pe_rows']}x{a['pe_cols']} PEs, {a['dram_bus_bits']}-bit bus, IMEM "
            f"{a['imem_instructions']}): {s['luts']:,} LUT4, {s['ffs']:,} FF, {s['dsps']} SB_MAC16, {s['ebrs']} "
            f"SB_RAM40_4K of 5,280 / 5,280 / 8 / 30 (estimate {e['luts']:,} LUT4, {e['ebrs']} block RAMs)"
        )
        pnr = r.get("pnr")
        if pnr and pnr.get("fmax_mhz"):
            out += f"; nextpnr-ice40: Fmax {pnr['fmax_mhz']:.1f} MHz"
        elif pnr:  # its log's utilization lines: "ICESTORM_LC:   14285/   5280   270%"
            found = (re.search(r"(ICESTORM_(?:LC|RAM)):\s+(\d+)/\s*(\d+)", ln) for ln in pnr.get("log_tail", []))
            used = [f"{int(m[2]):,} {m[1]} of {int(m[3]):,}" for m in found if m]
            out += f"; nextpnr-ice40 {pnr['status']} after {pnr['seconds']:.0f} s"
            out += f" (needs {', '.join(used)})" if used else ""
        return out

    return per_result(d, line)


def resource_fit(d: Doc) -> tuple[str, list[str]]:
    def err(k: str, name: str) -> str:
        return f"{name} max {pct(d[k]['max_rel_error'])} (mean {pct(d[k]['mean_rel_error'])})"

    held = d.get("held_out", {})
    out = [
        f"{len(d['configs']) - len(held)} configs fitted, "
        + ", ".join(sorted({f"{c['lanes']}x{c['lanes']}" for c in d["configs"]}, key=lambda s: int(s.split("x")[0])))
        + f" PEs; relative error of the model: {err('luts', 'LUTs')}, {err('ffs', 'FFs')}, "
        + f"{err('brams', 'block RAMs')} (counted from the memories' shapes, not fitted)",
        *(
            f"held out of the fit: {name}, LUTs {100 * e['luts']:+.1f} %, FFs {100 * e['ffs']:+.1f} %"
            for name, e in held.items()
        ),
        "DSPs planned = measured on "
        + f"{sum(c['plan_dsps'] == c['measured']['dsps'] for c in d['configs'])} of {len(d['configs'])} configs",
    ]
    return f"code {d['rtl_commit']}", out


def fmax_fit(d: Doc) -> tuple[str, list[str]]:
    err = d["error"]
    loo = (
        "no leave-one-out error (one point)"
        if err["loo_max_rel"] is None
        else f"leave-one-out error max {pct(err['loo_max_rel'])} (mean {pct(err['loo_mean_rel'])})"
    )
    out = [
        f"{err['points']} routed point(s), features {', '.join(d['features'])}; {loo}; "
        f"clamped to {d['floor_mhz']:.1f}..{d['ceiling_mhz']:.1f} MHz",
        *(
            f"{p['config']} on {p['target']}: routed {p['fmax_mhz']:.1f} MHz, fitted {p['fitted_mhz']:.1f}"
            + ("" if p["loo_mhz"] is None else f", left out {p['loo_mhz']:.1f}")
            for p in d["points"]
        ),
    ]
    return f"RTL {d['rtl']}", out


def fmax_points(d: Doc) -> tuple[str, list[str]]:
    return "Yosys 0.69, nextpnr-ecp5 seed 1", [
        f"{r['config']} on {r['target']} (RTL {r['rtl_source'].split(',')[0]}, asked {r['clock_mhz']:g} MHz): "
        + ("failed" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f} MHz")
        + f", {r.get('luts', 0):,} LUT4, nextpnr {r['nextpnr_min']:.1f} min"
        for r in d["rows"]
    ]


def nas_training(d: Doc) -> tuple[str, list[str]]:
    out = [
        f"supernet step, batch 64, {data}: {ms['soft']:g} ms soft (every candidate), {ms['hard']:g} ms hard"
        for data, ms in d["supernet_ms"].items()
    ]
    for data, runs in d["training"].items():
        out.append(
            f"derived net on {data}: "
            + ", ".join(f"{pct(r['test_accuracy'])} after {r['epochs']} epochs ({r['seconds']:g} s)" for r in runs)
        )
    return f"{d['machine']}; load average {d['load_average']:.1f}", out


def calibration(d: Doc) -> tuple[str, list[str]]:
    env = d["env"]
    head = f"{env['machine']}; code {env['git']}; {env['date']}; load average {env['load_average'][0]:.1f}"
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    hook = [r for r in d["lenet"] if r["source"] == "model hook"]
    out = [
        f"digits LeNet, float {pct(d['lenet_float_accuracy'])}; int8 on its own data: "
        + ", ".join(f"{r['method']} {pct(mean(r['accuracy']))} ({mean(r['sqnr_db']):.1f} dB)" for r in hook)
    ]
    noise = [r for r in d["lenet"] if r["source"] != "model hook"]
    out.append("on N(0,1) noise: " + ", ".join(f"{r['method']} {pct(mean(r['accuracy']))}" for r in noise))
    for r in d["qat"]:
        out.append(
            f"QAT LeNet {r['model']}: torch.ao converted {pct(r['torch_converted_accuracy'])}, dian with the "
            f"learned scales {pct(r['dian_qat_accuracy'])}, recalibrated {pct(r['dian_ptq_accuracy'])}"
        )
    return head, out


def cosearch(d: Doc) -> tuple[str, list[str]]:
    points = {p["method"]: p for p in d["points"]}
    goal, dom = d["verdicts"]["fps_goal"], d["verdicts"]["dominance"]

    def point(name: str) -> str:
        p = points[name]
        clock = p["fps"] * p["cycles"] / 1e6
        return f"{name}: {pct(p['int8_acc'])} int8, {p['cycles']:,.0f} cycles, {p['fps']:,.0f} FPS at {clock:g} MHz"

    dian = [m for m in points if m.startswith("dian ")]
    out = [point(m) for m in dian]
    out += [point(m) for m in points if m.startswith(("(a) ", "(b) "))]
    out.append(
        f"goal >= 3x the FPS of (a) at (a)'s accuracy: {verdict(goal['meets'])} (best {goal['best']} at "
        f"{goal['ratio']:.2f}x)"
    )
    undominated = [m for m, by in dom["by"].items() if not by]
    out.append(
        f"goal (c) NSGA-II with {d['args']['budget_scale']:g}x dian's search time does not dominate dian's front: "
        f"{verdict(not dom['dominates'])} (undominated: {', '.join(undominated) or 'none'})"
    )
    return env_line(d["env"]) + f"; whole run {d['env']['seconds'] / 60:.1f} min", out


def board(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        t, u, s = r["timing"], r["utilization"], r["seconds"]
        return (
            f"{r['board']}: sys {t['sys']['fmax_mhz']:.1f} MHz for {t['sys']['asked_mhz']:g} "
            f"({verdict(t['sys']['met'])}), accel {t['accel']['fmax_mhz']:.1f} MHz for {t['accel']['asked_mhz']:g} "
            f"({verdict(t['accel']['met'])}); LUT4 {u['lut4']['used']:,} of {u['lut4']['available']:,}, DSP "
            f"{u['dsp']['used']} of {u['dsp']['available']}, EBR {u['ebr']['used']} of {u['ebr']['available']}; "
            f"Yosys {s['yosys']:.0f} s, nextpnr {s['nextpnr-ecp5']:.0f} s, ecppack {s['ecppack']:.0f} s"
        )

    env, out = per_result(d, lambda r: f"{line(r)} ({env_line(r['env'])})" if "env" in r else line(r))
    paths = d.get("dram_paths")
    if paths:
        n = paths["beats"]
        c, b = paths["crossbar"], paths["bus"]
        out.append(
            f"DRAM path, cycles per 32-bit beat written / read: own crossbar port {c['write'] / n:.2f} / "
            f"{c['read'] / n:.2f}, soc.bus.add_master {b['write'] / n:.2f} / {b['read'] / n:.2f}"
        )
    return env, out


def zoo_utilization(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        runs = []
        for x in r["runs"]:
            top, k = next(iter(x["kinds"].items()))
            exact = {True: ", = sim/machine", False: ", sim/machine DIFFERS"}.get(x.get("exact"), "")
            runs.append(
                f"`{x['preset']}` {x['cycles']:,} cycles{exact}, {pct(x['util_macs'])} utilization, "
                f"{x['fps']:,.0f} FPS (most cycles: {top}, {pct(k['cycles'] / x['cycles'])})"
            )
        fails = sorted({u["preset"] for u in r.get("unmapped", []) if u["input"][2] == 224})
        note = f" (does not map at 224 on {', '.join(f'`{p}`' for p in fails)})" if fails else ""
        size = r["input"][2]
        return f"{r['model']} at {size}x{size}{note}, {r['macs'] / 1e9:.3f} GMACs: " + "; ".join(runs)

    return per_result(d, line)


def qor(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        hw = r["hardware"]
        fmax = hw.get("fmax_mhz")
        clock = f"{fmax:.1f} MHz routed" if fmax is not None else hw.get("status", "")
        fps = []
        for model, c in r["models"].items():
            if "cycles" in c and fmax is not None:
                fps.append(f"{model} {fmax * 1e6 / c['cycles']:.2f} FPS")
            elif "cycles" in c:
                fps.append(f"{model} {c['cycles']:,} cycles")
        luts = f"{hw['luts']:,} LUT4, " if hw.get("luts") else ""
        return f"`{r['config']}` ({r['pes']} PEs): {luts}{clock}; " + ", ".join(fps)

    return per_result(d, line)


def calib_data(d: Doc) -> tuple[str, list[str]]:
    lines = []
    for r in d["cases"]:
        for run in r["runs"]:
            loss = 100 * (r["float"] - min(run["int8"]))
            goal = f" ({verdict(loss <= 0.3)} <= 0.3)" if run["source"] == "calib-data" else ""
            lines.append(
                f"{r['data']}, {run['source']}, {run['samples']} samples: float {pct(r['float'])}, int8 worst "
                f"{pct(min(run['int8']))}, loss {loss:.2f} points{goal}"
            )
    return env_line(d["env"]), lines


def user_models(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        if "error" in r:
            return f"{r['model']}: FAILS ({r['error'][:120]})"
        cos = min(r["cosine"])
        rtl = f", Verilator {r['rtl_cycles']:,} (ideal memory)" if "rtl_cycles" in r else ""
        return f"{r['model']}: cosine {cos:.4f} ({verdict(cos >= 0.98)} 0.98); tiny {r['machine_cycles']:,} cycles{rtl}"

    return per_result(d, line)


def ppu_rate(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        one = r["rates"][0]["cycles_remapped"]
        rates = ", ".join(
            f"R = {x['ppu_rate']} {100 * (x['cycles_remapped'] / one - 1):+.1f} %" for x in r["rates"][1:]
        )
        return f"{r['model']} on `{d['env']['preset']}`: {one:,} cycles at R = 1; re-mapped {rates}"

    return per_result(d, line)


def _fusion_stage(r: dict) -> str:
    """A run's fusion stage (P1, P2) when the buffer is on and the run names it."""
    return f" {r['stage']}" if r.get("stage") and r["stage"] != "-" and r["fbuf_kib"] else ""


def _p2_blocks(r: dict) -> str:
    """How many fused blocks start at the expand GEMM (stage P2 runs)."""
    return f", {r['p2_blocks']} from the expand GEMM" if r.get("p2_blocks") else ""


def fusion(d: Doc) -> tuple[str, list[str]]:
    env = d["env"]
    runs = ", ".join(
        f"{r['fbuf_kib']} KiB{_fusion_stage(r)} {r['cycles']:,} ({pct(r['utilization'])}, "
        f"{len(r['blocks'])} blocks fused{_p2_blocks(r)})"
        for r in d["runs"]
    )
    exact = all(r["bit_exact"] and r["predicted_cycles"] == r["cycles"] for r in d["runs"])
    lines = [
        f"MobileNetV2 at {env['size']} on `{env['preset']}`, cycles by FBUF size: {runs}",
        f"bit-exact against sim/reference and predicted exactly: {'yes' if exact else 'NO'}",
    ]
    if all("model_cycles" in r for r in d["runs"]):
        model = all(r["model_cycles"] == r["cycles"] for r in d["runs"])
        times = ", ".join(
            f"{r['fbuf_kib']} KiB {r['model_seconds']} s" + (f" / {r['map_seconds']} s" if "map_seconds" in r else "")
            for r in d["runs"]
        )
        lines.append(
            f"cost model (network_cost) = sim/machine's cycles: {'yes' if model else 'NO'} "
            f"(network_cost / map_graph wall time: {times})"
        )
    return env_line(env), lines


def network_rtl(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        if "error" in r:
            return f"{r['model']} at {r['size']} on {r['config']}: {r['error']}"
        c, ok = r["cycles"], r["bit_exact"] and r["counters_equal"] and r["schedules_exact"]
        fused = f", {r['fused_blocks']} blocks fused ({r['from_expand']} from the expand)" if r["fused_blocks"] else ""
        return (
            f"{r['model']} at {r['size']} on {r['config']}{fused}: RTL {c['rtl']:,} cycles, "
            f"{pct(r['utilization'])}; {'bit-exact, counters = sim/machine = schedules' if ok else 'MISMATCH'}"
        )

    return env_line(d["env"]), [line(r) for r in d["rows"]]


def explore_fusion(d: Doc) -> tuple[str, list[str]]:
    def line(r: Doc) -> str:
        c = r["chosen"]
        fb = f"{c['fbuf_kib']} KiB FBUF {'P2' if c['fuse_expand'] else 'P1'}" if c["fbuf_kib"] else "no FBUF"
        return (
            f"{'with' if r['fusion'] else 'without'} --fusion: chose {c['pes']}, {fb}, {c['cycles']:,} cycles, "
            f"{c['latency_us']:,.0f} us at {c['clock_mhz']:.1f} MHz; search {r['wall_s']:.0f} s"
        )

    return env_line(d["env"]), [line(r) for r in d["rows"]]


@dataclass(frozen=True)
class Entry:
    stem: str  # benchmarks/results/<stem>.md
    script: str  # the benchmarks/ script that writes it
    measures: str
    headline: Callable[[Doc], tuple[str, list[str]]]
    data: str = ""  # the JSON, relative to the repository (default: benchmarks/results/<stem>.json)

    @property
    def json_path(self) -> Path:
        return ROOT / (self.data or f"benchmarks/results/{self.stem}.json")


ENTRIES = (
    Entry(
        "reference_sim",
        "bench_reference.py",
        "Speed of the golden integer interpreter (sim/reference) per image, and compile time (load, trace, "
        "calibrate, quantize), on ResNet-18 and MobileNetV2 at 224x224.",
        reference_sim,
    ),
    Entry(
        "compile_time",
        "bench_compile.py",
        "Wall time of the whole `dian compile` command on ResNet-18 at 224x224 in a fresh process (imports, model, "
        "trace, 64 calibration samples through the reference simulator, quantization, writing), against a "
        "baseline checkout, and the share of each stage.",
        compile_time,
    ),
    Entry(
        "accelerator_utilization",
        "bench_accelerator.py",
        "PE utilization of whole networks and of layer groups on the `default` accelerator, run in the machine "
        "simulator (cycle-exact against the RTL), and the compile's stages.",
        accelerator_utilization,
    ),
    Entry(
        "cost_model",
        "bench_cost_model.py",
        "The exact cost model's and the first-order model's evaluation rate, the mapper's time per objective, "
        "the mapped network's counters against sim/machine, and what each objective chooses.",
        cost_model,
    ),
    Entry(
        "zigzag_comparison",
        "bench_zigzag.py",
        "dian's mapper side by side with ZigZag 3.9.1 on the same layers and an equivalent architecture: "
        "search time and predicted cycles, plus Verilator cycles on sampled layers.",
        zigzag_comparison,
    ),
    Entry(
        "verilator",
        "bench_verilator.py",
        "Layers of ResNet-18 and MobileNetV2 run in sim/machine and in the Verilator model of the RTL on the same "
        "DRAM image: counters and DRAM compared, and Verilator's simulation speed.",
        verilator,
    ),
    Entry(
        "memory",
        "bench_memory.py",
        "The zoo networks in Verilator on the ideal AXI memory (cycles = sim/machine's) and on seeded random "
        "memories (bit-exact, and how much slower), and the cycles against the single-beat DRAM port before AXI.",
        memory,
    ),
    Entry(
        "synth_ecp5",
        "bench_synth.py",
        "Yosys `synth_ecp5` and nextpnr-ecp5 on the presets' RTL for their own ECP5 target: resources, fit and "
        "Fmax. The report's later sections (the Fmax work, the co-search's 8x8 config) are written by hand and "
        "are not in the JSON.",
        synth_ecp5,
    ),
    Entry(
        "ice40",
        "bench_ice40.py",
        "The small end: the smallest accelerators (`nano`, a floor config, `tiny`) against the iCE40 UP5K, by "
        "Yosys `synth_ice40` (totals and per block) and nextpnr-ice40, with the resource estimate beside them.",
        ice40,
    ),
    Entry(
        "resource_fit",
        "calibrate_resources.py",
        "The calibration of the resource model (search/resources.py) against Yosys `synth_ecp5` on a set of "
        "configs: the least-squares fit's errors.",
        resource_fit,
        data="search/resource_fit.json",
    ),
    Entry(
        "fmax_fit",
        "calibrate_fmax.py",
        "The calibration of the Fmax model (search/fmax.py) on the routed place-and-route rows of one RTL "
        "revision: the points, the fitted and left-out predictions and the errors.",
        fmax_fit,
        data="search/fmax_fit.json",
    ),
    Entry(
        "fmax_points",
        "calibrate_fmax.py",
        "Place-and-route runs made for the Fmax calibration (configs the Fmax log does not route).",
        fmax_points,
    ),
    Entry(
        "nas_training",
        "bench_nas.py",
        "What the co-search's network side costs on this CPU: one supernet step (soft and hard samples) and "
        "training a derived network for a few epoch counts.",
        nas_training,
    ),
    Entry(
        "cosearch",
        "bench_cosearch.py",
        "The co-search against its baselines on one data set and target: (a) a hand-designed MobileNetV2-style "
        "net on its best hardware, (b) accuracy-only search then hardware, (c) optuna NSGA-II over the joint "
        "space at 1x and 10x dian's search time.",
        cosearch,
    ),
    Entry(
        "calibration",
        "bench_calibration.py",
        "int8 accuracy and SQNR per calibration method (max, percentile, mse) and source (the model's data, "
        "synthetic noise), and a QAT LeNet's learned scales against torch.ao's converted model.",
        calibration,
    ),
    Entry(
        "zoo_utilization",
        "bench_zoo.py",
        "The zoo's ImageNet-sized networks (ResNet-18, MobileNetV2, MobileNetV3-Small, EfficientNet-B0, "
        "ShuffleNetV2 x0.5, a small UNet) at 224x224 mapped on `default` and `small` by the exact cost model: "
        "cycles, utilization and FPS, and where the cycles go by op kind.",
        zoo_utilization,
    ),
    Entry(
        "qor",
        "bench_qor.py",
        "Quality of results per config on ECP5-85k (issue 15): LUT/FF/DSP/BRAM, routed Fmax and P&R minutes from "
        "the synthesis log, and FPS of ResNet-18 and MobileNetV2 at 224 at that clock, next to published FPGA "
        "anchors (VTA, CFU-Playground).",
        qor,
    ),
    Entry(
        "calib_data",
        "bench_calib_data.py",
        "Trained models (the digits LeNet, a LeNet trained on MNIST) compiled from the command line with "
        "`--calib-data` (their training images) and with the synthetic default: int8 against float top-1 accuracy.",
        calib_data,
    ),
    Entry(
        "user_models",
        "bench_user_models.py",
        "The held-out user models (benchmarks/user_models.py: the blocks of MobileNetV3, EfficientNet, ShuffleNet, "
        "FPNs, GANs, UNets, 1-D audio nets, written with the ops users reach for): int8 cosine against float, "
        "and `tiny` in the machine simulator and Verilator.",
        user_models,
    ),
    Entry(
        "board",
        "bench_board.py",
        "`dian build --board` on the tiny LeNet: the LiteX SoC's bitstream per board (Fmax per clock domain, "
        "utilization, seconds per tool), and the accelerator's DRAM path against the SoC bus's in simulation.",
        board,
    ),
    Entry(
        "ppu_rate",
        "bench_ppu_rate.py",
        "The cycle cost of a requantizer that takes a word every R cycles (`ppu_rate`, its DSPs to the PE "
        "array) on ResNet-18 and MobileNetV2 at 224 on `default`, by the exact cost model: same mapping and "
        "re-mapped, the extra cycles by layer kind, the DSP plan at each R.",
        ppu_rate,
    ),
    Entry(
        "fusion",
        "bench_fusion.py",
        "MobileNetV2's depthwise -> projection (-> add) blocks fused through the fusion buffer (`fbuf`) at 224 on "
        "`default`, by sim/machine and the cost model: cycles, utilization and DRAM bytes by FBUF size, each "
        "block fused against unfused, its tiling.",
        fusion,
    ),
    Entry(
        "network_rtl",
        "bench_network_rtl.py",
        "Whole networks through `dian compile` and `dian simulate --rtl`: the Verilator model of the RTL "
        "against sim/machine, sim/reference and the schedules (bits, cycles, DRAM bytes), MobileNetV2 at 224 "
        "on `default` with and without the fusion buffer.",
        network_rtl,
    ),
    Entry(
        "explore_fusion",
        "bench_explore_fusion.py",
        "`dian explore` without and with `--fusion` (trials drawing a fusion buffer and stage P2) on MobileNetV2 "
        "at 224 on the ECP5-85k, same seed and trials: the chosen design, its cycles and latency, the search time.",
        explore_fusion,
    ),
)


def usage(script: str) -> list[str]:
    """The usage lines of a benchmark script's docstring (read, not imported)."""
    doc = ast.get_docstring(ast.parse((ROOT / "benchmarks" / script).read_text())) or ""
    return [line.strip() for line in doc.splitlines() if line.strip().startswith(".venv/bin/python benchmarks/")]


def sections(md: Path) -> list[str]:
    return [line[3:].strip() for line in md.read_text().splitlines() if line.startswith("## ")]


def title(md: Path) -> str:
    return next(line[2:].strip() for line in md.read_text().splitlines() if line.startswith("# "))


def link(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    return f"[{rel}](../{rel})"


def render() -> str:
    lines = [
        "# Benchmarks",
        "",
        "An index of `benchmarks/results/`: one entry per results file, with the command that makes it and its "
        "headline figures. **Generated** by `benchmarks/index.py` from the committed JSON "
        "(`.venv/bin/python benchmarks/index.py` rewrites this page); `tests/benchmarks/test_index.py` fails when "
        "the page is not what the JSON renders to. Edit the generator, not this page.",
        "",
        "Every figure was measured on the project's shared 2-core machine: times vary with its load, which the "
        "files record. Cycles, counters, accuracies and resources do not depend on the load. `make bench` runs "
        "every `benchmarks/bench_*.py`.",
        "",
    ]
    for e in ENTRIES:
        md = RESULTS / f"{e.stem}.md"
        env, bullets = e.headline(json.loads(e.json_path.read_text()))
        lines += [f"## {e.stem}", "", f"**{title(md)}.** Report {link(md)}, data {link(e.json_path)}.", ""]
        lines += [e.measures, ""]
        lines += ["Command:", "", "```", *usage(e.script), "```", ""]
        if env:
            lines += [f"Measured: {env}.", ""]
        lines += [f"- {b}" for b in bullets] + [""]
        if sections(md):
            lines += ["Sections of the report: " + "; ".join(sections(md)) + ".", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def claimed() -> set[Path]:
    """The results files the entries account for."""
    out = set()
    for e in ENTRIES:
        out.add(RESULTS / f"{e.stem}.md")
        if e.json_path.parent == RESULTS:
            out.add(e.json_path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/benchmarks.md differs from the rendering")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        if PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} is stale: run .venv/bin/python benchmarks/index.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
