"""The small end: the smallest accelerators against the iCE40 UP5K (5,280 LUT4 / FF cells, 8
SB_MAC16, 30 SB_RAM40_4K of 4 Kbit, 128 KiB of SPRAM), measured with Yosys and nextpnr-ice40.

Configs (each with its target set to ``ice40-up5k``; ``hwgen.accel_config.validate`` refuses
``tiny`` there, so they are built without it): ``nano`` (the preset: the least hardware that
runs the zoo's LeNet), ``floor`` (nano with everything that can shrink at its minimum: 8-bit
bus, IMEM 16, 64-256-byte buffers; LeNet still maps, in 41,269 cycles) and ``tiny``. For each:

1. Yosys ``synth_ice40 -dsp`` of the design alone (``hwgen.tools.synth.synthesize`` without
   place and route): LUT4, FF, SB_MAC16, SB_RAM40_4K;
2. the same with the hierarchy kept (``rtl_templates/yosys_ice40_blocks.ys.j2``): each block's
   own cells, to see where the LUTs go;
3. the resource estimate (``search/resources.py``: the ECP5 fit plus the DSP plan's LUT
   products; block RAMs from ``block_rams``) against 1.;
4. ``nano`` only (not with ``--no-pnr``): nextpnr-ice40 (SG48, seed 1) on the P&R wrapper of
   ``hwgen/tools/pnr_wrapper.py``, with a time limit: the place-and-route figures, or why it
   stops.

    .venv/bin/python benchmarks/bench_ice40.py [--configs nano,floor,tiny] [--no-pnr]
    .venv/bin/python benchmarks/bench_ice40.py --report   # re-render ice40.md from ice40.json

Writes benchmarks/results/ice40.md and .json.
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

from dian.hwgen.accel_config import AccelConfig, BufferConfig
from dian.hwgen.dsp_plan import plan_dsps
from dian.hwgen.presets import PRESETS
from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
from dian.hwgen.targets import TARGET_FABRIC, Target
from dian.hwgen.tools.synth import synthesize
from dian.hwgen.tools.templates import render_to
from dian.hwgen.tools.toolchain import require_tool, run_tool, tool_release
from dian.search.resources import block_rams, estimate

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUILD = REPO / "build" / "bench_ice40"
EBRS = 30  # SB_RAM40_4K on the UP5K
#: The report keeps this line of benchmarks/results/ice40.md and what follows (written by hand).
NOTES = "<!-- hand-written notes: bench_ice40.py keeps this line and what follows -->"
PNR_TIMEOUT_S = 1800

#: What each block of the hierarchy is (hwgen/rtl/), and whether LeNet needs it.
BLOCKS = {
    "core.cmp.requant": "PPURequant: (acc + bias) x M, 4 partial products a lane",
    "core.cmp.requant.round": "PPURequant's round-shift and clamp",
    "core.cmp.add": "PPUAdd (ADD, MUL's products): LeNet has none",
    "core.cmp.add.round": "PPUAdd's round-shift and clamp: LeNet has none",
    "core.cmp": "CMP engine: decode, COPY/MUL, PPU stream, OBUF writes",
    "core.cmp.gemm": "GEMM walk (loop counters, IBUF/WBUF addresses)",
    "core.cmp.gemm.array": "PE array",
    "core.cmp.gemm.acc": "accumulator update (ABUF read-modify-write)",
    "core.cmp.pool": "POOL walk",
    "core.cmp.pool.pool": "PPUPool (max / sum)",
    "core.ctrl": "controller: header, chunk loader, IMEM, tokens",
    "core.mem": "MEM engine: loads with padding, stores",
    "core.mem.slots": "MEM engine's outstanding-read slots",
    "core": "core: 4 x 64-bit counters, buffer ports",
    "core.axi": "AXI4 master: burst splitter, credits",
    "core.axi.wfifo": "AXI write FIFO",
    "core.axi.rfifo": "AXI read FIFO",
    "core.axi.lens": "AXI burst-length FIFO",
    "csr": "AXI4-Lite register block",
}


def configs() -> dict[str, AccelConfig]:
    ice = Target.ICE40_UP5K
    nano = dataclasses.replace(PRESETS["nano"], target=ice)
    floor = dataclasses.replace(
        nano,
        name="floor",
        dram_bus_bits=8,
        imem_instructions=16,
        ibuf=BufferConfig(256),
        wbuf=BufferConfig(64),
        abuf=BufferConfig(192),
        obuf=BufferConfig(64),
    )
    return {"nano": nano, "floor": floor, "tiny": dataclasses.replace(PRESETS["tiny"], target=ice)}


def blocks(files: list[Path], folder: Path) -> list[dict]:
    """Each block's own cells (submodules excluded), Yosys with the hierarchy kept."""
    folder.mkdir(parents=True, exist_ok=True)
    render_to(
        "yosys_ice40_blocks.ys.j2",
        folder / "blocks.ys",
        top=TOP_NAME,
        verilog_files=['"' + os.path.relpath(f, folder) + '"' for f in files],
        stat_json="blocks.json",
    )
    yosys = require_tool("yosys")
    run_tool(yosys, ["-q", "-l", "blocks.log", "-s", "blocks.ys"], cwd=folder, log=folder / "blocks.out")
    rows = []
    for mod, e in json.loads((folder / "blocks.json").read_text())["modules"].items():
        c = e.get("num_cells_by_type", {})
        name = mod.lstrip("\\").removeprefix(TOP_NAME).lstrip(".") or TOP_NAME
        rows.append(
            {
                "block": name.replace("$", "_"),
                "luts": c.get("SB_LUT4", 0),
                "ffs": sum(v for k, v in c.items() if k.startswith("SB_DFF")),
                "carries": c.get("SB_CARRY", 0),
                "ebrs": c.get("SB_RAM40_4K", 0),
                "dsps": c.get("SB_MAC16", 0),
            }
        )
    return sorted((r for r in rows if r["luts"] or r["ffs"]), key=lambda r: -r["luts"])


def measure(name: str, cfg: AccelConfig, pnr: bool) -> dict:
    folder = BUILD / name
    files = emit_verilog(cfg, folder / "rtl")
    t0 = time.perf_counter()
    rep = synthesize(files, TOP_NAME, "ice40-up5k", cfg.clock_mhz, folder / "synth", place_and_route=False)
    est = estimate(cfg)
    row: dict = {
        "config": name,
        "accel": json.loads(cfg.to_json()),
        "synth": {"luts": rep.luts, "ffs": rep.ffs, "dsps": rep.dsps, "ebrs": rep.brams},
        "synth_s": round(time.perf_counter() - t0, 1),
        "estimate": {"luts": est.luts, "ffs": est.ffs, "dsps": est.dsps, "ebrs": est.brams},
        "ebr_model": block_rams(cfg),
        "dsp_plan": plan_dsps(cfg).describe(),
    }
    t0 = time.perf_counter()
    row["blocks"] = blocks(files, folder / "blocks")
    row["blocks_s"] = round(time.perf_counter() - t0, 1)
    print(f"{name}: {row['synth']} (estimate {row['estimate']}) in {row['synth_s']} s", flush=True)
    if pnr:
        row["pnr"] = place_and_route(cfg, files, folder / "pnr")
        print(f"{name}: P&R {row['pnr'].get('status')}", flush=True)
    return row


def place_and_route(cfg: AccelConfig, files: list[Path], folder: Path) -> dict:
    """nextpnr-ice40 on the wrapped design, stopped after PNR_TIMEOUT_S: Fmax, or why it stopped."""
    from dian.hwgen.tools import synth as synth_mod

    orig = synth_mod.run_tool

    def limited(tool, args, **kw):  # type: ignore[no-untyped-def]
        return orig(tool, args, **kw, timeout=PNR_TIMEOUT_S)

    synth_mod.run_tool = limited
    t0 = time.perf_counter()
    try:
        rep = synthesize(files, TOP_NAME, "ice40-up5k", cfg.clock_mhz, folder, place_and_route=True, seed=1)
        out: dict = {"status": "ok", "fmax_mhz": rep.fmax_mhz, "utilization": rep.utilization}
    except Exception as e:  # a design that does not fit is a result
        out = {"status": "failed", "error": f"{type(e).__name__}: {e}"[-1500:]}
    finally:
        synth_mod.run_tool = orig
    out["seconds"] = round(time.perf_counter() - t0, 1)
    log = folder / "nextpnr.log"
    if log.is_file():
        lines = log.read_text(errors="replace").splitlines()
        out["log_tail"] = [ln for ln in lines if "ERROR" in ln or "%" in ln][-24:]
    return out


def pct(x: int, of: int) -> str:
    return f"{100 * x / of:.0f} %"


def markdown(doc: dict) -> str:
    fab = TARGET_FABRIC[Target.ICE40_UP5K]
    assert fab is not None
    env = doc["env"]
    lines = [
        "# The small end: the iCE40 UP5K",
        "",
        f"Command: `.venv/bin/python {env['command']}`; code {env['git']}, Yosys {env['yosys']}; {env['date']}, "
        f"load average {env['load_average'][0]} -> {env['load_average'][1]}.",
        "",
        f"The part: {fab.luts:,} logic cells (one LUT4 and one FF each), {fab.dsps} SB_MAC16 (16 x 16), {EBRS} "
        "SB_RAM40_4K (4 Kbit, at most 16 bits a read), 128 KiB SPRAM (single-port: the RTL does not use it, "
        "see below). Figures: Yosys `synth_ice40 -dsp`, the design alone (no P&R wrapper).",
        "",
        "| config | PEs | bus | IMEM | buffers I/W/A/O B | acc | LUT4 | FF | SB_MAC16 | SB_RAM40_4K | estimate "
        "LUT4 / FF / MAC / RAM | synth s |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in doc["results"]:
        a, s, e = r["accel"], r["synth"], r["estimate"]
        bufs = "/".join(str(a[b]["bytes"]) for b in ("ibuf", "wbuf", "abuf", "obuf"))
        lines.append(
            f"| {r['config']} | {a['pe_rows']}x{a['pe_cols']} | {a['dram_bus_bits']} | {a['imem_instructions']} "
            f"| {bufs} | {a['acc_bits']} | {s['luts']:,} ({pct(s['luts'], fab.luts)}) | {s['ffs']:,} "
            f"({pct(s['ffs'], fab.luts)}) | {s['dsps']} | {s['ebrs']} ({pct(s['ebrs'], EBRS)}) "
            f"| {e['luts']:,} / {e['ffs']:,} / {e['dsps']} / {e['ebrs']} | {r['synth_s']} |"
        )
    lines += [
        "",
        "Estimate: search/resources.py. Its LUT and FF fit is calibrated on ECP5 (resource_fit.md) and "
        "its DSPs are the DSP plan's (hwgen/dsp_plan.py), which counts a 17 x 17 partial product as four "
        "16-bit DSPs where Yosys's `mul2dsp` uses one SB_MAC16 and builds the rest from LUTs; its block RAMs "
        "(`block_rams`) are counted per memory:",
        "",
        "| config | " + " | ".join(doc["results"][0]["ebr_model"]) + " | total | Yosys |",
        "|---|" + "---:|" * (len(doc["results"][0]["ebr_model"]) + 2),
    ]
    for r in doc["results"]:
        m = r["ebr_model"]
        lines.append(
            f"| {r['config']} | " + " | ".join(str(v) for v in m.values()) + f" | {sum(m.values())} "
            f"| {r['synth']['ebrs']} |"
        )
    for r in doc["results"]:
        total = {k: sum(b[k] for b in r["blocks"]) for k in ("luts", "ffs", "carries", "ebrs", "dsps")}
        lines += [
            "",
            f"## Where {r['config']}'s LUTs go",
            "",
            f"Yosys with the hierarchy kept ({r['blocks_s']} s; abc instead of abc9: {total['luts']:,} LUT4 and "
            f"{total['ffs']:,} FF in all, against {r['synth']['luts']:,} and {r['synth']['ffs']:,} flattened). "
            f"Block RAMs here are before the flattened run drops IMEM's unread bits (the controller's two "
            f"full 256-bit copies). {r['dsp_plan']}.",
            "",
            "| block | what | LUT4 | FF | SB_CARRY | SB_RAM40_4K | SB_MAC16 |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for b in r["blocks"]:
            lines.append(
                f"| `{b['block']}` | {BLOCKS.get(b['block'], '')} | {b['luts']:,} | {b['ffs']:,} | {b['carries']:,} "
                f"| {b['ebrs']} | {b['dsps']} |"
            )
        if r.get("pnr"):
            p = r["pnr"]
            lines += ["", f"nextpnr-ice40 (SG48, seed 1, P&R wrapper): {p['status']} after {p['seconds']} s."]
            if p.get("fmax_mhz"):
                lines.append(f"Fmax {p['fmax_mhz']:.1f} MHz.")
            if p.get("log_tail"):  # nextpnr's utilization and its error, from its log
                lines += ["", "```", *(ln.replace("Info: ", "").rstrip() for ln in p["log_tail"]), "```"]
            elif p.get("error"):
                lines += ["", "```", p["error"].strip(), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="nano,floor,tiny")
    ap.add_argument("--no-pnr", action="store_true")
    ap.add_argument("--report", action="store_true", help="only re-render ice40.md from ice40.json")
    args = ap.parse_args()
    if args.report:
        write(json.loads((RESULTS / "ice40.json").read_text()))
        return
    load0 = os.getloadavg()
    cfgs = configs()
    rows = [measure(n, cfgs[n], pnr=n == "nano" and not args.no_pnr) for n in args.configs.split(",")]
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    doc = {
        "env": {
            "command": " ".join(["benchmarks/bench_ice40.py", *sys.argv[1:]]),
            "git": git.strip(),
            "yosys": tool_release("yosys"),
            "load_average": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
        "results": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ice40.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    write(doc)


def write(doc: dict) -> None:
    """ice40.md from ``doc``, keeping the hand-written notes after :data:`NOTES`."""
    md = RESULTS / "ice40.md"
    old = md.read_text() if md.is_file() else ""
    text = markdown(doc) + ("\n" + old[old.index(NOTES) :] if NOTES in old else "")
    md.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
