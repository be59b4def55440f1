"""The Fmax log of issue 15: one place-and-route *step* per RTL change, with its critical path.

A step emits a config's RTL (a preset, or the co-search's ``cosearch-8x8-16K-bus64``), synthesizes
it inside the P&R wrapper with Yosys ``synth_ecp5`` and places and routes it with nextpnr-ecp5
(fixed seed, the asked clock, optional extra nextpnr arguments) through
``hwgen.tools.synth.synthesize``, and records: Fmax, resources, Yosys and nextpnr wall minutes,
nextpnr's critical path (from, to, logic and routing ns) and the step's note (what changed). The
steps are kept in ``benchmarks/results/synth_ecp5.json`` (key ``fmax_steps``) and rendered as a
table into synth_ecp5.md by ``bench_synth.py``:

    .venv/bin/python benchmarks/bench_synth.py step --config tiny --target ecp5-85k --clock 150 \\
        --note "what changed"
    .venv/bin/python benchmarks/bench_synth.py report

Only one nextpnr runs at a time on the shared 2-core machine: run steps one after the other.
"""

from __future__ import annotations

import json
import os
import shlex
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "fmax_steps"
COSEARCH_8X8 = "cosearch-8x8-16K-bus64"


def config(name: str, ppu_rate: int | None = None):  # type: ignore[no-untyped-def]
    """A preset by name, the co-search's 8x8 config (the one `dian search` derives on ecp5-85k), or an
    accelerator .json file (e.g. the accel.json of a design `dian explore` chose); ``ppu_rate`` overrides
    the config's (the 16x16 array's route with its requantizer time-multiplexed)."""
    from dataclasses import replace

    from dian.hwgen.presets import PRESETS

    if name in PRESETS:
        cfg = PRESETS[name]
    elif name.endswith(".json"):
        from dian.hwgen.presets import load_accel_config

        cfg = load_accel_config(name)
    elif name == COSEARCH_8X8:
        from dian.nas.hardware import hardware_space

        cfg = next(o.cfg for o in hardware_space("ecp5-85k").options() if o.cfg.name == name)
    else:
        raise SystemExit(f"unknown config {name!r}: a preset ({', '.join(PRESETS)}), {COSEARCH_8X8} or a .json file")
    return cfg if ppu_rate is None else replace(cfg, ppu_rate=ppu_rate)


def config_label(name: str, ppu_rate: int | None) -> str:
    """The row's config: the name, and the ppu_rate when the step overrode it."""
    return name if ppu_rate is None else f"{name} (ppu_rate {ppu_rate})"


def run_step(
    name: str,
    target: str,
    clock: float,
    note: str,
    seed: int,
    pnr_args: str,
    timeout_min: float,
    rtl: str,
    ppu_rate: int | None = None,
) -> dict:
    """One step: emit, synthesize, place and route; the row for the log (also on failure)."""
    from bench_synth import critical_path

    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
    from dian.hwgen.tools.synth import synthesize

    cfg = config(name, ppu_rate)
    name = cfg.name  # a .json file's config by its own name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = BUILD / f"{name}{'' if ppu_rate is None else f'-r{ppu_rate}'}-{target}-{stamp}"
    row: dict = {
        "config": config_label(name, ppu_rate),
        "target": target,
        "clock_mhz": clock,
        "seed": seed,
        "pnr_args": pnr_args,
        "note": note,
        "rtl_source": rtl,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_before": list(os.getloadavg()),
        "build": str(folder.relative_to(REPO)),
    }
    files = emit_verilog(cfg, folder / "rtl")
    t0 = time.time()
    try:
        rep = synthesize(
            files,
            TOP_NAME,
            target,
            clock,
            folder / "build",
            seed=seed,
            pnr_args=tuple(shlex.split(pnr_args)),
            timeout_s=timeout_min * 60,
        )
        row.update(status="ok", fmax_mhz=rep.fmax_mhz, luts=rep.luts, ffs=rep.ffs, dsps=rep.dsps, brams=rep.brams)
        if rep.abc9_fallback:  # LUTs mapped by ABC: Yosys's ABC9 crashed on this netlist
            row["abc9_fallback"] = True
    except Exception as e:  # a stopped or failed P&R is a result too
        row.update(status="failed", error=f"{type(e).__name__}: {e}"[-1500:], traceback=traceback.format_exc()[-1500:])
    t1 = time.time()
    stat = folder / "build" / "stat.json"
    yosys_end = stat.stat().st_mtime if stat.is_file() else t1
    row["yosys_min"] = round((yosys_end - t0) / 60, 2)
    row["nextpnr_min"] = round((t1 - yosys_end) / 60, 2)
    row["load_after"] = list(os.getloadavg())
    log = folder / "build" / "nextpnr.log"
    row["critical_path"] = critical_path(log)
    row["placed_estimate"] = _placed_estimate(log)
    row.update(phase_minutes(log))
    if row["status"] != "ok" and stat.is_file():
        from dian.hwgen.tools.synth import _RESOURCES, _cell_types, _count

        ct = _cell_types(stat, "dian_accel_pnr")
        row.update({k: _count(ct, w) for k, w in _RESOURCES["ecp5"].items()})
    (folder / "step.json").write_text(json.dumps(row, indent=1, sort_keys=True) + "\n")
    return row


def _placed_estimate(log: Path) -> float | None:
    """nextpnr's Fmax estimate after placement (its first 'Max frequency' line)."""
    if not log.is_file():
        return None
    for ln in log.read_text(errors="replace").splitlines():
        if "Max frequency for clock" in ln:
            return float(ln.split("Max frequency for clock")[1].split(":")[1].split("MHz")[0])
    return None


def phase_minutes(log: Path) -> dict[str, float]:
    """Where nextpnr's time went (item 5 asks what each P&R change bought): ``place_min`` (HeAP plus
    the simulated-annealing refinement, or SA alone) and ``route_min`` (router1 or router2), from the
    times nextpnr logs at the end of each phase; a phase that did not finish is left out."""
    if not log.is_file():
        return {}
    marks = {
        "HeAP Placer Time:": "place_min",
        "SA placement time": "place_min",
        "Router1 time": "route_min",
        "Router2 time": "route_min",
    }
    seconds: dict[str, float] = {}
    for ln in log.read_text(errors="replace").splitlines():
        for mark, key in marks.items():
            if mark in ln:
                seconds[key] = seconds.get(key, 0.0) + float(ln.split(mark)[1].strip().rstrip("s"))
    return {key: round(s / 60, 2) for key, s in seconds.items()}


def _minutes(s: dict) -> str:
    """The nextpnr-minutes cell: the total, and its placement and routing parts where the log had them."""
    parts = [f"{name} {s[key]:.1f}" for name, key in (("place", "place_min"), ("route", "route_min")) if key in s]
    return f"{s['nextpnr_min']:.1f}" + (f" ({', '.join(parts)})" if parts else "")


def table(steps: list[dict]) -> list[str]:
    """The Markdown section of the log, one table per config and target, steps in run order."""
    if not steps:
        return []
    out = [
        "",
        "## Fmax steps (issue 15)",
        "",
        "Each row is one place and route of the RTL it names (`bench_synth.py step`): Yosys `synth_ecp5` in the "
        "P&R wrapper, nextpnr-ecp5 with the seed and the extra arguments shown, the clock asked. Fmax is "
        "nextpnr's routed figure (after placement in brackets); minutes are wall time on the shared 2-core "
        "machine (load average before the run), nextpnr's with its placement and routing phases where its log "
        "timed them; the critical path is nextpnr's, clk to clk.",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for s in steps:
        groups.setdefault((s["config"], s["target"]), []).append(s)
    for (name, target), rows in groups.items():
        out += [
            "",
            f"### {name} on {target}",
            "",
            "| RTL | change | nextpnr args | Fmax MHz | LUT4 | FF | DSP | DP16KD | Yosys min | nextpnr min "
            "| load | critical path (ns logic + routing) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in rows:
            fmax = "" if s.get("fmax_mhz") is None else f"{s['fmax_mhz']:.1f}"
            if s.get("placed_estimate") is not None:
                fmax += f" ({s['placed_estimate']:.1f})"
            if s["status"] != "ok":
                fmax += " " + ("stopped" if "did not finish" in s.get("error", "") else "failed")
            cp = s.get("critical_path") or {}
            path = f"`{cp['from']}` -> `{cp['to']}` ({cp['split']})" if cp else ""
            args = " ".join([f"--seed {s['seed']}", s["pnr_args"]]).strip()
            note = s["note"] + ("; LUTs mapped by ABC (Yosys's ABC9 crashed)" if s.get("abc9_fallback") else "")
            out.append(
                f"| {s['rtl_source']} | {note} | {args} "
                f"| {fmax} | {_n(s.get('luts'))} | {_n(s.get('ffs'))} | {_n(s.get('dsps'))} | {_n(s.get('brams'))} "
                f"| {s['yosys_min']:.1f} | {_minutes(s)} | {s['load_before'][0]:.1f} | {path} |"
            )
    return out


def _n(v) -> str:  # type: ignore[no-untyped-def]
    return "" if v is None else f"{v:,}"


def arguments(p) -> None:  # type: ignore[no-untyped-def]
    """``bench_synth.py step``'s options."""
    p.add_argument("--config", default="tiny", help=f"a preset, {COSEARCH_8X8} or an accelerator .json file")
    p.add_argument("--target", default="ecp5-85k")
    p.add_argument("--clock", type=float, default=150.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pnr-args", default="", help="extra nextpnr-ecp5 arguments")
    p.add_argument("--timeout-min", type=float, default=60.0, help="per tool")
    p.add_argument("--note", default="", help="what this step changed")
    p.add_argument("--ppu-rate", type=int, default=None, help="override the config's ppu_rate (1, 2 or 4)")


def step(args, rtl: str) -> dict:  # type: ignore[no-untyped-def]
    """Run the step ``args`` describe and print its row."""
    row = run_step(
        args.config, args.target, args.clock, args.note, args.seed, args.pnr_args, args.timeout_min, rtl, args.ppu_rate
    )
    print(json.dumps({k: v for k, v in row.items() if k != "traceback"}, indent=1), flush=True)
    return row
