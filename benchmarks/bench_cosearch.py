"""Issue 6's baselines for the co-search (DIAN/DNA), each on the same data, space and target.

* **dian**: the co-search (nas/cosearch.py) at a few cost weights ``lam``: its argmax network on its
  argmax hardware, the network trained from scratch, as `dian search` does. Search time = the cost
  tables (priced once, shared by every run, counted in full) + every run's epochs.
* **(a) hand-designed**: MobileNetV2's block, k3e6 (expansion 6, 3x3 depthwise), in every block at
  the widest width of every stage (MobileNetV2 at width multiplier 1.0: the space's widest widths are
  its full channel plan, so no width is ours to pick), trained from scratch; its hardware the best of
  every fitting option by the cost tables (an exhaustive DSE over the co-search's hardware space) —
  and, with ``--dse-trials``, dian's own optuna DSE (search/explore.py) on its lowered int8 graph.
  An extra row gives the same net at the middle widths, for scale.
* **(b) sequential**: the network searched for accuracy alone (co-search with lam = 0), then the
  best hardware for it by the tables.
* **(c) black-box**: optuna's NSGA-II over the joint space (every block's op, every stage's width,
  the fitting hardware option), each trial training its network from scratch for
  ``--trial-epochs`` on the weight part of the search split, scored by accuracy on the
  architecture part (never the test split) and table latency. It gets dian's search time, tables
  included, and ``--budget-scale`` times that: one seeded study is run for the larger budget and the
  smaller is the prefix of its trials that ended in time (a sampler's draw depends only on the
  trials before it, so that prefix is what a study stopped there would have run). The front's
  designs are fine-tuned like the others.

Every final network is trained for ``--finetune-epochs`` on the whole training split and measured
on the test split (float in torch; int8 with dian's frontend and reference simulator). FPS = the
clock the hardware is priced at (search/fmax.py's predicted Fmax, capped by the target's clock) /
the table cycles of (network, hardware).

    .venv/bin/python benchmarks/bench_cosearch.py [--dataset digits] [--target ecp5-85k] [--quick]

Writes benchmarks/results/cosearch.md and .json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dian.nas.cosearch import CoSearch, SearchSettings
from dian.nas.costs import CoTables, cost_tables
from dian.nas.data import Dataset, calibration_data, load_dataset, search_split
from dian.nas.hardware import HardwareOption, hardware_space
from dian.nas.space import SPACES, Arch, SearchSpace
from dian.nas.supernet import SuperNet, derive
from dian.nas.train import accuracy, train
from dian.nas.train import int8_accuracy as graph_int8_accuracy

RESULTS = Path(__file__).resolve().parent / "results"
MBV2_OP = 2  # OPS[2]: k3e6, MobileNetV2's inverted residual
GOAL_FPS_RATIO = 3.0
#: Option defaults; --quick's keep the whole run to minutes (the co-search's own defaults come from SearchSettings).
FULL = {"lams": "0,0.03,0.1,0.3", "finetune_epochs": 20, "trial_epochs": 3, "dse_trials": 40, "budget_scale": 10.0}
QUICK = {
    "lams": "0,1.0",
    "finetune_epochs": 2,
    "trial_epochs": 1,
    "dse_trials": 3,
    "budget_scale": 4.0,
    "search_epochs": 2,
    "warmup_epochs": 1,
}


@dataclass
class Bench:
    """What every method shares: the space, data, hardware, its tables, and the settings."""

    space: SearchSpace
    data: Dataset
    hardware: list[HardwareOption]
    tables: CoTables
    table_s: float
    settings: SearchSettings
    finetune_epochs: int
    int8: bool
    log: bool = True

    def say(self, what: str) -> None:
        if self.log:
            print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


@dataclass
class Point:
    """One final design, measured."""

    method: str
    arch: Arch
    hw: int
    hw_label: str
    cycles: float
    fps: float
    float_acc: float
    int8_acc: float | None
    search_s: float
    finetune_s: float
    note: str = ""

    @property
    def acc(self) -> float:
        """The accuracy the goals judge: the int8 network's, which is what the hardware runs (the
        float one where int8 was not measured)."""
        return self.float_acc if self.int8_acc is None else self.int8_acc

    def doc(self, space: SearchSpace) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["arch"] = {
            "ops": list(self.arch.ops),
            "widths": list(self.arch.widths),
            "description": space.describe(self.arch).splitlines(),
        }
        return d


# -- measuring a design ---------------------------------------------------------------------------


def cycles_fps(b: Bench, arch: Arch, h: int) -> tuple[float, float]:
    cycles = b.tables.network(b.space, arch, h)[0]
    return cycles, b.hardware[h].clock_mhz * 1e6 / cycles


def best_hardware(b: Bench, arch: Arch) -> int:
    """The fitting option with the fewest table cycles for ``arch`` (ties: the first)."""
    fitting = [h for h, opt in enumerate(b.hardware) if opt.fits]
    return min(fitting, key=lambda h: (b.tables.network(b.space, arch, h)[0], h))


def int8_accuracy(b: Bench, net: torch.nn.Module) -> float:
    """Test accuracy of ``net`` lowered to int8 by dian's frontend (64 calibration images, seed's
    draw) and run on the reference simulator, the whole test split as one batch."""
    from dian.frontend import lower

    calib = calibration_data(b.space.name, 64, np.random.default_rng(b.settings.seed))
    return graph_int8_accuracy(lower(net, b.space.input_shape, calib, "bench")[1], b.data.x_test, b.data.y_test)


_FINETUNED: dict[tuple[Arch, str], tuple[torch.nn.Module, float, float | None, float]] = {}


def finetune(
    b: Bench, arch: Arch, supernet: SuperNet | None = None, key: str = "scratch"
) -> tuple[float, float | None, float]:
    """(float accuracy, int8 accuracy, seconds) of ``arch`` trained for the fine-tuning epochs on the
    whole training split — from ``supernet``'s weights, or from scratch (remembered: the same arch
    from scratch trains to the same weights)."""
    if (arch, key) not in _FINETUNED:
        t0 = time.perf_counter()
        net = derive(b.space, arch, supernet, seed=b.settings.seed)
        net = train(net, b.data.x_train, b.data.y_train, b.finetune_epochs, seed=b.settings.seed)
        seconds = time.perf_counter() - t0
        _FINETUNED[arch, key] = (
            net,
            accuracy(net, b.data.x_test, b.data.y_test),
            int8_accuracy(b, net) if b.int8 else None,
            seconds,
        )
    _, acc, acc8, seconds = _FINETUNED[arch, key]
    return acc, acc8, seconds


def point(
    b: Bench,
    method: str,
    arch: Arch,
    h: int,
    search_s: float,
    supernet: SuperNet | None = None,
    key: str = "scratch",
    note: str = "",
) -> Point:
    acc, acc8, ft_s = finetune(b, arch, supernet, key)
    cycles, fps = cycles_fps(b, arch, h)
    p = Point(method, arch, h, b.hardware[h].label, cycles, fps, acc, acc8, search_s, ft_s, note)
    b.say(
        f"{method}: {acc:.1%} float"
        + (f", {acc8:.1%} int8" if acc8 is not None else "")
        + f", {cycles:,.0f} cycles = {fps:,.0f} FPS on {p.hw_label}"
    )
    return p


# -- the methods ----------------------------------------------------------------------------------


def run_dian(b: Bench, lam: float) -> tuple[CoSearch, float]:
    """A co-search at ``lam`` (checkpoints in a scratch folder); returns it and its wall seconds."""
    settings = dataclasses.replace(b.settings, lam=lam)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        search = CoSearch(b.space, b.hardware, b.tables, b.data, settings, Path(tmp))
        search.run()
        seconds = time.perf_counter() - t0
    return search, seconds


def hand_designed(space: SearchSpace, width: str) -> Arch:
    """Every block k3e6 at the ``width`` ("widest" or "middle") of every stage."""
    pick = {"widest": lambda n: n - 1, "middle": lambda n: (n - 1) // 2}[width]
    return space.check(Arch((MBV2_OP,) * space.n_blocks, tuple(pick(len(s.widths)) for s in space.stages)))


def explore_hand(b: Bench, net: torch.nn.Module, trials: int) -> dict[str, Any]:
    """dian's optuna DSE (search/explore.py, latency) on the lowered int8 graph of ``net``."""
    from dian.frontend import lower
    from dian.search.explore import explore

    calib = calibration_data(b.space.name, 64, np.random.default_rng(b.settings.seed))
    g = lower(net, b.space.input_shape, calib, "hand")[1]
    t0 = time.perf_counter()
    designs = explore(g, b.hardware[0].cfg.target, "latency", trials, seed=b.settings.seed)
    seconds = time.perf_counter() - t0
    best = min((d for d in designs if d.fits), key=lambda d: (d.latency_us, d.trial))
    c = best.cfg
    return {
        "trials": trials,
        "seconds": seconds,
        "cycles": best.cycles,
        "fps": best.clock_mhz * 1e6 / best.cycles,
        "label": f"{c.pe_rows}x{c.pe_cols} PEs, buffers I/W/A/O {c.ibuf.bytes}/{c.wbuf.bytes}/"
        f"{c.abuf.bytes}/{c.obuf.bytes} B, {c.dram_bus_bits}-bit bus, IMEM "
        f"{c.imem_instructions}",
    }


def blackbox(b: Bench, budget_s: float, trial_epochs: int) -> list[dict[str, Any]]:
    """NSGA-II over (ops, widths, hardware) until ``budget_s`` would pass (the next trial expected to
    take as long as the last); each trial: its network trained from scratch for ``trial_epochs`` on
    the weight part of the search split, (architecture-part accuracy, table cycles) reported."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    split = search_split(b.data, seed=b.settings.seed)
    fitting = [h for h, opt in enumerate(b.hardware) if opt.fits]
    trials: list[dict[str, Any]] = []
    t0 = time.perf_counter()

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        start = time.perf_counter()
        ops = tuple(
            int(trial.suggest_categorical(f"op{i}", list(b.space.allowed_ops(i)))) for i in range(b.space.n_blocks)
        )
        widths = tuple(
            int(trial.suggest_categorical(f"width{s}", list(range(len(st.widths)))))
            for s, st in enumerate(b.space.stages)
        )
        h = int(trial.suggest_categorical("hw", fitting))
        arch = b.space.check(Arch(ops, widths))
        net = train(
            derive(b.space, arch, seed=b.settings.seed),
            split.x_weights,
            split.y_weights,
            trial_epochs,
            seed=b.settings.seed,
        )
        val = accuracy(net, split.x_arch, split.y_arch)
        cycles = b.tables.network(b.space, arch, h)[0]
        now = time.perf_counter()
        trials.append(
            {
                "trial": trial.number,
                "arch": arch,
                "hw": h,
                "val_acc": val,
                "cycles": cycles,
                "seconds": now - start,
                "ended_s": now - t0,
            }
        )
        return val, cycles / b.hardware[h].clock_mhz

    def stop(study: optuna.Study, _: optuna.trial.FrozenTrial) -> None:
        if time.perf_counter() - t0 + trials[-1]["seconds"] > budget_s:
            study.stop()

    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=optuna.samplers.NSGAIISampler(seed=b.settings.seed)
    )
    study.optimize(objective, callbacks=[stop])
    return trials


def pareto(items: list[Any], acc: str, fps: str) -> list[Any]:
    """The items no other beats in both ``acc`` and ``fps`` (higher is better), fastest first."""
    key = lambda t: (-t[fps], -t[acc])  # noqa: E731
    out: list[Any] = []
    for t in sorted(items, key=key):
        if not out or t[acc] > out[-1][acc]:
            out.append(t)
    return out


def spread(front: list[Any], n: int) -> list[Any]:
    """``n`` items of ``front`` evenly spaced by position (both ends included), or all of it."""
    if len(front) <= n:
        return front
    return [front[round(i * (len(front) - 1) / (n - 1))] for i in range(n)] if n > 1 else [front[-1]]


def challengers(front: list[dict[str, Any]], dian: list[Point], n: int) -> list[dict[str, Any]]:
    """The designs of a black-box ``front`` to fine-tune: ``n`` spread along it, and for every dian
    point the most accurate (by validation) design at least as fast — the one likeliest to dominate
    it. Fastest first, each once."""
    picked = {t["trial"]: t for t in spread(front, n)}
    for p in dian:
        faster = [t for t in front if t["fps"] >= p.fps]
        if faster:
            picked.setdefault(faster[-1]["trial"], faster[-1])
    return sorted(picked.values(), key=lambda t: -t["fps"])


def dominates(p: Point, q: Point) -> bool:
    """``p`` is at least as accurate and as fast as ``q``, and better in one (:attr:`Point.acc`, FPS)."""
    return p.acc >= q.acc and p.fps >= q.fps and (p.acc > q.acc or p.fps > q.fps)


# -- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: SearchSettings) -> dict[str, Any]:
    space, data = SPACES[args.dataset], load_dataset(args.dataset)
    hardware = hardware_space(args.target, quick=args.quick).options()
    b = Bench(space, data, hardware, None, 0.0, settings, args.finetune_epochs, not args.no_int8)  # type: ignore[arg-type]
    b.say(f"pricing space {space.name} on {len(hardware)} hardware options ({sum(h.fits for h in hardware)} fit)")
    t0 = time.perf_counter()
    b.tables = cost_tables(space, hardware)
    b.table_s = time.perf_counter() - t0
    b.say(f"tables: {b.table_s:.1f} s")
    lams = [float(x) for x in args.lams.split(",")]

    points: list[Point] = []
    runs: list[dict[str, Any]] = []
    lam0: tuple[CoSearch, float] | None = None
    for lam in sorted(set(lams) | {0.0}):
        search, seconds = run_dian(b, lam)
        arch, h = search.derived()
        b.say(f"co-search lam={lam:g}: {seconds:.1f} s, {space.describe(arch)} on {hardware[h].label}")
        runs.append(
            {
                "lam": lam,
                "seconds": seconds,
                "arch": list(arch.ops),
                "widths": list(arch.widths),
                "hw": h,
                "log": [dataclasses.asdict(e) for e in search.state.log],
                "in_front": lam in lams,
            }
        )
        if lam == 0.0:
            lam0 = (search, seconds)
        if lam in lams:
            points.append(
                point(
                    b, f"dian lam={lam:g}", arch, h, seconds, note="search s: this run's epochs (tables not included)"
                )
            )
    dian_s = b.table_s + sum(r["seconds"] for r in runs if r["in_front"])

    assert lam0 is not None
    arch0 = lam0[0].derived()[0]
    points.append(
        point(
            b,
            "(b) sequential",
            arch0,
            best_hardware(b, arch0),
            b.table_s + lam0[1],
            note="lam=0 co-search, then the best hardware by the tables",
        )
    )

    hand = hand_designed(space, "widest")
    points.append(
        point(
            b,
            "(a) hand-designed",
            hand,
            best_hardware(b, hand),
            b.table_s,
            note="k3e6 everywhere, widest widths; hardware: exhaustive DSE by the tables",
        )
    )
    mid = hand_designed(space, "middle")
    points.append(
        point(
            b,
            "(a') hand, middle widths",
            mid,
            best_hardware(b, mid),
            b.table_s,
            note="for scale; not the goal's reference",
        )
    )
    dse = explore_hand(b, _FINETUNED[hand, "scratch"][0], args.dse_trials) if args.dse_trials else None
    if dse:
        b.say(
            f"(a) on dian's optuna DSE ({args.dse_trials} trials): {dse['cycles']:,} cycles = {dse['fps']:,.0f} FPS "
            f"on {dse['label']}"
        )

    budgets = {"1x": dian_s, f"{args.budget_scale:g}x": args.budget_scale * dian_s}
    b.say(
        f"black-box NSGA-II: {budgets[f'{args.budget_scale:g}x'] - b.table_s:.0f} s of trials "
        f"(after the {b.table_s:.0f} s tables)"
    )
    trials = blackbox(b, budgets[f"{args.budget_scale:g}x"] - b.table_s, args.trial_epochs)
    bb: dict[str, Any] = {}
    n_points = args.points or len(lams)
    for name, budget in budgets.items():
        done = [t for t in trials if b.table_s + t["ended_s"] <= budget] or trials[:1]
        front = pareto([{**t, "fps": hardware[t["hw"]].clock_mhz * 1e6 / t["cycles"]} for t in done], "val_acc", "fps")
        picked = challengers(front, [p for p in points if p.method.startswith("dian")], n_points)
        wall = b.table_s + done[-1]["ended_s"]
        bb[name] = {
            "budget_s": budget,
            "wall_s": wall,
            "trials": len(done),
            "front": len(front),
            "picked": [t["trial"] for t in picked],
        }
        for t in picked:
            points.append(
                point(
                    b,
                    f"(c) NSGA-II {name} #{t['trial']}",
                    t["arch"],
                    t["hw"],
                    wall,
                    note=f"{len(done)} trials, front of {len(front)}; val acc {t['val_acc']:.1%}",
                )
            )
    return {
        "points": points,
        "runs": runs,
        "n_test": len(data.y_test),
        "dian_s": dian_s,
        "table_s": b.table_s,
        "dse": dse,
        "blackbox": bb,
        "trials": [{**t, "arch": {"ops": list(t["arch"].ops), "widths": list(t["arch"].widths)}} for t in trials],
        "space": space,
        "hardware": hardware,
    }


def verdicts(res: dict[str, Any], scale: str) -> dict[str, Any]:
    pts: list[Point] = res["points"]
    a = next(p for p in pts if p.method.startswith("(a)"))
    dian = [p for p in pts if p.method.startswith("dian")]
    ok = [p for p in dian if p.acc >= a.acc]
    best = max(ok, key=lambda p: p.fps, default=None)
    ratio = best.fps / a.fps if best else 0.0
    top = max(dian, key=lambda p: (p.acc, p.fps))
    short = round((a.acc - top.acc) * res["n_test"])  # test images
    big = [p for p in pts if p.method.startswith(f"(c) NSGA-II {scale} ")]
    dominated = {p.method: [q.method for q in big if dominates(q, p)] for p in dian}
    return {
        "fps_goal": {
            "meets": ratio >= GOAL_FPS_RATIO,
            "best": best.method if best else None,
            "ratio": ratio,
            "a_fps": a.fps,
            "a_acc": a.acc,
            "most_accurate": top.method,
            "most_accurate_ratio": top.fps / a.fps,
            "images_short": short,
        },
        "dominance": {"dominates": all(dominated.values()), "by": dominated},
    }


def report(res: dict[str, Any], env: dict[str, Any], args: argparse.Namespace, settings: SearchSettings) -> str:
    space: SearchSpace = res["space"]
    scale = f"{args.budget_scale:g}x"
    v = verdicts(res, scale)
    g, d = v["fps_goal"], v["dominance"]
    judged = "float" if args.no_int8 else "int8"
    title = "# Co-search baselines (issue 6)" + (
        " — QUICK SMOKE RUN, tiny settings: not the benchmark" if args.quick else ""
    )
    lines = [
        title,
        "",
        f"`{env['command']}`. Machine: {env['cpu']} ({env['cores']} cores, shared), Python {env['python']}, "
        f"torch {torch.__version__}; load average before/after {env['load'][0]:.1f} / {env['load'][1]:.1f}; "
        f"code {env['git']}; {env['date']}; whole run {env['seconds'] / 60:.1f} min.",
        "",
        f"Data set {args.dataset} ({space.n_blocks} searchable blocks), target {args.target}, "
        f"{len(res['hardware'])} hardware options ({sum(h.fits for h in res['hardware'])} fit). Co-search "
        f"settings: {', '.join(f'{k}={v}' for k, v in dataclasses.asdict(settings).items() if k != 'lam')}. "
        f"Every final network trained from scratch {args.finetune_epochs} epochs on the whole training split; "
        f"accuracy on the test split. Cost tables "
        f"{res['table_s']:.1f} s (once; dian's front search time = tables + every lam's run = "
        f"{res['dian_s']:.1f} s). The goals judge {judged} test accuracy"
        + (" (what the hardware runs)." if judged == "int8" else " (int8 not measured).")
        + (
            f" This report was re-rendered by code {env['rendered_by']} from the run's cosearch.json."
            if env.get("rendered_by")
            else ""
        ),
        "",
        "## Goals",
        "",
        f"- **{'meets' if g['meets'] else 'MISSES'}** >= {GOAL_FPS_RATIO:g}x the FPS of (a) at accuracy >= (a)'s "
        f"({g['a_acc']:.1%}, {g['a_fps']:,.0f} FPS): "
        + (
            f"best is {g['best']} at {g['ratio']:.2f}x."
            if g["best"]
            else f"no dian point is as accurate as (a); the most accurate, {g['most_accurate']}, is "
            f"{g['images_short']} of {res['n_test']} test images short, at {g['most_accurate_ratio']:.2f}x its FPS."
        )
        + (
            f" Against (a) on dian's optuna DSE below ({res['dse']['fps']:,.0f} FPS, a wider hardware space): "
            f"{g['ratio'] * g['a_fps'] / res['dse']['fps']:.2f}x."
            if res["dse"] and g["best"]
            else ""
        ),
        f"- **{'MISSES' if d['dominates'] else 'meets'}** (c) with {scale} budget does not dominate dian's front "
        f"(it dominates it if every dian point is dominated — as accurate and as fast, better in one — by some "
        f"(c) point): "
        + "; ".join(f"{k}: " + (f"dominated by {', '.join(x)}" if x else "not dominated") for k, x in d["by"].items())
        + ".",
        "",
        "## Results",
        "",
        "| method | float acc | int8 acc | cycles | FPS | hardware | search s | fine-tune s |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for p in res["points"]:
        i8 = f"{p.int8_acc:.1%}" if p.int8_acc is not None else "-"
        lines.append(
            f"| {p.method} | {p.float_acc:.1%} | {i8} | {p.cycles:,.0f} | {p.fps:,.0f} | {p.hw_label} "
            f"| {p.search_s:.1f} | {p.finetune_s:.1f} |"
        )
    lines += [
        "",
        "Search s: dian, one lam's co-search (its share of the front; tables separate); (b) tables + "
        "the lam=0 search; (a) tables (the exhaustive DSE is a table look-up per option); (c) tables + its "
        "trials up to the budget. FPS at the clock each hardware option is priced at (search/fmax.py's "
        f"predicted Fmax capped by the target's {res['hardware'][0].cfg.clock_mhz:g} MHz) from the exact "
        "cost tables.",
    ]
    if res["dse"]:
        x = res["dse"]
        lines += [
            "",
            f"(a) on dian's optuna DSE (search/explore.py, TPE, latency, {x['trials']} trials, "
            f"{x['seconds']:.0f} s, its wider space: buffer sizes, IMEM, arrays up to 16x16, which "
            f"nextpnr had not routed on ECP5-85k, nas/hardware.py MAX_LANES): "
            f"{x['cycles']:,} cycles = {x['fps']:,.0f} FPS on {x['label']}.",
        ]
    lines += ["", "## Architectures", "", "| method | network |", "|---|---|"]
    for p in res["points"]:
        lines.append(f"| {p.method} | {' / '.join(space.describe(p.arch).splitlines())} |")
    lines += [
        "",
        "## dian's co-search runs",
        "",
        "| lam | seconds | epochs | last epoch: arch-split acc (supernet weights) | cycles | hardware |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in res["runs"]:
        e = r["log"][-1]
        lines.append(
            f"| {r['lam']:g} | {r['seconds']:.1f} | {len(r['log'])} | {e['val_accuracy']:.1%} "
            f"| {e['cycles']:,.0f} | {res['hardware'][r['hw']].label} |"
        )
    lines += [
        "",
        "## Black-box co-search (optuna NSGA-II, seeded)",
        "",
        "| budget | budget s | wall s | trials | front size | fine-tuned trials |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, x in sorted(res["blackbox"].items(), key=lambda kv: kv[1]["budget_s"]):
        lines.append(
            f"| {name} | {x['budget_s']:.1f} | {x['wall_s']:.1f} | {x['trials']} | {x['front']} "
            f"| {', '.join(f'#{t}' for t in x['picked'])} |"
        )
    lines += [
        "",
        f"Each trial: the sampled network trained from scratch for {args.trial_epochs} epoch(s) on the "
        "weight part of the search split (nas/data.py search_split), scored by accuracy on its architecture "
        "part and by table latency. The 1x study is the prefix of the larger study's trials that ended "
        "within its budget. Fine-tuned per front: designs spread evenly along it, and for every dian point the "
        "most accurate design (by validation) at least as fast as it.",
    ]
    return "\n".join(lines) + "\n"


def from_json(path: Path) -> tuple[dict[str, Any], dict[str, Any], argparse.Namespace, SearchSettings]:
    """A finished run's results, environment, arguments and settings back from its cosearch.json, to
    re-render the report (new verdict rules or wording) without the 45-minute run."""
    doc = json.loads(path.read_text())
    args = argparse.Namespace(**doc["args"])
    points = []
    for d in doc["points"]:
        d = dict(d)
        d["arch"] = Arch(tuple(d["arch"]["ops"]), tuple(d["arch"]["widths"]))
        points.append(Point(**d))
    res = {
        "points": points,
        "runs": doc["runs"],
        "blackbox": doc["blackbox"],
        "dse": doc["dse"],
        "table_s": doc["table_s"],
        "dian_s": doc["dian_s"],
        "trials": doc["trials"],
        "n_test": len(load_dataset(args.dataset).y_test),
        "space": SPACES[args.dataset],
        "hardware": hardware_space(args.target, quick=args.quick).options(),
    }
    return res, doc["env"], args, SearchSettings(**doc["settings"])


def parse_settings(args: argparse.Namespace) -> SearchSettings:
    base = SearchSettings(seed=args.seed)
    extra: dict[str, Any] = {}
    if args.search_epochs is not None:
        extra["epochs"] = args.search_epochs
    if args.warmup_epochs is not None:
        extra["warmup_epochs"] = args.warmup_epochs
    fields = {f.name: f.type for f in dataclasses.fields(SearchSettings)}
    for item in args.setting:
        k, _, val = item.partition("=")
        if k not in fields or k in ("lam", "seed"):
            raise SystemExit(
                f"--setting {item}: the key must be a SearchSettings field other than lam and seed "
                f"({', '.join(f for f in fields if f not in ('lam', 'seed'))})."
            )
        default = getattr(base, k)
        extra[k] = type(default)(val)
    if "epochs" in extra and "warmup_epochs" not in extra:
        extra["warmup_epochs"] = min(base.warmup_epochs, extra["epochs"])
    return dataclasses.replace(base, **extra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="digits", choices=sorted(SPACES))
    ap.add_argument("--target", default="ecp5-85k")
    ap.add_argument("--lams", help=f"dian's cost weights, comma-separated (default: {FULL['lams']})")
    ap.add_argument(
        "--finetune-epochs",
        type=int,
        help=f"every final network's training epochs (default: {FULL['finetune_epochs']})",
    )
    ap.add_argument(
        "--trial-epochs", type=int, help=f"training epochs of each black-box trial (default: {FULL['trial_epochs']})"
    )
    ap.add_argument(
        "--budget-scale", type=float, help=f"the larger black-box budget, x dian's (default: {FULL['budget_scale']:g})"
    )
    ap.add_argument(
        "--points", type=int, default=0, help="(c) front designs fine-tuned per budget (default: as many as --lams)"
    )
    ap.add_argument(
        "--dse-trials", type=int, help=f"dian's optuna DSE for (a), 0 to skip (default: {FULL['dse_trials']})"
    )
    ap.add_argument("--search-epochs", type=int, help="co-search epochs (default: SearchSettings')")
    ap.add_argument("--warmup-epochs", type=int, help="co-search warm-up epochs (default: SearchSettings')")
    ap.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other SearchSettings field, e.g. arch_lr=0.05 (repeatable)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-int8", action="store_true", help="skip the int8 accuracy")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings for a smoke test (~3 min): the quick "
        "hardware space, " + ", ".join(f"{k} {v}" for k, v in QUICK.items()),
    )
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="re-render the report of a finished run from its cosearch.json (no training)",
    )
    args = ap.parse_args()
    if args.from_json:
        res, env, args, settings = from_json(args.from_json)
        env["rendered_by"] = _git_head()
        write(report(res, env, args, settings), res, env, args, settings)
        return
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k, None) is None:
            setattr(args, k, v)
    settings = parse_settings(args)
    env: dict[str, Any] = {
        "command": " ".join(["benchmarks/bench_cosearch.py", *sys.argv[1:]]),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load": [os.getloadavg()[0]],
        "git": _git_head(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    t0 = time.perf_counter()
    res = run(args, settings)
    env["seconds"] = time.perf_counter() - t0
    env["load"].append(os.getloadavg()[0])
    write(report(res, env, args, settings), res, env, args, settings)


def _git_head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=RESULTS.parent.parent
    ).stdout.strip()


def write(
    text: str, res: dict[str, Any], env: dict[str, Any], args: argparse.Namespace, settings: SearchSettings
) -> None:
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "cosearch.md").write_text(text)
        doc = {
            "env": env,
            "args": {k: v for k, v in vars(args).items() if k != "from_json"},
            "settings": dataclasses.asdict(settings),
            "verdicts": verdicts(res, f"{args.budget_scale:g}x"),
            "table_s": res["table_s"],
            "dian_s": res["dian_s"],
            "dse": res["dse"],
            "blackbox": res["blackbox"],
            "runs": res["runs"],
            "points": [p.doc(res["space"]) for p in res["points"]],
            "trials": res["trials"],
        }
        (RESULTS / "cosearch.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
