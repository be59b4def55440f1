"""Calibrate search/fmax.py: fit the routed Fmax of recorded place-and-route runs of one RTL revision.

``fit`` (the default) reads every routed row recorded in benchmarks/results/synth_ecp5.json (its
``results`` with place and route, and the Fmax log's ``fmax_steps``) and in
benchmarks/results/fmax_points.json (the rows ``run`` adds), keeps those of one RTL revision, and
fits the clock period (1000 / Fmax, ns) to the features of ``search.fmax.feature_values`` by least
squares. A revision is the pair of git trees of ``hwgen/`` and ``rtl_templates/`` at the commit a
row names, so rows of commits that changed neither are pooled; ``--rtl C1 C2 ...`` pools the
revisions of several commits (only when their Verilog is the same: say how you checked in
``--rtl-note``). The default is the newest revision with a routed row. With ``N`` points the fit
takes at most ``N - 1`` features (the constant first, then in the order of ``search.fmax.FEATURES``,
skipping one that adds no rank), so a leave-one-out error exists whenever ``N >= 2``; the
coefficients are non-negative (NNLS: no feature makes the clock faster). Writes
``search/fmax_fit.json`` (coefficients, floor and ceiling, every point with its measured, fitted
and leave-one-out Fmax, the errors) and ``benchmarks/results/fmax_fit.md``. Re-run it when the
RTL changes or rows are added:

    .venv/bin/python benchmarks/calibrate_fmax.py [fit] [--rtl COMMIT ...] [--rtl-note TEXT]
    .venv/bin/python benchmarks/calibrate_fmax.py run --config nano --target ecp5-25k [--clock 150]

``run`` places and routes one config (a preset or the co-search's 8x8) with ``fmax_steps.run_step``
(seed 1, the asked clock, at most ``--timeout-min`` per tool) and appends its row to
fmax_points.json (``rows``; listed in fmax_points.md). Only one nextpnr at a time on the shared
machine (``pgrep -a nextpnr``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = ROOT / "benchmarks" / "results"
POINTS = RESULTS / "fmax_points.json"
SYNTH = RESULTS / "synth_ecp5.json"


def run(args: argparse.Namespace) -> None:
    """Place and route ``args.config`` on ``args.target`` and record the row in fmax_points.json."""
    import bench_synth
    import fmax_steps

    row = fmax_steps.run_step(
        args.config,
        args.target,
        args.clock,
        args.note or "calibrate_fmax.py run",
        1,
        "",
        args.timeout_min,
        bench_synth.rtl_source(),
    )
    row.pop("traceback", None)
    rows = [*_points(), row]
    POINTS.write_text(json.dumps({"rows": rows}, indent=1, sort_keys=True) + "\n")
    POINTS.with_suffix(".md").write_text(points_markdown(rows))
    print(json.dumps(row, indent=1, sort_keys=True))


def _points() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(POINTS.read_text())["rows"] if POINTS.is_file() else []
    return rows


def points_markdown(rows: list[dict[str, Any]]) -> str:
    """The runs ``run`` recorded, as a table."""
    lines = [
        "# Place-and-route runs for the Fmax model (benchmarks/calibrate_fmax.py run)",
        "",
        "Each row is one Yosys `synth_ecp5` + nextpnr-ecp5 run of a config's RTL in the P&R wrapper (seed 1, "
        "default nextpnr arguments), recorded for the Fmax calibration beside the rows of "
        "[synth_ecp5](synth_ecp5.md); the fit is [fmax_fit](fmax_fit.md). Minutes are wall time on the shared "
        "2-core machine.",
        "",
        "| config | part | RTL | asked MHz | routed MHz (after placement) | LUT4 | FF | DSP | DP16KD | Yosys min "
        "| nextpnr min | critical path |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cp = r.get("critical_path") or {}
        fmax = "failed" if r.get("fmax_mhz") is None else f"{r['fmax_mhz']:.1f}"
        placed = "" if r.get("placed_estimate") is None else f" ({r['placed_estimate']:.1f})"
        lines.append(
            f"| {r['config']} | {r['target']} | {r['rtl_source']} | {r['clock_mhz']:g} | {fmax}{placed} "
            f"| {r.get('luts', 0):,} | {r.get('ffs', 0):,} | {r.get('dsps', 0)} | {r.get('brams', 0)} "
            f"| {r['yosys_min']:.1f} | {r['nextpnr_min']:.1f} "
            f"| {'`' + cp['from'] + '` -> `' + cp['to'] + '` (' + cp['split'] + ')' if cp else ''} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", nargs="?", default="fit", choices=("fit", "run"))
    p.add_argument("--rtl", nargs="*", default=None, help="commits whose RTL revisions to pool (default: newest)")
    p.add_argument("--rtl-note", default="", help="why the pooled commits' RTL is the same")
    p.add_argument("--config", default="tiny")
    p.add_argument("--target", default="ecp5-25k")
    p.add_argument("--clock", type=float, default=150.0)
    p.add_argument("--timeout-min", type=float, default=30.0)
    p.add_argument("--note", default="")
    args = p.parse_args()
    if args.mode == "run":
        run(args)
    else:
        fit(args)


def routed_rows() -> list[dict[str, Any]]:
    """Every recorded place and route that routed with the default nextpnr arguments."""
    doc = json.loads(SYNTH.read_text()) if SYNTH.is_file() else {}
    rows = []
    for r in [*doc.get("results", []), *doc.get("fmax_steps", []), *_points()]:
        name = r.get("config") or r.get("preset")
        ok = r.get("status") == "ok" and r.get("fmax_mhz") is not None and r.get("place_and_route", True)
        if ok and not r.get("nodsp") and not r.get("pnr_args") and "uncommitted" not in r.get("rtl_source", "-"):
            rows.append({**r, "config": name})
    return rows


def commit_of(row: dict[str, Any]) -> str:
    return str(row["rtl_source"]).split()[0].rstrip(",;")


def revision(commit: str) -> tuple[str, ...]:
    """The git trees of hwgen/ and rtl_templates/ at ``commit`` (the commit itself if git cannot say)."""
    trees = []
    for folder in ("hwgen", "rtl_templates"):
        r = subprocess.run(["git", "rev-parse", f"{commit}:{folder}"], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            return ("commit", commit)
        trees.append(r.stdout.strip())
    return tuple(trees)


def select(rows: list[dict[str, Any]], commits: list[str] | None) -> list[dict[str, Any]]:
    """The rows of the revisions of ``commits`` (default: the newest row's revision)."""
    if not rows:
        raise SystemExit("no routed rows recorded")
    if not commits:
        commits = [commit_of(max(rows, key=lambda r: r.get("started", "")))]
    keys = {revision(c) for c in commits}
    return [r for r in rows if revision(commit_of(r)) in keys]


def fit(args: argparse.Namespace) -> None:
    from dian.search.fmax import FIT_FILE

    rows = select(routed_rows(), args.rtl)
    doc = calibrate(rows, args.rtl_note)
    FIT_FILE.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    md = markdown(doc)
    (RESULTS / "fmax_fit.md").write_text(md)
    print(md)


FLOOR_FRACTION = 0.5  # the floor: half the slowest routed point (a guard against extrapolation, not a claim)


def choose_features(x: np.ndarray, names: tuple[str, ...]) -> list[int]:
    """Columns of ``x`` to fit: the constant, then each feature in order that adds rank, at most
    ``N - 1`` of them so that every leave-one-out fold is still determined."""
    cols = [0]
    for j in range(1, len(names)):
        if len(cols) >= max(1, len(x) - 1):
            break
        if np.linalg.matrix_rank(x[:, [*cols, j]]) > np.linalg.matrix_rank(x[:, cols]):
            cols.append(j)
    return cols


def solve(x: np.ndarray, fmax: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Period coefficients, floor and ceiling (MHz) of the points ``x``, ``fmax``: least squares
    with every coefficient non-negative (scipy's NNLS). More utilization, lanes, LUT-built products
    or bus never make a clock faster; a fit that says otherwise is fitting nextpnr's seed noise."""
    from scipy.optimize import nnls

    coef = nnls(x, 1000 / fmax)[0]
    return coef, FLOOR_FRACTION * float(fmax.min()), float(fmax.max())


def predict(coef: np.ndarray, floor: float, ceiling: float, x: np.ndarray) -> np.ndarray:
    period = np.clip(x @ coef, 1000 / ceiling, 1000 / floor)
    return np.asarray(1000 / period)


def leave_one_out(x: np.ndarray, fmax: np.ndarray) -> np.ndarray | None:
    """Each point's Fmax predicted by the fit of the others (None with one point)."""
    if len(fmax) < 2:
        return None
    out = np.empty(len(fmax))
    for i in range(len(fmax)):
        keep = np.arange(len(fmax)) != i
        out[i] = predict(*solve(x[keep], fmax[keep]), x[i : i + 1])[0]
    return out


def calibrate(rows: list[dict[str, Any]], note: str) -> dict[str, Any]:
    """The fit document of ``rows`` (one RTL revision)."""
    import fmax_steps

    from dian.hwgen.targets import Target
    from dian.search.fmax import FEATURES, family, feature_values

    vals = [feature_values(fmax_steps.config(r["config"]), Target(r["target"])) for r in rows]
    full = np.array([[v[f] for f in FEATURES] for v in vals])
    fmax = np.array([float(r["fmax_mhz"]) for r in rows])
    cols = choose_features(full, FEATURES)
    x = full[:, cols]
    coef, floor, ceiling = solve(x, fmax)
    fitted = predict(coef, floor, ceiling, x)
    loo = leave_one_out(x, fmax)
    rel = lambda p: np.abs(p - fmax) / fmax  # noqa: E731
    commits = sorted({commit_of(r) for r in rows})
    return {
        "rtl": " = ".join(commits) + (f" ({note})" if note else ""),
        "features": [FEATURES[j] for j in cols],
        "coef": [round(float(c), 6) for c in coef],
        "floor_mhz": round(floor, 3),
        "ceiling_mhz": round(ceiling, 3),
        "families": sorted({family(Target(r["target"])) for r in rows}),
        "ranges": {
            f: [round(float(full[:, j].min()), 4), round(float(full[:, j].max()), 4)]
            for j, f in enumerate(FEATURES)
            if f != "1"
        },
        "error": {
            "points": len(rows),
            "fit_max_rel": round(float(rel(fitted).max()), 4),
            "fit_mean_rel": round(float(rel(fitted).mean()), 4),
            "loo_max_rel": None if loo is None else round(float(rel(loo).max()), 4),
            "loo_mean_rel": None if loo is None else round(float(rel(loo).mean()), 4),
        },
        "points": [
            {
                "config": r["config"],
                "target": r["target"],
                "rtl_source": r["rtl_source"],
                "clock_mhz": r.get("clock_mhz"),
                "started": r.get("started"),
                "fmax_mhz": round(float(r["fmax_mhz"]), 2),
                "fitted_mhz": round(float(fitted[i]), 2),
                "loo_mhz": None if loo is None else round(float(loo[i]), 2),
                "features": {f: round(v[f], 4) for f in FEATURES},
            }
            for i, (r, v) in enumerate(zip(rows, vals, strict=True))
        ],
    }


def markdown(doc: dict[str, Any]) -> str:
    err = doc["error"]
    pairs = zip(doc["features"], doc["coef"], strict=True)
    terms = " + ".join(f"{c:.4g} x {f}" if f != "1" else f"{c:.4g}" for f, c in pairs)
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [
        "# Fmax model calibration (search/fmax.py)",
        "",
        "Written by `benchmarks/calibrate_fmax.py` from the routed rows of synth_ecp5.json and fmax_points.json "
        f"of one RTL revision: **{err['points']} point(s), RTL {doc['rtl']}**. Period (ns) = {terms}; "
        f"predictions clamped to {doc['floor_mhz']:.1f}..{doc['ceiling_mhz']:.1f} MHz; families: "
        f"{', '.join(doc['families'])}.",
        "",
        f"Error of Fmax: in-sample max {pct(err['fit_max_rel'])}, mean {pct(err['fit_mean_rel'])}; "
        f"leave-one-out max {pct(err['loo_max_rel'])}, mean {pct(err['loo_mean_rel'])}.",
        "",
        "| config | part | RTL | asked MHz | routed MHz | fitted MHz | leave-one-out MHz | LUT util (est.) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for p in doc["points"]:
        loo = "n/a" if p["loo_mhz"] is None else f"{p['loo_mhz']:.1f}"
        lines.append(
            f"| {p['config']} | {p['target']} | {p['rtl_source']} | {p['clock_mhz']:g} | {p['fmax_mhz']:.1f} "
            f"| {p['fitted_mhz']:.1f} | {loo} | {p['features']['lut_util']:.1%} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
