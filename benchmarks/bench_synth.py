"""Yosys / nextpnr resources and Fmax of the generated accelerator on its ECP5 target.

For each preset (default: ``small`` and ``default``): emit the RTL
(``hwgen.rtl.emit.emit_verilog``), synthesize it with ``synth_ecp5`` inside the
P&R wrapper and place and route it with nextpnr-ecp5 (CABGA381, speed 8) for
the preset's own target (``tiny``: ecp5-25k; ``small``, ``default``: ecp5-85k)
at the preset's clock through ``hwgen.tools.synth.synthesize``. Goal (issue 4): Fmax
>= the preset's clock, and the design fits the target's DSPs and LUTs (the
target table ``hwgen.accel_config.TARGET_FABRIC``). A P&R that fails (e.g.
more multipliers than the device has) is a result: the synthesis figures
(Yosys ``stat``, which ``synthesize`` writes before nextpnr starts) and the
tail of nextpnr's log are recorded. Rows already in the results .json whose
build folder is gone are kept; those without a ``dsp_plan`` were made before
the DSP plan (hwgen/dsp_plan.py), when every product had its own DSP.

    .venv/bin/python benchmarks/bench_synth.py run [--presets small,default] [--synth-only]
    .venv/bin/python benchmarks/bench_synth.py report
    .venv/bin/python benchmarks/bench_synth.py step --config tiny --target ecp5-85k --clock 150 --note "..."

``step`` is one entry of the Fmax log (benchmarks/fmax_steps.py), kept in the .json's
``fmax_steps`` and rendered as its own section.

``run`` writes ``build/bench_synth/<preset>[-synth]/result.json`` per preset as
it finishes (so several presets can run as separate background processes);
``report`` gathers whatever exists there, including runs still in progress
(synthesis done, nextpnr running), into benchmarks/results/synth_ecp5.md and
.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
import traceback
from pathlib import Path

import fmax_steps

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
BUILD = REPO / "build" / "bench_synth"
DP16KD = {"ecp5-25k": 56, "ecp5-85k": 208}  # the TARGET_RAM_BYTES table in EBRs


def rtl_source() -> str:
    """The commit the RTL is emitted from, and whether hwgen/ has uncommitted changes."""
    import subprocess

    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "hwgen"], cwd=REPO, capture_output=True, text=True).stdout
    from dian.hwgen.tools.toolchain import tool_release

    return head + (" + uncommitted hwgen/ changes" if dirty.strip() else "") + f", Yosys {tool_release('yosys')}"


def _nodsp_render_to():
    """``render_to`` of hwgen.tools.synth with ``synth_ecp5 -nodsp``: every multiplier in LUTs (a variant, to get an
    Fmax for a design with more multipliers than the device has MULT18X18D)."""
    import dian.hwgen.tools.synth as synth

    orig = synth.render_to

    def render_to(template, path, **kw):
        orig(template, path, **kw)
        if template.startswith("yosys_ecp5"):
            p = Path(path)
            p.write_text(p.read_text().replace("synth_ecp5 -top", "synth_ecp5 -nodsp -top"))

    synth.render_to = render_to


def run(preset: str, synth_only: bool, nodsp: bool = False) -> dict:
    from dian.hwgen.dsp_plan import plan_dsps
    from dian.hwgen.presets import PRESETS
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
    from dian.hwgen.tools.synth import synthesize

    cfg = PRESETS[preset]
    target = cfg.target.value
    if nodsp:
        _nodsp_render_to()
    folder = BUILD / (preset + ("-synth" if synth_only else "") + ("-nodsp" if nodsp else ""))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").unlink(missing_ok=True)
    out: dict = {
        "preset": preset + (" (-nodsp)" if nodsp else ""),
        "nodsp": nodsp,
        "target": target,
        "clock_mhz": cfg.clock_mhz,
        "place_and_route": not synth_only,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "dsp_plan": plan_dsps(cfg).describe(),
    }
    out["rtl_source"] = rtl_source()
    (folder / "rtl_source.txt").write_text(out["rtl_source"] + "\n")
    (folder / "meta.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    t0 = time.perf_counter()
    files = emit_verilog(cfg, folder / "rtl")
    out["emit_s"] = time.perf_counter() - t0
    out["verilog_bytes"] = sum(f.stat().st_size for f in files)
    t1 = time.perf_counter()
    try:
        rep = synthesize(files, TOP_NAME, target, cfg.clock_mhz, folder / "build", place_and_route=not synth_only)
        out.update(
            status="ok",
            cells=rep.cells,
            luts=rep.luts,
            ffs=rep.ffs,
            dsps=rep.dsps,
            brams=rep.brams,
            fmax_mhz=rep.fmax_mhz,
            meets_timing=rep.meets_timing,
            utilization=rep.utilization,
            cell_types=rep.cell_types,
            summary=rep.summary(),
            wrapper=None if rep.wrapper is None else {"luts": rep.wrapper.luts, "ffs": rep.wrapper.ffs},
        )
    except Exception as e:
        out.update(status="failed", error=f"{type(e).__name__}: {e}"[:3000], traceback=traceback.format_exc()[-3000:])
        partial = _from_build(folder)  # the synthesis figures, when Yosys finished
        out.update({k: v for k, v in partial.items() if k not in ("status", "preset", "target", "place_and_route")})
    out["synth_pnr_s"] = time.perf_counter() - t1
    (folder / "result.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    return out


def _from_build(folder: Path) -> dict:
    """What a build folder holds (a run in progress or killed): Yosys stat, nextpnr log tail."""
    from dian.hwgen.tools.synth import _RESOURCES, _cell_types, _count

    b = folder / "build"
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
    out: dict = {
        "preset": folder.name.replace("-synth", ""),
        "target": "?",
        "place_and_route": "-synth" not in folder.name,
        **meta,
        "status": "Yosys not finished",
    }
    stat = b / "stat.json"
    if stat.is_file():
        top = "dian_pnr_top" if out["place_and_route"] else None
        data = json.loads(stat.read_text())
        mods = data.get("modules", {})
        name = top if top and ("\\" + top in mods or top in mods) else None
        try:
            ct = _cell_types(stat, name or next(iter(mods)).lstrip("\\"))
        except Exception:
            ct = {}
        out.update(cells=sum(ct.values()), cell_types=ct, **{k: _count(ct, w) for k, w in _RESOURCES["ecp5"].items()})
        out["status"] = "synthesized; nextpnr not finished" if out["place_and_route"] else "incomplete"
    log = b / "nextpnr.log"
    if log.is_file():
        out["nextpnr_log_tail"] = log.read_text(errors="replace").splitlines()[-15:]
    return out


def mult_breakdown(netlist: Path) -> dict[str, int]:
    """MULT18X18D cells by the block of the accelerator they implement (from their hierarchical names)."""
    if not netlist.is_file():
        return {}
    blocks = (("gemm.array", "PE array (hwgen/rtl/pe_array.py)"), ("cmp.requant", "PPURequant"), ("cmp.add", "PPUAdd"))
    out: dict[str, int] = {}
    for m in json.loads(netlist.read_text())["modules"].values():
        for name, cell in m["cells"].items():
            if cell["type"] == "MULT18X18D":
                label = next((lab for key, lab in blocks if key in name), "other")
                out[label] = out.get(label, 0) + 1
    return out


def critical_path(log: Path) -> dict | None:
    """The last clk->clk critical path nextpnr reported: start, end, logic and routing ns, cells on it."""
    if not log.is_file():
        return None
    lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, ln in enumerate(lines) if "Critical path report for clock" in ln and "posedge -> posedge" in ln]
    if not starts:
        return None
    src, sink, split, hops = None, None, None, 0
    for ln in lines[starts[-1] + 1 :]:
        parts = ln.split()
        if "Source" in parts:
            src = src or parts[parts.index("Source") + 1]
            hops += 1
        if "Sink" in parts:
            sink = parts[parts.index("Sink") + 1]
        if "ns logic," in ln:
            split = ln.replace("Info:", "").strip()
            break
    return {"from": src, "to": sink, "split": split, "cells": hops}


def last_fmax_estimate(log: Path) -> str | None:
    """nextpnr's latest 'Max frequency' line (after placement it is an estimate before routing)."""
    if not log.is_file():
        return None
    found = [
        ln.replace("Info:", "").strip()
        for ln in log.read_text(errors="replace").splitlines()
        if "Max frequency for clock" in ln
    ]
    return found[-1] if found else None


def pnr_packed(log: Path) -> dict[str, str]:
    """nextpnr's first 'Device utilisation' table (after packing, before placement), cells in use only."""
    if not log.is_file():
        return {}
    out: dict[str, str] = {}
    lines = log.read_text(errors="replace").splitlines()
    i = next((k for k, ln in enumerate(lines) if "Device utilisation" in ln), None)
    for ln in lines[i + 1 :] if i is not None else []:
        m = re.match(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", ln)
        if not m:
            break
        if int(m.group(2)):
            out[m.group(1)] = f"{m.group(2)}/{m.group(3)}"
    return out


def collect() -> list[dict]:
    rows = []
    for folder in sorted(f for f in BUILD.glob("*") if f.is_dir()) if BUILD.is_dir() else []:
        res = folder / "result.json"
        rows.append(json.loads(res.read_text()) if res.is_file() else _from_build(folder))
        if rows[-1].get("luts") is None:
            rows[-1].update(
                {
                    k: v
                    for k, v in _from_build(folder).items()
                    if k not in ("status", "preset", "target", "place_and_route")
                }
            )
        rows[-1]["mult18_by_block"] = mult_breakdown(folder / "build" / "netlist.json")
        packed = pnr_packed(folder / "build" / "nextpnr.log")
        if packed:
            rows[-1]["pnr_packed"] = packed
        est = last_fmax_estimate(folder / "build" / "nextpnr.log")
        if est and rows[-1].get("fmax_mhz") is None:
            rows[-1]["fmax_estimate"] = est
        cp = critical_path(folder / "build" / "nextpnr.log")
        if cp:
            rows[-1]["critical_path"] = cp
        src = folder / "rtl_source.txt"
        if src.is_file() and not rows[-1].get("rtl_source"):
            rows[-1]["rtl_source"] = src.read_text().strip()
        log = folder / "build" / "nextpnr.log"
        if log.is_file() and "nextpnr_log_tail" not in rows[-1]:
            rows[-1]["nextpnr_log_tail"] = log.read_text(errors="replace").splitlines()[-15:]
    return rows


def previous_rows(rows: list[dict]) -> list[dict]:
    """Rows of the results .json made by earlier runs whose build folders are gone (another worktree's, or
    cleaned), unless a current row has the same preset, target and RTL; rows from before the per-preset
    target were all ecp5-85k."""
    old = RESULTS / "synth_ecp5.json"
    if not old.is_file():
        return []
    have = {(r["preset"], r.get("target"), r.get("rtl_source")) for r in rows}
    kept = []
    for r in json.loads(old.read_text()).get("results", []):
        r.setdefault("target", "ecp5-85k")
        if (r["preset"], r["target"], r.get("rtl_source")) not in have:
            kept.append(r)
    return kept


def _fmt(v, spec=","):
    return "" if v is None else format(v, spec)


def _device(target: str) -> dict[str, int]:
    from dian.hwgen.targets import TARGET_FABRIC, Target

    fabric = TARGET_FABRIC[Target(target)]
    return {"LUT4": fabric.luts, "TRELLIS_FF": fabric.luts, "MULT18X18D": fabric.dsps, "DP16KD": DP16KD[target]}


def _fits(r: dict) -> str:
    """Whether the synthesized design fits its target's DSPs, LUTs and block RAMs."""
    if r.get("target") not in DP16KD or r.get("luts") is None:
        return ""
    dev = _device(r["target"])
    over = [
        f"{name} {r[key]:,} > {dev[cell]:,}"
        for key, cell, name in (("dsps", "MULT18X18D", "DSP"), ("luts", "LUT4", "LUT"), ("brams", "DP16KD", "BRAM"))
        if (r.get(key) or 0) > dev[cell]
    ]
    return "no: " + ", ".join(over) if over else "yes"


def markdown(rows: list[dict]) -> str:
    targets = sorted({r["target"] for r in rows if r.get("target") in DP16KD})
    lines = [
        "# Synthesis and place & route on ECP5",
        "",
        "Targets: "
        + "; ".join(
            f"`{t}` (LFE5U-{t.split('-')[1].upper()[:-1]}F, CABGA381, speed 8): {_device(t)['LUT4']:,} LUT4, "
            f"{_device(t)['TRELLIS_FF']:,} FF, {_device(t)['MULT18X18D']} MULT18X18D, {_device(t)['DP16KD']} DP16KD"
            for t in targets
        )
        + ". "
        "Each preset on its own target (`tiny`: ecp5-25k; `small`, `default`: ecp5-85k). "
        "Yosys `synth_ecp5` + nextpnr-ecp5 (YoWASP builds) through `hwgen.tools.synth.synthesize`, seed 1, "
        "clock asked = the preset's. Goal: Fmax >= that clock, and the design fits the target.",
        "With P&R the figures include the P&R wrapper (`hwgen/tools/pnr_wrapper.py`: serializes the wide DRAM "
        "port and counters to a few pins); synthesis-only rows are the design alone.",
        "Rows marked *before the DSP plan* were made before hwgen/dsp_plan.py, when every product had its own "
        "DSP; the others build the products the plan leaves without a DSP from LUTs (hwgen/rtl/multiplier.py).",
        "Every row is a record of the RTL commit it names. Since then (issue 12) the DSP plan no longer reserves "
        'DSPs for control products (plans quoted as "N for control products" were printed then), REQUANT is gone, '
        "and branch `wip-add` was deleted unmerged (its commit 6812294 is not in the repository; PPUAdd's "
        "pipelining is redone in the hardware-quality issue).",
        "Rows made since 2026-12-03 name their Yosys release: the pin went from 0.70 back to 0.69, whose ABC9 "
        "did not crash on the bare 8x8 config `dian search` derives (tests/hwgen/tools/test_synth_small.py); the "
        "same RTL's netlist differs between the two (tiny at 005b8af and 994d345, the same RTL: 101.1 MHz with "
        "0.70, 105.9 with 0.69). 0.69's ABC9 does crash on that config inside the P&R wrapper (2026-12-05): "
        "then hwgen/tools/synth.py maps the LUTs with ABC instead, and the row says so. "
        "Earlier rows ran the release pinned then (0.70 for the AXI-bus rows).",
        "",
        "| preset | target | RTL from | P&R | status | fits | LUT4 (incl. carry, DPR) | FF | DSP (MULT18X18D+ALU54B) "
        "| DP16KD | Fmax MHz | goal | wall s |",
        "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        clock = r.get("clock_mhz") or 150.0
        goal = "" if r.get("fmax_mhz") is None else ("meets" if r["fmax_mhz"] >= clock else "MISSES")
        if r.get("place_and_route") and r.get("fmax_mhz") is None:
            goal = (
                "no Fmax: P&R failed"
                if r["status"] == "failed"
                else "no Fmax: routing stopped unfinished"
                if r["status"] == "stopped in routing"
                else "no Fmax: P&R did not finish in the time the benchmark had"
            )
        if r.get("fmax_mhz") is not None:
            goal += f" ({clock:g} MHz)"
        before = "" if r.get("dsp_plan") else " (before the DSP plan)"
        lines.append(
            f"| {r['preset']}{before} | {r.get('target', '?')} | {r.get('rtl_source', '?')} "
            f"| {'yes' if r.get('place_and_route') else 'synth only'} | {r['status']} "
            f"| {_fits(r)} | {_fmt(r.get('luts'))} | {_fmt(r.get('ffs'))} | {_fmt(r.get('dsps'))} "
            f"| {_fmt(r.get('brams'))} "
            f"| {_fmt(r.get('fmax_mhz'), '.1f')} | {goal} | {_fmt(r.get('synth_pnr_s'), '.0f')} |"
        )
    if any("no DwUnit" in (r.get("rtl_source") or "") for r in rows):
        lines += [
            "",
            "Rows whose RTL is marked *no DwUnit* were emitted while the depthwise RTL was being committed "
            "(884d61f adds hwgen/rtl/dw_unit.py and the PE array's DW mode); they are the accelerator without it. "
            "For `default` both versions are shown (the DW unit adds about 2.4k LUT4 and 4.3k FF there). "
            "`small`'s P&R (25 min on this shared 2-core machine) was not repeated with the DW unit.",
        ]
    if any(r.get("nodsp") or "nodsp" in r["preset"] for r in rows):
        lines += [
            "",
            "`-nodsp`: the same flow with `synth_ecp5 -nodsp` (every multiplier in LUTs), to see whether "
            "`default` fits and what Fmax it reaches without the 156-DSP limit.",
        ]
    for r in rows:
        ct = r.get("cell_types") or {}
        if ct:
            mult = ct.get("MULT18X18D", 0)
            by = r.get("mult18_by_block") or {}
            dev = _device(r["target"]) if r.get("target") in DP16KD else {"MULT18X18D": 0}
            lines += [
                "",
                f"## {r['preset']} on {r.get('target', '?')} "
                f"({'P&R' if r.get('place_and_route') else 'synthesis only'}), "
                f"RTL {(r.get('rtl_source') or '?').split()[0].rstrip(',')}"
                + (f", Yosys {r['rtl_source'].split('Yosys ')[1]}" if "Yosys " in (r.get("rtl_source") or "") else ""),
                "",
                "Cell types: " + ", ".join(f"{k} {v:,}" for k, v in sorted(ct.items(), key=lambda kv: -kv[1])) + ".",
                f"MULT18X18D: {mult} of {dev['MULT18X18D']} on the device"
                + (" -> does not fit" if mult > dev["MULT18X18D"] else "")
                + (" (" + ", ".join(f"{k} {v}" for k, v in by.items()) + ")" if by else "")
                + ".",
            ]
            if r.get("dsp_plan"):
                lines.append(r["dsp_plan"] + ".")
        if r.get("critical_path"):
            cp = r["critical_path"]
            lines.append(f"Critical path ({cp['cells']} cells; {cp['split']}): from `{cp['from']}` to `{cp['to']}`.")
        if r.get("utilization"):
            lines.append(
                "nextpnr utilization: "
                + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r["utilization"].items())
                + "."
            )
        if r.get("fmax_estimate"):
            lines.append(f"nextpnr's last timing estimate (placement, before routing finished): {r['fmax_estimate']}.")
        if r.get("pnr_packed") and r.get("status") != "ok":
            lines.append(
                "nextpnr after packing (used/available): "
                + ", ".join(f"{k} {v}" for k, v in r["pnr_packed"].items())
                + "."
            )
        if r.get("error"):
            lines += ["", "Error:", "", "```", r["error"].strip()[-1500:], "```"]
        if r.get("nextpnr_log_tail") and r.get("status") != "ok":
            lines += ["", "Last lines of nextpnr.log:", "", "```", *r["nextpnr_log_tail"], "```"]
    return "\n".join(lines) + "\n"


#: The line that opens the hand-written part of synth_ecp5.md (Fmax investigations with no JSON row):
#: a rerun regenerates everything above it and keeps everything from it on.
NOTES_MARK = "<!-- hand-written notes: bench_synth.py keeps this line and what follows -->"


def hand_notes(md: Path) -> str:
    """The hand-written tail of ``md`` from :data:`NOTES_MARK` on ("" if it has none)."""
    text = md.read_text() if md.is_file() else ""
    i = text.find(NOTES_MARK)
    return "" if i < 0 else "\n" + text[i:]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("run", "report", "step"))
    p.add_argument("--presets", default="small,default")
    p.add_argument("--synth-only", action="store_true")
    p.add_argument("--nodsp", action="store_true", help="synth_ecp5 -nodsp (multipliers in LUTs)")
    fmax_steps.arguments(p)
    args = p.parse_args()
    old_json = RESULTS / "synth_ecp5.json"
    steps = json.loads(old_json.read_text()).get("fmax_steps", []) if old_json.is_file() else []
    if args.mode == "step":
        steps.append(fmax_steps.step(args, rtl_source()))
    if args.mode == "run":
        for preset in args.presets.split(","):
            r = run(preset, args.synth_only, args.nodsp)
            print(
                json.dumps({k: v for k, v in r.items() if k not in ("cell_types", "traceback")}, indent=1), flush=True
            )
    rows = collect()
    rows += previous_rows(rows)
    text = markdown(rows) + "\n".join([*fmax_steps.table(steps), ""]) + hand_notes(RESULTS / "synth_ecp5.md")
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synth_ecp5.md").write_text(text)
    load = (  # the machine's load when it last ran a build, not when a report was rendered
        os.getloadavg()
        if args.mode == "run" or not old_json.is_file()
        else json.loads(old_json.read_text()).get("load_average")
    )
    (RESULTS / "synth_ecp5.json").write_text(
        json.dumps(
            {"devices": {t: _device(t) for t in DP16KD}, "load_average": load, "results": rows, "fmax_steps": steps},
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
