"""Calibrate search/resources.py: synthesize a set of accelerator configs with
Yosys ``synth_ecp5`` (no place and route) and fit LUTs and flip-flops to the
features of ``search.resources.features`` by least squares.

The LUTs fitted are the measured ones minus the DSP plan's estimate of the
LUT-built products (hwgen/dsp_plan.py), so the model separates what the DSP
budget moves into LUTs from the rest of the design. Writes
``search/resource_fit.json`` (coefficients, every config with its measured
and fitted figures, the fit's relative errors) and
``benchmarks/results/resource_fit.md``. A config's synthesis is reused while
its Verilog is unchanged (``build/calibrate/<name>/``).

    .venv/bin/python benchmarks/calibrate_resources.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dian.hwgen.accel_config import AccelConfig, BufferConfig, Dataflow, validate  # noqa: E402
from dian.hwgen.dsp_plan import plan_dsps  # noqa: E402
from dian.hwgen.presets import PRESETS  # noqa: E402
from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog  # noqa: E402
from dian.hwgen.targets import Target  # noqa: E402
from dian.hwgen.tools.synth import synthesize  # noqa: E402
from dian.hwgen.tools.toolchain import tool_release  # noqa: E402
from dian.search.resources import FEATURES, FIT_FILE, bram_blocks, features  # noqa: E402

YOSYS = tool_release("yosys")

BOTH = (Dataflow.GEMM, Dataflow.DEPTHWISE)
HELD_OUT = frozenset({"nano"})


def _cfg(
    name: str,
    lanes: int,
    bus: int,
    imem: int,
    kib: int,
    target: Target = Target.ECP5_85K,
    dataflows: tuple[Dataflow, ...] = BOTH,
) -> AccelConfig:
    b = kib * 1024
    return validate(
        AccelConfig(
            name=name,
            pe_rows=lanes,
            pe_cols=lanes,
            dataflows=dataflows,
            ibuf=BufferConfig(b),
            wbuf=BufferConfig(b // 2),
            abuf=BufferConfig(b),
            obuf=BufferConfig(b // 4),
            dram_bus_bits=bus,
            dram_latency=16,
            target=target,
            clock_mhz=100.0,
            imem_instructions=imem,
        )
    )


#: Configs spanning the features: lanes 2..16, IMEM 64..1024, bus 16..128 bits; the presets.
#: HELD_OUT ones are measured and predicted but not fitted: ``nano`` leaves out what the features
#: do not describe (the depthwise unit, 8 accumulator bits), so the fit's error on it is stated,
#: not fitted away.
CONFIGS: list[AccelConfig] = [
    _cfg("l2-b16-i128", 2, 16, 128, 4),
    _cfg("l4-b32-i256", 4, 32, 256, 4),
    _cfg("l4-b16-i512", 4, 16, 512, 8),
    _cfg("l8-b64-i256", 8, 64, 256, 16),
    _cfg("l8-b32-i1024", 8, 32, 1024, 16),
    _cfg("l2-b16-i512", 2, 16, 512, 8),
    dataclasses.replace(PRESETS["nano"], name="nano"),
    dataclasses.replace(PRESETS["tiny"], name="tiny"),
    dataclasses.replace(PRESETS["small"], name="small"),
    dataclasses.replace(PRESETS["default"], name="default"),
]


def _synth(cfg: AccelConfig, folder: Path) -> dict[str, int]:
    rtl = folder / "rtl"
    files = emit_verilog(cfg, rtl)
    # The Yosys release is part of the key: its netlists differ (0.69 and 0.70 by ~5 % in LUTs).
    key = cfg.target.value + " yosys " + YOSYS
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in sorted(files)) + key.encode()).hexdigest()
    cache = folder / "report.json"
    if cache.is_file():
        doc = json.loads(cache.read_text())
        if doc.get("sha256") == digest:
            return doc["figures"]
    t0 = time.perf_counter()
    rep = synthesize(files, TOP_NAME, cfg.target.value, cfg.clock_mhz, folder / "build", place_and_route=False)
    figures = {
        "luts": int(rep.luts or 0),
        "ffs": int(rep.ffs or 0),
        "dsps": int(rep.dsps or 0),
        "brams": int(rep.brams or 0),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    cache.write_text(json.dumps({"sha256": digest, "figures": figures}, indent=1) + "\n")
    return figures


def _num(v: int | None) -> str:
    return "" if v is None else f"{v:,}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="synthesize only these configs (the fit uses every cached one)")
    args = ap.parse_args()
    rows = []
    for cfg in CONFIGS:
        folder = ROOT / "build" / "calibrate" / cfg.name
        folder.mkdir(parents=True, exist_ok=True)
        if args.only and cfg.name not in args.only and not (folder / "report.json").is_file():
            continue
        print(f"synth_ecp5 {cfg.name} ({cfg.lanes}x{cfg.lanes}, {cfg.target.value}) ...", flush=True)
        fig = _synth(cfg, folder)
        plan = plan_dsps(cfg)
        rows.append((cfg, fig, plan))
        print(f"  {fig}", flush=True)
    # The previous calibration's measurements, shown beside the new ones (what the RTL changed).
    before = json.loads(FIT_FILE.read_text()) if FIT_FILE.is_file() else {"configs": [], "rtl_commit": "-"}
    before_by_name = {c["name"]: c["measured"] for c in before["configs"]}
    X = np.array([features(c) for c, _, _ in rows])
    fitted = np.array([c.name not in HELD_OUT for c, _, _ in rows])
    fit: dict[str, object] = {"features": list(FEATURES), "configs": [], "held_out": {}}
    for key, minus in (("luts", lambda p: p.lut_product_luts), ("ffs", lambda p: 0)):
        y = np.array([f[key] - minus(p) for _, f, p in rows], dtype=float)
        coef, *_ = np.linalg.lstsq(X[fitted], y[fitted], rcond=None)
        pred = X @ coef + np.array([minus(p) for _, _, p in rows])
        meas = np.array([f[key] for _, f, _ in rows], dtype=float)
        rel = np.abs(pred - meas) / meas
        fit[key] = {
            "coef": [round(float(c), 3) for c in coef],
            "max_rel_error": round(float(rel[fitted].max()), 4),
            "mean_rel_error": round(float(rel[fitted].mean()), 4),
        }
        for i, (cfg, _, _) in enumerate(rows):
            if not fitted[i]:  # signed: the estimate's error on a config the fit never saw
                err = round(float((pred[i] - meas[i]) / meas[i]), 4)
                fit["held_out"].setdefault(cfg.name, {})[key] = err  # type: ignore[union-attr]
        for i, (cfg, f, p) in enumerate(rows):
            if key == "luts":
                fit["configs"].append(
                    {
                        "name": cfg.name,
                        "lanes": cfg.lanes,
                        "target": cfg.target.value,  # type: ignore[union-attr]
                        "measured": f,
                        "plan_dsps": p.dsps,
                        "plan_lut_luts": p.lut_product_luts,
                        "bram_estimate": bram_blocks(cfg),
                    }
                )
            fit["configs"][i][f"{key}_fitted"] = round(float(pred[i]))  # type: ignore[index]
    bram_err = [abs(c["bram_estimate"] - c["measured"]["brams"]) / c["measured"]["brams"] for c in fit["configs"]]  # type: ignore[union-attr]
    fit["brams"] = {"max_rel_error": round(max(bram_err), 4), "mean_rel_error": round(sum(bram_err) / len(bram_err), 4)}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    fit["rtl_commit"] = commit.strip()
    fit["yosys"] = YOSYS
    FIT_FILE.write_text(json.dumps(fit, indent=1, sort_keys=True) + "\n")
    lines = [
        "# Resource model calibration (Yosys synth_ecp5, no place and route)",
        "",
        f"Command: `.venv/bin/python benchmarks/calibrate_resources.py`; RTL {fit['rtl_commit']}, Yosys {YOSYS}; "
        f"load average {os.getloadavg()[0]:.1f}. Model (search/resources.py): LUTs = features . coef + the DSP "
        f"plan's LUT-built products; FFs = features . coef; features {', '.join(FEATURES)}.",
        "",
        f"Fit: LUTs max relative error {100 * fit['luts']['max_rel_error']:.1f} % (mean "  # type: ignore[index]
        f"{100 * fit['luts']['mean_rel_error']:.1f} %), FFs max {100 * fit['ffs']['max_rel_error']:.1f} % "  # type: ignore[index]
        f"(mean {100 * fit['ffs']['mean_rel_error']:.1f} %) over {int(fitted.sum())} configs; block RAMs (not fitted: "  # type: ignore[index]
        f"counted per memory from its shape, `block_rams`) max {100 * fit['brams']['max_rel_error']:.1f} % (mean "  # type: ignore[index]
        f"{100 * fit['brams']['mean_rel_error']:.1f} %)."  # type: ignore[index]
        + "".join(
            f" Held out of the fit (measured, predicted, not fitted): {name}, LUTs {100 * e['luts']:+.1f} %, "
            f"FFs {100 * e['ffs']:+.1f} %."
            for name, e in fit["held_out"].items()  # type: ignore[union-attr]
        ),
        "",
        f"*Before*: the previous calibration's measurements (RTL {before['rtl_commit']}, "
        f"Yosys {before.get('yosys', '0.70')}): what the RTL and the Yosys release changed.",
        "",
        "| config | PEs | target | LUTs | before | fitted | FFs | before | fitted | DSPs | planned | BRAMs | before "
        "| estimated | synth s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in fit["configs"]:  # type: ignore[union-attr]
        m, b = c["measured"], before_by_name.get(c["name"], {})
        name = c["name"] + (" (held out)" if c["name"] in HELD_OUT else "")
        lines.append(
            f"| {name} | {c['lanes']}x{c['lanes']} | {c['target']} | {m['luts']:,} | {_num(b.get('luts'))} "
            f"| {c['luts_fitted']:,} | {m['ffs']:,} | {_num(b.get('ffs'))} | {c['ffs_fitted']:,} | {m['dsps']} "
            f"| {c['plan_dsps']} | {m['brams']} | {_num(b.get('brams'))} | {c['bram_estimate']} | {m['seconds']} |"
        )
    out = ROOT / "benchmarks" / "results" / "resource_fit.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
