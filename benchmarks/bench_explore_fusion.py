"""What the fusion buffer buys a design search: `dian explore` on one model and target, the same seed
and trials, without and with ``--fusion`` (the trials may draw a fusion buffer and fusion stage P2):
the chosen design of each, its exact cycles, the clock it is priced at (search/fmax.py's prediction,
capped), its latency, how many drawn designs had an FBUF and fit, and the search's
wall time (an FBUF design is priced by timing its programs: seconds, not a fraction of one).

    .venv/bin/python benchmarks/bench_explore_fusion.py [--model zoo:mobilenetv2] [--target ecp5-85k]
        [--trials 30] [--seed 0] [--no-write]

Writes benchmarks/results/explore_fusion.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import environment, provenance, write_results

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "bench_explore_fusion"
STEM = "explore_fusion"


def run(model: str, target: str, trials: int, seed: int, fusion: bool) -> dict:
    """One `dian explore` in a fresh process; its chosen design and what it tried."""
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / ("fusion" if fusion else "plain")
    cmd = [sys.executable, "-m", "dian", "explore", model, "--target", target, "--trials", str(trials)]
    cmd += ["--seed", str(seed), "--out", str(out), "--force", "--no-rtl", *(["--fusion"] if fusion else [])]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.time() - t0
    if proc.returncode:
        raise SystemExit(f"dian explore exited {proc.returncode}: {proc.stderr[-1500:]}")
    designs = json.loads((out / "explore" / "designs.json").read_text())
    accel = json.loads((out / "accel.json").read_text())
    chosen = next(d for d in designs if {**d["config"], "clock_mhz": d["clock_mhz_priced"]} == accel)
    c = chosen["config"]
    fbuf = [d for d in designs if d["config"].get("fbuf", {}).get("bytes")]
    return {
        "fusion": fusion,
        "wall_s": round(wall, 1),
        "designs": len(designs),
        "fit": sum(d["fits"] for d in designs),
        "fbuf_designs": len(fbuf),
        "fbuf_fit": sum(d["fits"] for d in fbuf),
        "chosen": {
            "trial": chosen["trial"],
            "pes": f"{c['pe_rows']}x{c['pe_cols']}",
            "buffers_kib": [c[b]["bytes"] // 1024 for b in ("ibuf", "wbuf", "abuf", "obuf")],
            "bus_bits": c["dram_bus_bits"],
            "fbuf_kib": c.get("fbuf", {}).get("bytes", 0) // 1024,
            "fuse_expand": c.get("fuse_expand", False),
            "cycles": chosen["cycles"],
            "clock_mhz": chosen["clock_mhz_priced"],
            "latency_us": chosen["latency_us"],
            "luts": chosen["resources"]["luts"],
            "brams": chosen["resources"]["brams"],
        },
    }


def markdown(rows: list[dict], env: dict) -> str:
    lines = [
        "# What the fusion buffer buys `dian explore`",
        "",
        provenance(env),
        "",
        f"`dian explore {env['model']} --target {env['target']} --trials {env['trials']} --seed {env['seed']}`, "
        "without and with `--fusion`, in one run. Cycles are the exact cost model's (= sim/machine), the "
        "clock search/fmax.py's predicted Fmax capped by the target's; the resource figures are "
        "search/resources.py's estimate.",
        "",
        "| `--fusion` | designs (fit) | with an FBUF (fit) | chosen | FBUF | cycles | clock MHz | latency us "
        "| LUTs (est.) | BRAMs | search s |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r["chosen"]
        fb = f"{c['fbuf_kib']} KiB {'P2' if c['fuse_expand'] else 'P1'}" if c["fbuf_kib"] else "none"
        bufs = "/".join(map(str, c["buffers_kib"]))
        lines.append(
            f"| {'yes' if r['fusion'] else 'no'} | {r['designs']} ({r['fit']}) | {r['fbuf_designs']} ({r['fbuf_fit']}) "
            f"| trial {c['trial']}: {c['pes']}, {bufs} KiB, {c['bus_bits']}-bit bus | {fb} | {c['cycles']:,} "
            f"| {c['clock_mhz']:.1f} | {c['latency_us']:,.1f} | {c['luts']:,} | {c['brams']} | {r['wall_s']:.0f} |"
        )
    if len(rows) == 2:
        a, b = (r["chosen"] for r in rows)
        lines += [
            "",
            f"With `--fusion` the chosen design takes {b['cycles'] / a['cycles']:.3f}x the cycles and "
            f"{b['latency_us'] / a['latency_us']:.3f}x the latency of the one chosen without, for "
            f"{rows[1]['wall_s'] / rows[0]['wall_s']:.1f}x the search time.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="zoo:mobilenetv2")
    p.add_argument("--target", default="ecp5-85k")
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    before = os.getloadavg()[0]
    rows = [run(args.model, args.target, args.trials, args.seed, fusion) for fusion in (False, True)]
    env = environment(before, model=args.model, target=args.target, trials=args.trials, seed=args.seed)
    text = markdown(rows, env)
    print(text)
    if not args.no_write:
        write_results(STEM, text, {"env": env, "rows": rows})


if __name__ == "__main__":
    main()
