"""The `dian search` report: DIR/report.md and its plots (DIR/plots/*.png).

Every number in it comes from a measurement the run made: accuracies from torch and from
the reference simulator on the test split, cycles from the RTL in Verilator (equal to the
machine simulator's and the schedules' predictions, or the run would have stopped), FPS at
the Fmax nextpnr reported (or, when place and route was skipped, which the report says, at the
clock the search priced the design at: search/fmax.py's predicted Fmax capped by the asked
clock), the predicted and the routed Fmax side by side, resources from Yosys/nextpnr, and the
explored front from the exact cost tables. Plots are written with matplotlib's Agg backend
and no timestamps, so the same run gives the same bytes.
"""

from __future__ import annotations

import io
import json
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dian.safe_paths import make_dirs, write_file

from .costs import CoTables
from .hardware import HardwareOption
from .space import Arch, SearchSpace


def _figure() -> types.ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    plt = _figure()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def pareto_indices(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (both minimised), by the first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front, best = [], float("inf")
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def plot_search(log: Sequence[Any]) -> bytes:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    epochs = [e.epoch for e in log]
    ax.plot(epochs, [e.expected_cycles for e in log], "o-", c="tab:blue", ms=4, label="expected cycles")
    ax.plot(epochs, [e.cycles for e in log], "s--", c="tab:cyan", ms=4, label="argmax design's cycles")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cycles (exact cost tables)")
    ax2 = ax.twinx()
    ax2.plot(epochs, [100 * e.val_accuracy for e in log], "^-", c="tab:red", ms=4, label="argmax net, supernet weights")
    ax2.set_ylabel("accuracy on the architecture split (%)")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [str(x.get_label()) for x in lines], fontsize=8, loc="center right")
    ax.grid(True, alpha=0.3)
    ax.set_title("co-search", fontsize=10)
    return _png(fig)


def plot_front(explored: list[dict[str, Any]], chosen: dict[str, Any], epochs: int) -> bytes:
    """Accuracy against latency of every (network, hardware) pair the search derived, and its front."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    pts = [(d["latency_us"], -d["accuracy"]) for d in explored]
    front = pareto_indices(pts)
    ax.scatter(
        [d["latency_us"] for d in explored],
        [100 * d["accuracy"] for d in explored],
        s=14,
        c="0.6",
        label=f"derived by the search ({epochs} epochs, architecture split)",
    )
    ax.plot(
        [explored[i]["latency_us"] for i in front],
        [100 * explored[i]["accuracy"] for i in front],
        "o-",
        c="tab:blue",
        ms=5,
        label="their Pareto front",
    )
    ax.scatter(
        [chosen["latency_us"]],
        [100 * chosen["accuracy"]],
        marker="*",
        s=220,
        c="tab:red",
        zorder=3,
        label="final design (retrained, int8, test split)",
    )
    ax.set_xlabel("latency (us: exact cycles at the predicted Fmax, capped)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("explored network-accelerator pairs", fontsize=10)
    return _png(fig)


def plot_hardware(
    space: SearchSpace, arch: Arch, hardware: Sequence[HardwareOption], tables: CoTables, chosen: int
) -> bytes:
    """The final network on every hardware option: latency against estimated LUTs."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    lat = [tables.network(space, arch, h)[0] / opt.clock_mhz for h, opt in enumerate(hardware)]
    luts = [opt.resources.luts for opt in hardware]
    fits = [opt.fits for opt in hardware]
    ax.scatter(
        [x for x, f in zip(luts, fits, strict=True) if f],
        [y for y, f in zip(lat, fits, strict=True) if f],
        s=16,
        c="tab:blue",
        label="fits the target",
    )
    ax.scatter(
        [x for x, f in zip(luts, fits, strict=True) if not f],
        [y for y, f in zip(lat, fits, strict=True) if not f],
        s=16,
        c="0.7",
        marker="x",
        label="does not fit",
    )
    ax.scatter([luts[chosen]], [lat[chosen]], marker="*", s=220, c="tab:red", zorder=3, label="chosen")
    ax.set_xlabel("LUTs (calibrated estimate)")
    ax.set_ylabel("latency (us at the predicted Fmax, capped)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("the searched network on each hardware option", fontsize=10)
    return _png(fig)


def layer_rows(compiled: Path) -> list[dict[str, Any]]:
    """Per layer of the compiled network: name, MACs, predicted cycles (the layer's exact share), utilization."""
    manifest = json.loads((compiled / "manifest.json").read_text())
    rows = []
    for entry in manifest["accel"]["layers"]:
        doc = json.loads((compiled / f"{entry['schedule']}.json").read_text())
        p = doc.get("prediction") or {}
        rows.append(
            {
                "layer": entry["layer"],
                "dataflow": doc["mapping"]["dataflow"],
                "macs": p.get("macs", 0),
                "cycles": p.get("cycles", 0),
                "utilization": p.get("utilization", 0.0),
            }
        )
    return rows


def plot_layers(rows: list[dict[str, Any]]) -> bytes:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7.2, 4.0), dpi=100)
    ax.bar(range(len(rows)), [100 * r["utilization"] for r in rows], color="tab:blue")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["layer"] for r in rows], rotation=70, fontsize=7)
    ax.set_ylabel("PE utilization (%)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("per-layer utilization (exact cycles)", fontsize=10)
    return _png(fig)


def write_report(
    out: Path,
    space: SearchSpace,
    summary: dict[str, Any],
    log: Sequence[Any],
    hardware: Sequence[HardwareOption],
    tables: CoTables,
    arch: Arch,
    compiled: Path,
) -> str:
    """Write report.md and plots/*.png into ``out``; returns the report's text."""
    plots = make_dirs(out, "plots")
    h = next(i for i, opt in enumerate(hardware) if opt.cfg.name == summary["hardware"]["name"])
    explored = summary["explored"]
    chosen_pt = {
        "accuracy": summary["accuracy"]["int8"],
        "latency_us": summary["cycles"]["tables"] / hardware[h].clock_mhz,
    }
    rows = layer_rows(compiled)
    write_file(plots / "search.png", plot_search(log))
    if explored:
        write_file(plots / "front.png", plot_front(explored, chosen_pt, summary["options"]["front_epochs"]))
    write_file(plots / "hardware.png", plot_hardware(space, arch, hardware, tables, h))
    write_file(plots / "layers.png", plot_layers(rows))
    text = render_report(summary, rows)
    write_file(out / "report.md", text)
    return text


def _fmt(x: Any, spec: str = ",") -> str:
    return "n/a" if x is None else format(x, spec)


def predicted_fmax(hw: dict[str, Any]) -> str:
    """The predicted Fmax and what it rests on, and the clock the design was priced and compiled at."""
    asked = hw.get("clock_mhz_asked", hw["clock_mhz"])
    if hw.get("fmax_mhz_predicted") is None:
        return f"predicted: not modelled for this target (priced at the asked {asked:g} MHz)"
    beyond = hw.get("fmax_extrapolated")
    return (
        f"predicted {hw['fmax_mhz_predicted']:.1f} MHz (search/fmax.py: {hw.get('fmax_model')}"
        + (f"; extrapolated, outside the points' {', '.join(beyond)}" if beyond else "")
        + "; "
        f"priced and compiled at {hw['clock_mhz']:g} MHz, the asked {asked:g} MHz capping it)"
    )


def render_report(s: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    o, st, syn = s["options"], s["settings"], s["synth"]
    hw = s["hardware"]
    clock = (
        f"the Fmax nextpnr reported, {s['fps_clock_mhz']:.1f} MHz"
        if s["fps_clock_is_fmax"]
        else f"the clock the search priced the design at, {s['fps_clock_mhz']:g} MHz (no place and route: "
        "no routed Fmax)"
    )
    lines = [
        f"# dian search: {o['dataset']} on {o['target']}",
        "",
        f"Objective {st['objective']}, lambda {st['lam']}, seed {st['seed']}; {s['epochs_run']} of {st['epochs']} "
        f"epochs ({st['warmup_epochs']} warm-up) in {s['search_seconds']:.0f} s"
        + (f" (budget {o['budget_minutes']:g} min)" if o["budget_minutes"] else "")
        + f"; cost tables in {s['table_seconds']:.0f} s.",
        "",
        "## Result",
        "",
        "| | |",
        "|---|---|",
        f"| network | {'<br>'.join(s['description'])} |",
        f"| accelerator | {s['hardware']['label']} (`{s['hardware']['name']}`) |",
        f"| accuracy, float (torch) | {s['accuracy']['float']:.2%} |",
        f"| accuracy, int8 (reference simulator) | {s['accuracy']['int8']:.2%} |",
        f"| cycles per image (RTL in Verilator) | {_fmt(s['cycles']['rtl'])} |",
        f"| cycles, schedules' prediction / cost tables | {_fmt(s['cycles']['schedules'])} / "
        f"{_fmt(s['cycles']['tables'], ',.0f')} |",
        f"| FPS | {_fmt(s['fps'], ',.0f')} at {clock} |",
    ]
    if syn:
        lines += [f"| resources (Yosys{'/nextpnr' if syn.get('place_and_route') else ''}) | {syn.get('summary')} |"]
        if syn.get("fmax_mhz") is not None:
            verdict = "meets" if syn.get("meets_timing") else "misses"
            routed = f"routed {syn['fmax_mhz']:.1f} MHz (nextpnr; {verdict} the config's {hw['clock_mhz']:g} MHz)"
        else:
            routed = "routed: not measured (no place and route)"
    else:
        lines += ["| resources | not synthesized (--no-synth) |"]
        routed = "routed: not measured (not synthesized)"
    lines += [f"| Fmax | {predicted_fmax(hw)}, {routed} |"]
    lines += [
        "",
        f"Co-simulation: {len(s['cosim'])} test image(s) ran on the machine simulator and on the RTL in "
        "Verilator; every activation byte equalled the reference simulator's and the RTL's cycle count the "
        "machine simulator's.",
        "",
        "| image | label | predicted | cycles (RTL) | cycles (machine) | tensors checked |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c['image']} | {c['label']} | {c['predicted']} | {c['cycles_rtl']:,} | {c['cycles_machine']:,} | "
        f"{c['tensors_checked']} |"
        for c in s["cosim"]
    ]
    lines += ["", "## Search", "", "![co-search](plots/search.png)", ""]
    explored = s["explored"]
    if explored:
        lines += [
            f"Every distinct design the search derived after its warm-up, its network trained from scratch "
            f"for {o['front_epochs']} epochs on the weight split and scored on the architecture split "
            f"(latency: exact cycles at the hardware option's predicted Fmax, capped by the asked clock):",
            "",
            "![explored front](plots/front.png)",
            "",
            "| epochs | network (ops; widths) | hardware | accuracy | cycles |",
            "|---|---|---|---:|---:|",
        ]
        lines += [
            f"| {', '.join(map(str, d['epochs']))} | {d['arch']['ops']}; {d['arch']['widths']} | "
            f"{d['hardware']} | {d['accuracy']:.2%} | {d['cycles']:,.0f} |"
            for d in explored
        ]
    lines += [
        "",
        "## The searched network on each hardware option",
        "",
        "![hardware](plots/hardware.png)",
        "",
        "## Per-layer utilization",
        "",
        "![layers](plots/layers.png)",
        "",
        "| layer | dataflow | MACs | cycles | utilization |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['layer']} | {r['dataflow']} | {r['macs']:,} | {r['cycles']:,} | {r['utilization']:.1%} |" for r in rows
    ]
    return "\n".join(lines) + "\n"
