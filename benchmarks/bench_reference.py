"""Reference-simulator speed and compile time on the zoo's ImageNet-size models.

For ResNet-18 and MobileNetV2 at 1x3x224x224 (random weights, seed 0):

* compile time: load, draw the calibration samples (64, the CLI default),
  trace (torch.fx + BN folding), calibrate (float graph in the reference
  simulator), quantize;
* wall time per image of ``run_graph`` on the integer graph (and the float
  graph), batch 1, median of several runs after a warm-up, once with BLAS and
  OpenMP limited to one thread (threadpoolctl) and once with the defaults;
* per-op-kind time of the integer run on one thread, and the slowest ops.

Goal (issue): the integer reference simulator runs ResNet-18 in <= 3 s per
image on one core.

    .venv/bin/python benchmarks/bench_reference.py [--repeats N] [--calib-samples K] [--models a,b]

Writes benchmarks/results/reference_sim.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from dian.frontend import calibrate, calibration_samples, load_model, quantize, trace
from dian.ir import Graph, graph_macs, op_macs
from dian.sim.reference import ReferenceInterpreter, quantize_input, run_graph

RESULTS = Path(__file__).resolve().parent / "results"
GOAL_S = 3.0
SHAPE = (1, 3, 224, 224)


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def compile_times(name: str, calib_samples: int) -> tuple[dict[str, float], Graph, Graph]:
    t: dict[str, float] = {}
    start = time.perf_counter()
    loaded = load_model(f"zoo:{name}")
    t["load"] = time.perf_counter() - start
    s = time.perf_counter()
    calib = calibration_samples(loaded, SHAPE, calib_samples, 0)
    t["calibration samples"] = time.perf_counter() - s
    s = time.perf_counter()
    float_graph = trace(loaded.module, SHAPE, loaded.name)
    t["trace"] = time.perf_counter() - s
    s = time.perf_counter()
    ranges = calibrate(float_graph, calib)
    t["calibrate"] = time.perf_counter() - s
    s = time.perf_counter()
    int_graph = quantize(float_graph, ranges)
    t["quantize"] = time.perf_counter() - s
    t["total"] = time.perf_counter() - start
    return t, float_graph, int_graph


def sim_time(graph: Graph, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median wall and process-CPU seconds of ``run_graph`` on one batch (after a
    warm-up run). On a shared machine the CPU time is the steadier figure."""
    feed = {graph.inputs[0]: x}
    run_graph(graph, feed)
    wall, cpu = [], []
    for _ in range(repeats):
        c = time.process_time()
        wall.append(_timed(lambda: run_graph(graph, feed)))
        cpu.append(time.process_time() - c)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "wall_min": min(wall)}


def per_op_times(graph: Graph, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds per op name, by wrapping the interpreter's per-kind methods."""
    interp = ReferenceInterpreter(graph)
    samples: dict[str, list[float]] = defaultdict(list)

    def wrap(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        def timed(op, *args):
            s = time.perf_counter()
            out = fn(op, *args)
            samples[op.name].append(time.perf_counter() - s)
            return out

        return timed

    interp._dispatch = {k: wrap(v) for k, v in interp._dispatch.items()}
    for _ in range(repeats + 1):
        interp.run({graph.inputs[0]: x})
    return {n: statistics.median(v[1:]) for n, v in samples.items()}


def profile_table(graph: Graph, times: dict[str, float], top: int) -> tuple[list[dict], list[dict]]:
    total = sum(times.values())
    kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for op in graph.ops:
        desc = op.kind.value
        if op.kind.value == "conv2d":
            _, cg, fy, fx = graph.tensors[op.weight].shape  # type: ignore[attr-defined]
            desc = "conv2d depthwise" if cg == 1 and op.groups > 1 else f"conv2d {fy}x{fx}"  # type: ignore[attr-defined]
        row = kinds[desc]
        row[0] += 1
        row[1] += times[op.name]
        row[2] += op_macs(graph, op)
    by_kind = [
        {
            "kind": k,
            "ops": v[0],
            "seconds": v[1],
            "share": v[1] / total,
            "gmacs": v[2] / 1e9,
            "gmac_per_s": (v[2] / 1e9 / v[1]) if v[2] else None,
        }
        for k, v in sorted(kinds.items(), key=lambda kv: -kv[1][1])
    ]
    slow = sorted(graph.ops, key=lambda op: -times[op.name])[:top]
    slowest = [
        {
            "op": op.name,
            "kind": op.kind.value,
            "output": list(graph.tensors[op.output].shape),
            "ms": 1e3 * times[op.name],
        }
        for op in slow
    ]
    return by_kind, slowest


def bench_model(name: str, calib_samples: int, repeats: int) -> dict:
    ct, fg, ig = compile_times(name, calib_samples)
    with threadpool_limits(1):
        prev = torch.get_num_threads()
        torch.set_num_threads(1)
        ct1, _, _ = compile_times(name, calib_samples)
        torch.set_num_threads(prev)
    x_float = np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32)
    x_int = quantize_input(x_float, ig.tensors[ig.inputs[0]].quant.scale[0])  # type: ignore[union-attr]
    out = {
        "model": name,
        "input": list(SHAPE),
        "gmacs": graph_macs(ig) / 1e9,
        "ops": len(ig.ops),
        "calib_samples": calib_samples,
        "compile_s": {"default threads": ct, "1 thread": ct1},
        "sim_s": {},
    }
    for label, limit in (("1 thread", 1), ("default threads", None)):
        with threadpool_limits(limit):
            prev = torch.get_num_threads()
            if limit:
                torch.set_num_threads(limit)
            out["sim_s"][label] = {"int8": sim_time(ig, x_int, repeats), "float": sim_time(fg, x_float, repeats)}
            torch.set_num_threads(prev)
    with threadpool_limits(1):
        out["profile_by_kind"], out["slowest_ops"] = profile_table(ig, per_op_times(ig, x_int, repeats), 8)
    return out


def markdown(results: list[dict], env: dict) -> str:
    lines = [
        "# Reference simulator speed and compile time",
        "",
        f"Machine: {env['cpu']} ({env['cores']} cores), numpy {env['numpy']}, torch {env['torch']}; "
        f"thread pools: {env['blas']}.",
        f"Batch 1, input 1x3x224x224, random weights (seed 0); median of {env['repeats']} runs after a warm-up.",
        f"Goal: ResNet-18 int8 <= {GOAL_S:g} s per image on one thread.",
        f"1-minute load average before / after: {env['load_average'][0]} / {env['load_average'][1]} "
        "(other jobs on the machine slow the multi-threaded figures most).",
        "",
        "Seconds per image of `run_graph`:",
        "",
        "| model | GMACs | int8 1 thread: wall (CPU) | int8 default threads | float 1 thread | float default |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        one, dflt = r["sim_s"]["1 thread"], r["sim_s"]["default threads"]
        lines.append(
            f"| {r['model']} | {r['gmacs']:.2f} | {one['int8']['wall']:.3f} ({one['int8']['cpu']:.3f}) "
            f"| {dflt['int8']['wall']:.3f} | {one['float']['wall']:.3f} | {dflt['float']['wall']:.3f} |"
        )
    lines += [
        "",
        f"Compile seconds (load + {results[0]['calib_samples']} calibration samples + trace + calibrate + quantize):",
        "",
        "| model | threads | total | trace | calibrate | quantize |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for label, c in r["compile_s"].items():
            lines.append(
                f"| {r['model']} | {label} | {c['total']:.1f} | {c['trace']:.2f} | {c['calibrate']:.1f} "
                f"| {c['quantize']:.2f} |"
            )
    for r in results:
        lines += [
            "",
            f"## {r['model']}: int8 run on one thread, by op kind",
            "",
            "| op kind | ops | ms | share | GMACs | GMAC/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for k in r["profile_by_kind"]:
            rate = f"{k['gmac_per_s']:.1f}" if k["gmac_per_s"] else ""
            lines.append(
                f"| {k['kind']} | {k['ops']} | {1e3 * k['seconds']:.1f} | {100 * k['share']:.1f} % "
                f"| {k['gmacs']:.3f} | {rate} |"
            )
        lines += [
            "",
            "Slowest ops: "
            + ", ".join(
                f"{o['op']} ({o['kind']} -> {'x'.join(map(str, o['output']))}) {o['ms']:.1f} ms"
                for o in r["slowest_ops"][:5]
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--calib-samples", type=int, default=64)
    p.add_argument("--models", default="resnet18,mobilenetv2")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args()
    blas = ", ".join(
        sorted(
            {
                f"{i['internal_api']} {i.get('version') or ''} ({Path(i['filepath']).name})".replace("  ", " ")
                for i in threadpool_info()
            }
        )
    )
    cpu = (
        next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    env = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "blas": blas,
        "python": platform.python_version(),
        "repeats": args.repeats,
    }
    load_before = os.getloadavg()[0]
    results = [bench_model(m, args.calib_samples, args.repeats) for m in args.models.split(",")]
    env["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    text = markdown(results, env)
    print(text)
    r18 = next((r for r in results if r["model"] == "resnet18"), None)
    if r18 is not None:
        t = r18["sim_s"]["1 thread"]["int8"]["wall"]
        print(
            f"ResNet-18 int8, one thread: {t:.3f} s/image -> "
            f"{'meets' if t <= GOAL_S else 'MISSES'} the {GOAL_S:g} s goal"
        )
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "reference_sim.md").write_text(text)
        (RESULTS / "reference_sim.json").write_text(
            json.dumps({"env": env, "goal_s": GOAL_S, "results": results}, indent=1, sort_keys=True) + "\n"
        )


if __name__ == "__main__":
    main()
