"""Wall time of a compile as the user runs it: `dian compile zoo:resnet18 --input-shape 1,3,224,224`.

The whole command in a fresh process each time (Python and torch imports, building the model,
tracing, drawing and running the 64 calibration samples through the reference simulator,
quantizing, writing the folder), median and minimum of several runs; and where that time goes,
from one in-process run of the same stages. With ``--baseline TREE`` (a package tree of another
checkout, made by ``scripts/package_tree.py TREE`` run there) the same command runs on that code
too, interleaved with this tree's runs so both see the same machine load, and the two output
folders are compared byte for byte.

    .venv/bin/python benchmarks/bench_compile.py [--repeats N] [--baseline TREE] [--no-write]

Writes benchmarks/results/compile_time.md and .json. The script imports nothing of dian's itself
(its stage run is a child process), so every run pays the imports a user pays.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL, SHAPE = "zoo:resnet18", "1,3,224,224"


def _cli(out: Path, tree: str | None) -> dict[str, float]:
    """One `dian compile` in a fresh process: wall and CPU seconds (the child's user + system)."""
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    argv = [sys.executable, "-m", "dian", "compile", MODEL, "--input-shape", SHAPE, "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def _same_folders(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def _stages_child() -> None:
    """Runs in a child process: the compile's stages one by one, as api.compile_model runs them."""
    t: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        t[name], clock = now - clock, now

    from dian import frontend
    from dian.ir import graph_to_json

    lap("import (dian, torch)")
    shape = tuple(int(d) for d in SHAPE.split(","))
    loaded = frontend.load_model(MODEL)
    lap("build the model")
    calib = frontend.calibration_samples(loaded, shape, 64, 0)
    lap("draw 64 calibration samples")
    float_graph = frontend.trace(loaded.module, shape, loaded.name)
    lap("trace (fx, shapes, BN folding)")
    ranges = frontend.calibrate(float_graph, calib)
    lap("calibrate (reference simulator)")
    int_graph = frontend.quantize(float_graph, ranges)
    lap("quantize")
    for g in (float_graph, int_graph):
        graph_to_json(g)
    lap("serialize both IR files")
    print(json.dumps(t))


def _stages() -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--stages-child"], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    walls = [r["wall"] for r in runs]
    return {
        "wall_median": statistics.median(walls),
        "wall_min": min(walls),
        "cpu_median": statistics.median(r["cpu"] for r in runs),
    }


def markdown(doc: dict) -> str:
    env, rows = doc["env"], doc["runs"]
    lines = [
        "# Compile time: `dian compile zoo:resnet18 --input-shape 1,3,224,224`",
        "",
        f"The whole command in a fresh process, {env['repeats']} runs each; code {env['git']}, {env['date']}, "
        f"{env['cores']} cores, 1-minute load average before / after: {env['load_average'][0]} / "
        f"{env['load_average'][1]} (the machine is shared: other jobs stretch the wall time, CPU seconds less).",
        "",
        "| code | wall s, median | wall s, min | CPU s (user + system), median |",
        "|---|---:|---:|---:|",
    ]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['wall_median']:.1f} | {r['wall_min']:.1f} | {r['cpu_median']:.1f} |")
    if "identical_output" in doc:
        lines += ["", f"Output folders byte-identical between the two: {'yes' if doc['identical_output'] else 'NO'}."]
    total = sum(doc["stages"].values())
    lines += [
        "",
        "## Where the time goes",
        "",
        f"One in-process run of the stages (this code), {total:.1f} s in all; writing the folder "
        "(hashes, files) is the rest of the command's time.",
        "",
        "| stage | s | share |",
        "|---|---:|---:|",
    ]
    lines += [f"| {k} | {v:.2f} | {100 * v / total:.0f} % |" for k, v in doc["stages"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--baseline", help="package tree of the code to compare with (scripts/package_tree.py)")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--stages-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.stages_child:
        _stages_child()
        return
    here = f"this tree ({_git('rev-parse', '--short', 'HEAD')})"
    base = None
    if args.baseline:
        checkout = (Path(args.baseline) / "dian" / "__init__.py").resolve().parent
        base = f"baseline ({_git('-C', str(checkout), 'rev-parse', '--short', 'HEAD')})"
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, float]]] = {here: []} | ({base: []} if base else {})
    identical = None
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        for i in range(args.repeats):
            runs[here].append(_cli(Path(tmp) / "here", None))
            if base:
                runs[base].append(_cli(Path(tmp) / "base", args.baseline))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]['wall']:.1f} s" for k, v in runs.items()), flush=True)
        if base:
            identical = _same_folders(Path(tmp) / "here", Path(tmp) / "base")
    stages = _stages()
    dirty = _git("status", "--porcelain", "dian", "frontend", "sim", "ir")
    doc: dict = {
        "env": {
            "command": " ".join(["benchmarks/bench_compile.py", *(argv if argv is not None else sys.argv[1:])]),
            "git": _git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else ""),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "cores": os.cpu_count(),
            "repeats": args.repeats,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "model": MODEL,
        "input_shape": [int(d) for d in SHAPE.split(",")],
        "runs": {k: _summary(v) for k, v in runs.items()},
        "raw": runs,
        "stages": stages,
    }
    if identical is not None:
        doc["identical_output"] = identical
    text = markdown(doc)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "compile_time.md").write_text(text)
        (RESULTS / "compile_time.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
