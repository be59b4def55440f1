"""Whole networks on the RTL: each case is compiled by `dian compile` (mapping, program, DRAM image,
Verilog) and run by `dian simulate --rtl`, which runs sim/reference, sim/machine and the Verilator
model of the emitted RTL on the same input and compares them: every activation tensor bit for bit,
and the four performance counters (cycles, busy-PE cycles, DRAM bytes read and written) of the RTL
against sim/machine's and the schedules' prediction. With ``--random-memory`` each case runs again on
a random-latency AXI memory (cycles then differ; bytes must not).

Issue 15 asks that MobileNetV2 on `default` reach its utilization goals in the schedules *and* that
Verilator agree: the default cases are MobileNetV2 at 224 on `default`, and on `default` with a
64 KiB fusion buffer and fusion stage P2 (``fuse_expand``), the config whose schedules reach 70 %.

    .venv/bin/python benchmarks/bench_network_rtl.py [--cases mobilenetv2:default,mobilenetv2:default+fb64+p2]
        [--size 224] [--random-memory 5] [--no-write]

A case is ``MODEL:PRESET[+fbN][+p2]`` (an FBUF of N KiB; P2 needs an FBUF). Writes
benchmarks/results/network_rtl.md and .json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from results_io import environment, provenance, write_results

from dian.hwgen.accel_config import AccelConfig, BufferConfig, validate
from dian.hwgen.presets import PRESETS

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "bench_network_rtl"
STEM = "network_rtl"
DIAN = [sys.executable, "-m", "dian"]
CASES = "mobilenetv2:default,mobilenetv2:default+fb64+p2"


def case_config(spec: str) -> AccelConfig:
    """``PRESET[+fbN][+p2]`` -> the config (named after the spec)."""
    preset, *mods = spec.split("+")
    if preset not in PRESETS:
        raise SystemExit(f"unknown preset {preset!r} in case {spec!r}: one of {', '.join(PRESETS)}")
    cfg, fbuf, p2 = PRESETS[preset], 0, False
    for mod in mods:
        if re.fullmatch(r"fb\d+", mod):
            fbuf = int(mod[2:]) * 1024
        elif mod == "p2":
            p2 = True
        else:
            raise SystemExit(f"unknown modifier {mod!r} in case {spec!r}: fbN (an FBUF of N KiB) or p2")
    if not mods:
        return cfg
    name = spec.replace("+", "-")
    return validate(dataclasses.replace(cfg, name=name, fbuf=BufferConfig(fbuf), fuse_expand=p2))


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def parse_simulate(out: str) -> dict:
    """The figures of `dian simulate --rtl`'s table (columns: reference, schedules, machine, RTL)."""
    row: dict = {}
    m = re.search(r"^cycles +([\d,]+) +([\d,]+) +([\d,]+)$", out, re.M)
    if m:
        row["cycles"] = dict(zip(("schedules", "machine", "rtl"), map(_count, m.groups()), strict=True))
    m = re.search(r"^MACs / \(cycles x PEs\) +([\d,]+) MACs +([\d.]+)% +([\d.]+)% +([\d.]+)%$", out, re.M)
    if m:
        row["macs"] = _count(m.group(1))
        row["utilization"] = float(m.group(4)) / 100  # the RTL's
    for key in ("read", "written"):
        m = re.search(rf"^DRAM bytes {key} +([\d,]+) +([\d,]+) +([\d,]+)$", out, re.M)
        if m:
            row[f"dram_{key}"] = dict(zip(("schedules", "machine", "rtl"), map(_count, m.groups()), strict=True))
    m = re.search(r"^wall time +([\d.]+) s +([\d.]+) s$", out, re.M)
    if m:
        row["machine_s"], row["rtl_s"] = float(m.group(1)), float(m.group(2))
    row["bit_exact"] = "bit-exact: every byte" in out
    row["counters_equal"] = "the RTL's counters equal the machine simulator's" in out
    row["schedules_exact"] = "exact: the schedules predicted" in out
    return row


def dian(*args: object, timeout: float) -> str:
    proc = subprocess.run(
        [*DIAN, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
    )
    if proc.returncode:
        raise RuntimeError(f"dian {' '.join(map(str, args[:2]))} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return proc.stdout


def run_case(case: str, size: int, random_memory: int, timeout: float) -> dict:
    model, spec = case.split(":")
    cfg = case_config(spec)
    folder = BUILD / f"{model}-{spec.replace('+', '-')}-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accel.json").write_text(cfg.to_json())
    x = folder / "x.npy"
    np.save(x, np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32))
    row: dict = {"case": case, "model": model, "config": cfg.name, "size": size, "pes": cfg.pe_rows * cfg.pe_cols}
    out = folder / "out"
    t0 = time.time()
    dian("compile", f"zoo:{model}", "--input-shape", f"1,3,{size},{size}", "--out", out, "--accel",
         folder / "accel.json", "--force", timeout=timeout)  # fmt: skip
    row["compile_s"] = round(time.time() - t0, 1)
    texts = [p.read_text() for p in (out / "schedules").glob("*.txt")]
    fused = [t for t in texts if "through FBUF" in t]
    row["fused_blocks"] = len(fused)
    # A block from the expand names the expand GEMM, then the depthwise (features_1 has no expand: its
    # depthwise is its conv_0_0).
    from_expand = r"fused block features_\d+_conv_0_0\+features_\d+_conv_1_0\+"
    row["from_expand"] = sum(bool(re.search(from_expand, t)) for t in fused)
    t0 = time.time()
    sim = dian("simulate", out, "--input", x, "--rtl", timeout=timeout)
    row["simulate_s"] = round(time.time() - t0, 1)
    row.update(parse_simulate(sim))
    if random_memory:
        rand = dian("simulate", out, "--input", x, "--rtl", "--memory", f"random:{random_memory}", timeout=timeout)
        figures = parse_simulate(rand)
        row["random_memory"] = {
            "seed": random_memory,
            "bit_exact": figures["bit_exact"],
            "dram_bytes_equal": "DRAM bytes read and written equal" in rand,
            "cycles": figures.get("cycles", {}).get("rtl"),
        }
    return row


def markdown(rows: list[dict], env: dict) -> str:
    lines = [
        "# Whole networks on the RTL (Verilator)",
        "",
        provenance(env),
        "",
        "Each network is compiled by `dian compile` and run by `dian simulate --rtl` on one random input "
        "(seed 0): sim/reference, sim/machine and the Verilator model of the emitted RTL on the ideal memory. "
        "Bit-exact = every activation tensor the machine and the RTL left in DRAM equals sim/reference; "
        "counters = the RTL's four performance counters equal sim/machine's; schedules = the compile's "
        "predicted cycles and DRAM bytes equal sim/machine's. Utilization = MACs / (cycles x PEs), the RTL's.",
        "",
        "| model | config | input | fused blocks (from the expand) | schedules cycles | machine cycles "
        "| RTL cycles | utilization | bit-exact | counters | schedules | random memory | compile s | simulate s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---:|---:|",
    ]

    def yes(ok: object) -> str:
        return "yes" if ok else "NO"

    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['config']} | {r['size']} | {r['error']} |" + " |" * 10)
            continue
        c = r["cycles"]
        rm = r.get("random_memory")
        rand = (
            f"{yes(rm['bit_exact'] and rm['dram_bytes_equal'])} ({rm['cycles']:,} cycles, seed {rm['seed']})"
            if rm
            else "not run"
        )
        lines.append(
            f"| {r['model']} | {r['config']} | {r['size']} | {r['fused_blocks']} ({r['from_expand']}) "
            f"| {c['schedules']:,} | {c['machine']:,} | {c['rtl']:,} | {100 * r['utilization']:.1f} % "
            f"| {yes(r['bit_exact'])} | {yes(r['counters_equal'])} | {yes(r['schedules_exact'])} | {rand} "
            f"| {r['compile_s']:.0f} | {r['simulate_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=CASES, help="MODEL:PRESET[+fbN][+p2], comma-separated")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--random-memory", type=int, default=5, help="seed of a random-latency memory run; 0: none")
    p.add_argument("--timeout", type=float, default=3600, help="per command, seconds")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    before = os.getloadavg()[0]
    rows = []
    for case in args.cases.split(","):
        try:
            row = run_case(case, args.size, args.random_memory, args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            model, spec = case.split(":")
            row = {"case": case, "model": model, "config": spec, "size": args.size, "error": str(e)[-300:]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    env = environment(before)
    text = markdown(rows, env)
    print(text)
    if not args.no_write:
        write_results(STEM, text, {"env": env, "rows": rows})


if __name__ == "__main__":
    main()
