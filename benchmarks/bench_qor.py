"""Quality of results per accelerator config on ECP5-85k: resources, routed Fmax, P&R minutes, and
frames per second of ResNet-18 and MobileNetV2 at 224, next to published FPGA anchors (issue 15).

For each config (the presets ``nano``, ``tiny``, ``small``, ``default`` and the co-search's
``cosearch-8x8-16K-bus64``):

* resources and Fmax: the newest row for that config in benchmarks/results/synth_ecp5.json (the
  ``fmax_steps`` log of ``bench_synth.py step`` first, then ``results`` of ``bench_synth.py run``),
  preferring ECP5-85k and a routed row; a config that was only synthesized, or whose P&R did not
  finish, keeps its LUT/FF/DSP/BRAM figures and says why it has no Fmax. Nothing is placed or
  routed here: run ``bench_synth.py step`` first (one nextpnr at a time on this machine).
* cycles: every layer mapped by the exact cost model (``search.mapper.map_graph``, objective
  latency) and the network timed by ``search.cost_model.network_cost`` at batch 1, 1x3x224x224
  (the cost model equals sim/machine and the RTL cycle for cycle: tests/search, bench_zoo,
  bench_verilator). DRAM latency is a config field in cycles, so cycles do not depend on the clock.
* FPS = routed Fmax / cycles (and, for comparison, at the config's own clock field); peak GMAC/s =
  PEs x routed Fmax. A config where a layer does not map at 224 records the scheduler's error.

The anchors are the figures issue 15 names, not re-measured here: VTA's 16x16 int8 GEMM core at
100 MHz on PYNQ (Zynq-7020), 25.6 GMAC/s peak; CFU-Playground's MobileNetV2 on Arty A7-35T,
about 197 M cycles per inference at 100 MHz, 0.51 FPS.

    .venv/bin/python benchmarks/bench_qor.py [--configs tiny,small] [--from-json]

Writes benchmarks/results/qor.md and .json (``--from-json`` re-renders the .md, and re-reads the
P&R rows, without re-mapping the networks).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SYNTH = RESULTS / "synth_ecp5.json"
STEM = "qor"
COSEARCH_8X8 = "cosearch-8x8-16K-bus64"
CONFIGS = ("nano", "tiny", "small", COSEARCH_8X8, "default")
MODELS = ("resnet18", "mobilenetv2")
SHAPE = (1, 3, 224, 224)
TARGET = "ecp5-85k"
ANCHORS = (
    {
        "design": "VTA, 16x16 int8 GEMM core",
        "part": "Zynq-7020 (PYNQ-Z1)",
        "clock_mhz": 100.0,
        "macs_per_cycle": 256,
        "note": "peak; Moreau et al., IEEE Micro 2019",
    },
    {
        "design": "CFU-Playground, MobileNetV2",
        "part": "Artix-7 35T (Arty A7)",
        "clock_mhz": 100.0,
        "mobilenetv2_cycles": 197_000_000,
        "note": "about 197 M cycles per inference; Prakash et al., ISPASS 2023",
    },
)

Row = dict[str, Any]


def config(name: str):  # type: ignore[no-untyped-def]
    """A preset by name, or the co-search's 8x8 config (the one `dian search` derives on ecp5-85k)."""
    from dian.hwgen.presets import PRESETS

    if name in PRESETS:
        return PRESETS[name]
    if name == COSEARCH_8X8:
        from dian.nas.hardware import hardware_space

        return next(o.cfg for o in hardware_space(TARGET).options() if o.cfg.name == name)
    raise SystemExit(f"unknown config {name!r}: a preset ({', '.join(PRESETS)}) or {COSEARCH_8X8}")


def _name(row: Row) -> str:
    return str(row.get("config") or row.get("preset") or "")


def pnr_row(name: str, synth: Row) -> Row | None:
    """The row that speaks for ``name``: on ECP5-85k before another part, then the newest
    (``started``), routed or not (an older RTL's Fmax does not speak for today's); None when the
    config was never synthesized. A step whose RTL was not kept (``reverted``) never speaks, nor one
    run with extra nextpnr arguments (a trial of the tool's settings, which `dian synth` does not use)."""
    steps = [r for r in synth.get("fmax_steps", []) if not r.get("reverted") and not r.get("pnr_args")]
    rows = [r for r in [*steps, *synth.get("results", [])] if _name(r) == name]
    if not rows:
        return None

    def rank(r: Row) -> tuple[bool, str]:
        return (r.get("target") == TARGET, str(r.get("started", "")))

    return max(rows, key=rank)


def hardware(name: str, synth: Row) -> Row:
    """Resources and Fmax of ``name`` from the P&R log, with where they came from."""
    r = pnr_row(name, synth)
    if r is None:
        return {"status": "not synthesized"}
    pnr_min = r.get("nextpnr_min")
    if pnr_min is None and r.get("place_and_route") and r.get("synth_pnr_s") is not None:
        pnr_min = r["synth_pnr_s"] / 60  # bench_synth.py run records Yosys and nextpnr together
    fmax = r.get("fmax_mhz")
    status = "routed" if fmax is not None else ("not routed: " + str(r.get("status", "synthesis only")))
    if fmax is None and not r.get("place_and_route", True):
        status = "synthesis only"
    return {
        "target": r.get("target"),
        "rtl_source": r.get("rtl_source"),
        "started": r.get("started"),
        "fmax_mhz": fmax,
        "luts": r.get("luts"),
        "ffs": r.get("ffs"),
        "dsps": r.get("dsps"),
        "brams": r.get("brams"),
        "pnr_min": pnr_min,
        "pnr_includes_yosys": r.get("nextpnr_min") is None,
        "status": status,
        "critical_path": r.get("critical_path"),
    }


def cycles(name: str, graphs: dict[str, Any]) -> Row:
    """Cycles of every model on ``name`` by the exact cost model, or the scheduler's error."""
    from dian.errors import ScheduleError
    from dian.search.cost_model import network_cost
    from dian.search.mapper import map_graph

    cfg = config(name)
    out: Row = {}
    for model, g in graphs.items():
        t = time.perf_counter()
        try:
            nc = network_cost(g, cfg, map_graph(g, cfg))
        except ScheduleError as e:
            out[model] = {"error": str(e).split("\n")[0]}
        else:
            out[model] = {"cycles": nc.cycles, "map_s": time.perf_counter() - t}
        print(f"  {name} {model}: {out[model]}", flush=True)
    return out


def measure(names: list[str]) -> list[Row]:
    from dian.frontend import calibration_samples, load_model, lower

    graphs = {}
    for model in MODELS:
        m = load_model(f"zoo:{model}")
        graphs[model] = lower(m.module, SHAPE, calibration_samples(m, SHAPE, 2, 0), model)[1]
    out = []
    for name in names:
        cfg = config(name)
        out.append(
            {
                "config": name,
                "pes": cfg.pe_rows * cfg.pe_cols,
                "clock_mhz": cfg.clock_mhz,
                "bus_bits": cfg.dram_bus_bits,
                "models": cycles(name, graphs),
            }
        )
    return out


def _n(v: Any, spec: str = ",") -> str:
    return "—" if v is None else format(v, spec)


def _commit(source: str | None) -> str:
    """The commit of an ``rtl_source`` such as "0eee42d (emitted ...), Yosys 0.69"."""
    return source.replace(",", " ").split()[0] if source else "—"


def markdown(rows: list[Row], env: Row) -> str:
    lines = [
        "# Quality of results per config on ECP5-85k",
        "",
        "Written by benchmarks/bench_qor.py. Resources, Fmax and P&R minutes are the newest kept row of each",
        "config in [synth_ecp5.md](synth_ecp5.md) (Yosys `synth_ecp5`, nextpnr-ecp5 at that row's seed, CABGA381",
        "speed 8); cycles are the exact cost model's at 1x3x224x224, batch 1 (equal to sim/machine and",
        "the RTL in Verilator). FPS = routed Fmax / cycles; the FPS at the config's clock field is in",
        "brackets. Goals (issue 15): Fmax >= 150 MHz for tiny, small and the 8x8; default routed at",
        f">= 125 MHz in <= 20 min of P&R. Cycles measured at code {env['git']}, {env['date']}.",
        "",
        "| config | PEs | bus | RTL | LUT4 | FF | DSP | BRAM | Fmax MHz | P&R min | peak GMAC/s "
        "| ResNet-18 cycles | ResNet-18 FPS | MobileNetV2 cycles | MobileNetV2 FPS |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        hw = r["hardware"]
        fmax = hw.get("fmax_mhz")
        cells = []
        for model in MODELS:
            c = r["models"].get(model, {})
            if "cycles" not in c:
                cells += ["does not map", "—"]
                continue
            at_clock = r["clock_mhz"] * 1e6 / c["cycles"]
            fps = "—" if fmax is None else f"{fmax * 1e6 / c['cycles']:.2f}"
            cells += [f"{c['cycles']:,}", f"{fps} ({at_clock:.2f})"]
        pnr = "—" if hw.get("pnr_min") is None else f"{hw['pnr_min']:.1f}" + (" *" if hw["pnr_includes_yosys"] else "")
        fmax_s = f"{fmax:.1f}" if fmax is not None else hw["status"]
        peak = "—" if fmax is None else f"{r['pes'] * fmax / 1000:.1f}"
        lines.append(
            f"| {r['config']} | {r['pes']} | {r['bus_bits']} | {_commit(hw.get('rtl_source'))} "
            f"| {_n(hw.get('luts'))} | {_n(hw.get('ffs'))} | {_n(hw.get('dsps'))} | {_n(hw.get('brams'))} "
            f"| {fmax_s} | {pnr} | {peak} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "`*`: Yosys and nextpnr together (`bench_synth.py run` does not time them apart). A row of an",
        "older RTL is older because that config was not synthesized again since; its row in",
        "synth_ecp5.md names the part (a row not on ECP5-85k is on the config's own target).",
        "",
        "## Published anchors (not measured here)",
        "",
        "| design | part | clock MHz | peak GMAC/s | MobileNetV2 FPS | source |",
        "|---|---|---:|---:|---:|---|",
    ]
    for a in ANCHORS:
        peak = f"{a['macs_per_cycle'] * a['clock_mhz'] / 1000:.1f}" if "macs_per_cycle" in a else "—"
        fps = f"{a['clock_mhz'] * 1e6 / a['mobilenetv2_cycles']:.2f}" if "mobilenetv2_cycles" in a else "—"
        lines.append(f"| {a['design']} | {a['part']} | {a['clock_mhz']:g} | {peak} | {fps} | {a['note']} |")
    return "\n".join(lines) + "\n"


def _env(argv: str) -> Row:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "hwgen", "search", "frontend", "ir"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "command": "benchmarks/bench_qor.py" + argv,
        "git": head.stdout.strip() + (" + uncommitted changes" if dirty else ""),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average": [round(x, 2) for x in os.getloadavg()[:2]],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--from-json", action="store_true", help="re-read the P&R rows; keep the committed cycles")
    args = p.parse_args()
    synth = json.loads(SYNTH.read_text())
    if args.from_json:
        doc = json.loads((RESULTS / f"{STEM}.json").read_text())
        env, rows = doc["env"], doc["results"]
    else:
        env = _env("" if args.configs == ",".join(CONFIGS) else f" --configs {args.configs}")
        rows = measure(args.configs.split(","))
    for r in rows:
        r["hardware"] = hardware(r["config"], synth)
    text = markdown(rows, env)
    print(text)
    (RESULTS / f"{STEM}.md").write_text(text)
    (RESULTS / f"{STEM}.json").write_text(json.dumps({"env": env, "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
