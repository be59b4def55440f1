"""The held-out user models (benchmarks/user_models.py), each as a user runs it: compiled from its
file, its int8 outputs against float torch, and on `tiny` the machine simulator and the Verilator
model of the RTL against the reference simulator.

Per model: the ops its IR holds; the cosine of each int8 output (sim/reference, 8 held-out N(0,1)
inputs, dian's default calibration) against the float torch model's; on `tiny` (batch 1) the
machine's cycles against the schedules' prediction, and the Verilator model's cycles on the ideal
memory (every activation byte and counter must equal the machine's) and on a random-latency one
(every byte must equal; its cycles are the measurement). ``--no-rtl`` skips Verilator.

    .venv/bin/python benchmarks/bench_user_models.py [--models M1,M2] [--no-rtl] [--no-write]

Writes benchmarks/results/user_models.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import user_models  # benchmarks/user_models.py, next to this script

from dian import api
from dian.errors import DianError
from dian.running import run_model_outputs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FILE = ROOT / "benchmarks" / "user_models.py"
STEM = "user_models"
MIN_COSINE = 0.98


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1).astype(np.float64), b.reshape(-1).astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def bench_model(models: Any, name: str, rtl: bool, work: Path) -> dict[str, Any]:
    shape = models.SHAPES[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, *shape[1:])).astype(np.float32)
    r: dict[str, Any] = {"model": name, "input": list(shape)}
    t0 = time.perf_counter()
    try:
        compiled = api.compile_model(f"{FILE}:{name}", x.shape, work / "ir")
        r["ops"] = dict(sorted(Counter(str(op.kind.value) for op in compiled.int_graph.ops).items()))
        got = list(run_model_outputs(work / "ir", x).values())
        with torch.no_grad():
            want = getattr(models, name)()(torch.from_numpy(x))
        want = want if isinstance(want, tuple) else (want,)
        r["cosine"] = [_cosine(g, w.numpy()) for g, w in zip(got, want, strict=True)]
        api.compile_model(f"{FILE}:{name}", shape, work / "tiny", accel="tiny", rtl=rtl)
        one = x[:1]
        run = api.simulate_model(work / "tiny", one, rtl=rtl)
        r["macs"] = run.macs
        r["machine_cycles"] = run.machine.counters.cycles
        r["predicted_cycles"] = run.predicted.cycles
        if rtl:
            assert run.rtl is not None
            r["rtl_cycles"] = run.rtl.counters.cycles
            slow = api.simulate_model(work / "tiny", one, rtl=True, memory="random:3")
            assert slow.rtl is not None
            r["rtl_random_cycles"] = slow.rtl.counters.cycles
    except DianError as e:  # a refusal or a mismatch is a result, recorded with its message
        r["error"] = f"{type(e).__name__}: {e}"
    r["seconds"] = time.perf_counter() - t0
    return r


def _row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"| {r['model']} | | | | | | FAILS: {r['error'][:200]} |"
    ops = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in r["ops"].items())
    cos = " / ".join(f"{c:.4f}" for c in r["cosine"])
    exact = "= predicted" if r["machine_cycles"] == r["predicted_cycles"] else "DIFFERS from predicted"
    rtl = f"{r['rtl_cycles']:,} (= machine)" if "rtl_cycles" in r else "not run"
    rand = f"{r['rtl_random_cycles']:,}" if "rtl_random_cycles" in r else ""
    return f"| {r['model']} | {ops} | {cos} | {r['macs']:,} | {r['machine_cycles']:,} {exact} | {rtl} | {rand} |"


def markdown(results: list[dict[str, Any]], env: dict[str, Any]) -> str:
    ok = [r for r in results if "error" not in r and min(r["cosine"]) >= MIN_COSINE]
    rtl = [r for r in ok if "rtl_cycles" in r]
    lines = [
        "# Held-out user models: int8 against float, and `tiny` in the machine simulator and Verilator",
        "",
        f"Made by `.venv/bin/python {env['command']}`; code {env['git']}; {env['date']}; {env['cpu']} "
        f"({env['cores']} cores), Python {env['python']}; load average {env['load_average'][0]} / "
        f"{env['load_average'][1]}; {env['seconds']:.0f} s.",
        "",
        f"The models are benchmarks/user_models.py. **{len(ok)} of {len(results)}** compile and come within "
        f"{MIN_COSINE} cosine of float; {len(rtl)} of them ran in Verilator on `tiny`, every activation byte and "
        "counter equal to the machine simulator's on the ideal memory, every byte equal on the random one.",
        "",
        "Cosine: each output of the int8 graph (sim/reference, 8 held-out N(0,1) inputs) against float torch, "
        "default calibration (64 N(0,1) samples). Cycles: batch 1 on `tiny`; *random* is the Verilator "
        "model on the harness's random-latency memory (seed 3), the same bytes in more cycles.",
        "",
        "| model | IR ops | cosine | MACs | sim/machine cycles | Verilator cycles, ideal memory | "
        "Verilator cycles, random memory |",
        "|---|---|---|---:|---:|---:|---:|",
        *(_row(r) for r in results),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    models = user_models
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(models.MODELS))
    p.add_argument("--no-rtl", action="store_true", help="skip the Verilator runs")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    env: dict[str, Any] = {
        "command": "benchmarks/bench_user_models.py"
        + (f" --models {args.models}" if args.models != ",".join(models.MODELS) else "")
        + (" --no-rtl" if args.no_rtl else ""),
        "git": head.stdout.strip() + (" + uncommitted changes" if dirty else ""),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    before, t0 = os.getloadavg()[0], time.perf_counter()
    results = []
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(bench_model(models, name, not args.no_rtl, Path(tmp)))
        r = results[-1]
        print(f"{name}: {r.get('error') or 'ok'} ({r['seconds']:.1f} s)", flush=True)
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
