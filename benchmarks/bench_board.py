"""`dian build --board` on the tiny LeNet: for each board, the whole build (the LiteX SoC, Yosys,
nextpnr, ecppack through the YoWASP shims) with the default clocks and nextpnr seed 1: seconds
per step, Fmax per clock domain, utilization, the bitstream's size; and why the accelerator's AXI4
master has a DRAM crossbar port of its own: cycles per beat through that port and through
``soc.bus.add_master``'s path, in a Migen simulation of LiteDRAM's controller and SDRAM model
(tests/board/dram_paths.py).

    .venv/bin/python benchmarks/bench_board.py [--boards ulx3s-85f,orangecrab-25f] [--no-dram-paths] [--merge]

``--merge`` keeps the other boards' results (and the DRAM-path figures, when not measured again)
of the existing results file; every result records its own code, date and load.

Writes benchmarks/results/board.md and .json. The tools' times depend on the machine's load,
which the files record; the rest does not (nextpnr with a fixed seed routes the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dian import api

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUILD = REPO / "build" / "bench_board"


def _env(argv: list[str]) -> dict[str, object]:
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "command": " ".join(["benchmarks/bench_board.py", *argv]),
        "git": git.stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
    }


def build(boards: list[str], argv: list[str]) -> list[dict[str, object]]:
    folder = BUILD / "lenet-tiny"
    if folder.exists():
        shutil.rmtree(folder)
    BUILD.mkdir(parents=True, exist_ok=True)
    api.compile_model("zoo:lenet", (1, 1, 8, 8), folder, calib_samples=8, accel="tiny")
    out = []
    for board in boards:
        doc = api.build_board(folder, board, progress=True).doc
        out.append(
            {
                "env": _env(argv),
                "board": board,
                "device": doc["device"],
                "clocks": doc["clocks"],
                "timing": doc["timing"],
                "utilization": {k: v for k, v in doc["utilization"].items() if k != "cells"},
                "seconds": doc["seconds"],
                "bitstream_bytes": doc["bitstream"]["bytes"],
            }
        )
    return out


def dram_paths() -> dict[str, object]:
    sys.path.insert(0, str(REPO / "tests" / "board"))
    import dram_paths as dp

    return {"beats": dp.BURSTS * dp.BEATS, "clock_hz": dp.CLK, **{p: dp.measure(p) for p in ("crossbar", "bus")}}


def markdown(doc: dict[str, object]) -> str:
    lines = [
        "# Board builds: the tiny LeNet in a LiteX SoC",
        "",
        "Written by benchmarks/bench_board.py ([docs/board.md](../../docs/board.md) explains the SoC).",
        "",
        "## Builds",
        "",
        "| board | sys Fmax (asked) | accel Fmax (asked) | LUT4 | FF | DSP | EBR | LiteX | Yosys | nextpnr | ecppack "
        "| .bit bytes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:  # type: ignore[attr-defined]
        t, u, s = r["timing"], r["utilization"], r["seconds"]
        lines.append(
            f"| {r['board']} | "
            + " | ".join(f"{t[d]['fmax_mhz']:.1f} MHz ({t[d]['asked_mhz']:g})" for d in ("sys", "accel"))
            + " | "
            + " | ".join(f"{u[k]['used']:,} / {u[k]['available']:,}" for k in ("lut4", "ff", "dsp", "ebr"))
            + " | "
            + " | ".join(f"{s[k]:.1f} s" for k in ("litex", "yosys", "nextpnr-ecp5", "ecppack"))
            + f" | {r['bitstream_bytes']:,} |"
        )
    paths = doc.get("dram_paths")
    if paths:
        n = paths["beats"]  # type: ignore[index]
        lines += [
            "",
            "## DRAM paths",
            "",
            f"{n} 32-bit beats in 16-beat bursts, written then read back, through LiteDRAM's controller and SDRAM "
            "model (SDR, 16 bits, 50 MHz); cycles from the first address to the last response.",
            "",
            "| path | write cycles | per beat | read cycles | per beat |",
            "|---|---|---|---|---|",
        ]
        for p in ("crossbar", "bus"):
            c = paths[p]  # type: ignore[index]
            lines.append(f"| {p} | {c['write']} | {c['write'] / n:.2f} | {c['read']} | {c['read'] / n:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--boards", default="ulx3s-85f,orangecrab-25f")
    p.add_argument("--no-dram-paths", action="store_true")
    p.add_argument("--merge", action="store_true")
    args = p.parse_args()
    doc: dict[str, object] = {"env": _env(sys.argv[1:])}
    results = build(args.boards.split(","), sys.argv[1:])
    old = json.loads((RESULTS / "board.json").read_text()) if args.merge and (RESULTS / "board.json").exists() else {}
    rebuilt = {r["board"] for r in results}
    doc["results"] = [r for r in old.get("results", []) if r["board"] not in rebuilt] + results
    if not args.no_dram_paths:
        doc["dram_paths"] = dram_paths()
    elif "dram_paths" in old:
        doc["dram_paths"] = old["dram_paths"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "board.json").write_text(json.dumps(doc, sort_keys=True, indent=1) + "\n")
    (RESULTS / "board.md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
