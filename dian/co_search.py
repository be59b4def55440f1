"""`dian search`: co-search a network and its accelerator, then build and verify the result.

The steps, each reported as it runs:

1. price every option of the network space (nas/space.py) on every hardware option the
   target allows (nas/hardware.py) with the exact cost model: the cost tables;
2. the co-search (nas/cosearch.py), checkpointed after every epoch in DIR/search/ so an
   interrupted run continues with ``--resume``;
3. derive the argmax network and hardware, retrain the network from scratch on the whole
   training split, and write it as a model file (DIR/net/);
4. compile it for the chosen accelerator (DIR/compiled/, as `dian compile --accel`);
5. measure the int8 accuracy on the test split with the reference simulator, and run test
   images on the machine simulator and on the RTL in Verilator, every byte and cycle checked;
6. synthesize (and place and route) the RTL for the target: resources and Fmax;
7. write DIR/report.md with its plots (DIR/plots/) and DIR/search.json.

A folder without report.md is unfinished: ``--resume`` picks the search up from its
checkpoint and redoes the later steps, which are deterministic.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import outdir
from .errors import OutputDirError, SearchSpaceError
from .safe_paths import make_dirs, refuse_symlinks, write_file

SEARCH_DIR, NET_DIR, COMPILED_DIR, PLOTS_DIR = "search", "net", "compiled", "plots"
REPORT, SUMMARY_JSON = "report.md", "search.json"
FORMAT = "dian.search"


@dataclass(frozen=True)
class SearchOptions:
    """What `dian search` was asked for (beyond the co-search's own settings)."""

    dataset: str
    target: str
    budget_minutes: float | None = None
    retrain_epochs: int = 20
    front_epochs: int = 5  # training of each distinct derived design for the explored front
    cosim_images: int = 2
    synth: bool = True
    place_and_route: bool = True
    quick_hardware: bool = False
    calib_samples: int = 64


@dataclass(frozen=True)
class SearchResult:
    out_dir: Path
    summary: dict[str, Any]
    report: str


class _Say:
    """Timestamped progress lines on stderr, and a progress bar over an epoch's mini-batches when
    stderr is a terminal (rich)."""

    def __init__(self, on: bool) -> None:
        self.on, self.t0 = on, time.perf_counter()
        self.bar: Any = None
        if on and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
        self.task: Any = None

    def __call__(self, what: str) -> None:
        if self.on:
            line = f"[{time.perf_counter() - self.t0:7.1f}s] {what}"
            if self.bar is not None:
                self.bar.console.print(line, markup=False, highlight=False)
            else:
                print(line, file=sys.stderr, flush=True)

    def batch(self, done: int, total: int) -> None:
        """Advance the epoch's bar (a new bar when an epoch starts)."""
        if self.bar is None:
            return
        if done == 1:
            if self.task is None:
                self.bar.start()
            else:
                self.bar.remove_task(self.task)
            self.task = self.bar.add_task("  epoch", total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.stop()
            self.task = None


def _check_out(out: Path, resume: bool) -> None:
    from .nas.checkpoint import CHECKPOINT

    checkpoint = out / SEARCH_DIR / CHECKPOINT
    if out.is_symlink():
        raise OutputDirError(f"{out} is a symlink; `dian search --out` writes only into a folder of its own.")
    if resume:
        if not checkpoint.is_file():
            raise OutputDirError(
                f"--resume needs {checkpoint} from an earlier `dian search --out {out}`; it is "
                f"not there. Start the search without --resume."
            )
        refuse_symlinks(out)  # everything the search writes goes inside it
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        hint = " It holds a search checkpoint: add --resume to continue it." if checkpoint.is_file() else ""
        raise OutputDirError(
            f"{out} exists and is not an empty folder; `dian search --out` needs a new or empty folder.{hint}"
        )
    if not out.exists():
        outdir.check_writable(out)  # before the search's minutes


def search_model(
    out_dir: str | Path, options: SearchOptions, settings: Any, resume: bool = False, progress: bool = False
) -> SearchResult:
    """Run `dian search` into ``out_dir`` (see the module doc); ``settings`` is a
    :class:`dian.nas.cosearch.SearchSettings`."""
    from .nas.cosearch import CoSearch
    from .nas.costs import cost_tables
    from .nas.data import load_dataset
    from .nas.hardware import hardware_space
    from .nas.space import SPACES

    out = Path(out_dir).absolute()
    _check_out(out, resume)
    if options.dataset not in SPACES:
        raise SearchSpaceError(
            f"no search space for data set {options.dataset!r}; dian searches on: {', '.join(sorted(SPACES))}."
        )
    if options.retrain_epochs < 1 or options.front_epochs < 0 or options.cosim_images < 1:
        raise SearchSpaceError(
            f"dian search needs at least 1 retraining epoch, 0 or more front epochs and at least "
            f"1 co-simulated image; got {options.retrain_epochs}, {options.front_epochs}, "
            f"{options.cosim_images}."
        )
    if options.budget_minutes is not None and options.budget_minutes <= 0:
        raise SearchSpaceError(f"the budget must be a positive number of minutes; got {options.budget_minutes}.")
    say = _Say(progress)
    space, data = SPACES[options.dataset], load_dataset(options.dataset)
    hw_space = hardware_space(options.target, options.quick_hardware)
    hardware = hw_space.options()
    fitting = sum(h.fits for h in hardware)
    say(
        f"pricing {_n_options(space)} block options of space {space.name} on {len(hardware)} hardware options "
        f"({fitting} fit {hw_space.target.value}) with the exact cost model"
    )
    t0 = time.perf_counter()
    tables = cost_tables(
        space, hardware, on_config=lambda d, n: say(f"  config {d}/{n} priced"), objective=settings.objective
    )
    table_s = time.perf_counter() - t0

    out.mkdir(exist_ok=True)
    search = CoSearch(space, hardware, tables, data, settings, out / SEARCH_DIR)
    if resume:
        search.load()
        remove_partial(out)
        say(f"resumed at epoch {search.state.epoch} of {settings.epochs}")
    budget_s = None if options.budget_minutes is None else options.budget_minutes * 60.0

    def on_epoch(e: Any) -> None:
        say(
            f"epoch {e.epoch}/{settings.epochs}: tau {e.tau:.2f}, loss {e.train_loss:.3f}, expected "
            f"{e.expected_cycles:,.0f} cycles; argmax net {e.val_accuracy:.1%} on the arch split, "
            f"{e.cycles:,.0f} cycles on {hardware[e.hardware].label} ({e.seconds:.1f} s)"
        )

    say(
        f"co-search: {settings.epochs} epochs ({settings.warmup_epochs} warm-up), objective {settings.objective}, "
        f"lambda {settings.lam}" + (f", budget {options.budget_minutes:g} min" if budget_s else "")
    )
    try:
        finished = search.run(budget_s, on_epoch, say.batch)
    finally:
        say.close()
    if not finished:
        say(f"budget reached after epoch {search.state.epoch}: deriving from there")
    arch, h = search.derived()
    chosen = hardware[h]
    say(f"derived network:\n{space.describe(arch)}\non {chosen.label} ({chosen.cfg.name})")

    from .nas.model_file import write_model_file
    from .nas.supernet import derive
    from .nas.train import accuracy, int8_accuracy, train

    explored = explore_front(space, data, settings, search.state.log, hardware, tables, options.front_epochs, say)
    # Retrained from scratch: fine-tuning the supernet's weights did worse on digits (93.8 % against
    # 97.8 % after 5 epochs): a relaxed supernet's weights serve the mixture, not one network.
    say(f"training the derived network from scratch for {options.retrain_epochs} epochs on {len(data.x_train)} images")
    net = derive(space, arch, seed=settings.seed)
    net = train(net, data.x_train, data.y_train, options.retrain_epochs, seed=settings.seed, device=settings.device)
    float_acc = accuracy(net, data.x_test, data.y_test)
    net_dir = make_dirs(out, NET_DIR)
    model_py = write_model_file(net_dir, space, arch, net.state_dict())
    accel_json = net_dir / "accel.json"
    # Compiled (and synthesized) at the clock the search priced it at: the predicted Fmax, capped.
    write_file(accel_json, replace(chosen.cfg, clock_mhz=chosen.clock_mhz).to_json())
    write_file(net_dir / "arch.json", arch.to_json() + "\n")
    say(f"float accuracy {float_acc:.2%} on {len(data.x_test)} test images; wrote {model_py}")

    from . import api

    compiled = api.compile_model(
        f"{model_py}:searched_net",
        None,
        out / COMPILED_DIR,
        calib_samples=options.calib_samples,
        seed=settings.seed,
        progress=False,
        accel=str(accel_json),
        objective=settings.objective,
    )
    say(f"compiled for {chosen.cfg.name} into {compiled.out_dir}")
    int_acc = int8_accuracy(api.load_compiled(compiled.out_dir), data.x_test, data.y_test)
    say(f"int8 accuracy {int_acc:.2%} (reference simulator, {len(data.x_test)} test images)")

    cosim = []
    for i in range(options.cosim_images):
        r = api.simulate_model(compiled.out_dir, np.array(data.x_test[i : i + 1]), rtl=True)
        assert r.rtl is not None
        cosim.append(
            {
                "image": i,
                "label": int(data.y_test[i]),
                "predicted": int(np.argmax(r.output)),
                "cycles_rtl": r.rtl.counters.cycles,
                "cycles_machine": r.machine.counters.cycles,
                "cycles_predicted": r.predicted.cycles,
                "tensors_checked": r.tensors_checked,
            }
        )
        say(
            f"co-simulation {i + 1}/{options.cosim_images}: RTL = machine = reference on {r.tensors_checked} "
            f"tensors, {r.rtl.counters.cycles:,} cycles (predicted {r.predicted.cycles:,})"
        )
    cycles = cosim[0]["cycles_rtl"] if cosim else None

    synth_doc: dict[str, Any] | None = None
    if options.synth:
        say(
            f"synthesizing for {hw_space.target.value}"
            + (" with place and route" if options.place_and_route else " (no place and route)")
        )
        synth_doc = api.synth_model(compiled.out_dir, hw_space.target.value, options.place_and_route).report
        say(synth_doc.get("summary", ""))

    summary = _summary(
        options,
        settings,
        search,
        arch,
        chosen,
        hardware,
        tables,
        table_s,
        float_acc,
        int_acc,
        cosim,
        cycles,
        synth_doc,
        compiled,
    )
    from .nas.report import write_report

    summary["explored"] = explored
    report = write_report(out, space, summary, search.state.log, hardware, tables, arch, compiled.out_dir)
    write_file(out / SUMMARY_JSON, json.dumps(summary, indent=1, sort_keys=True) + "\n")
    say(f"wrote {out / REPORT}")
    return SearchResult(out, summary, report)


def explore_front(
    space: Any, data: Any, settings: Any, log: list[Any], hardware: list[Any], tables: Any, epochs: int, say: _Say
) -> list[dict[str, Any]]:
    """Every distinct (network, hardware) pair the search derived after its warm-up, each network
    trained from scratch for ``epochs`` on the weight split and scored on the architecture split
    (the test split stays for the final design); latency from the exact tables."""
    from .nas.data import search_split
    from .nas.space import Arch
    from .nas.supernet import derive
    from .nas.train import accuracy, train

    split = search_split(data, seed=settings.seed)
    designs: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in log[settings.warmup_epochs :]:
        arch = Arch(tuple(e.arch["ops"]), tuple(e.arch["widths"]))
        key = (arch, e.hardware)
        if key in designs:
            designs[key]["epochs"].append(e.epoch)
            continue
        net = train(
            derive(space, arch, seed=settings.seed),
            split.x_weights,
            split.y_weights,
            epochs,
            seed=settings.seed,
            device=settings.device,
        )
        cycles = tables.network(space, arch, e.hardware)[0]
        designs[key] = {
            "epochs": [e.epoch],
            "arch": {"ops": list(arch.ops), "widths": list(arch.widths)},
            "hardware": hardware[e.hardware].label,
            "cycles": cycles,
            "latency_us": cycles / hardware[e.hardware].clock_mhz,
            "accuracy": accuracy(net, split.x_arch, split.y_arch),
        }
        say(
            f"explored design of epoch {e.epoch}: {designs[key]['accuracy']:.1%} after {epochs} epochs, "
            f"{cycles:,.0f} cycles"
        )
    return list(designs.values())


def _n_options(space: Any) -> int:
    from .nas.costs import block_options

    return len(block_options(space))


def _summary(
    options: SearchOptions,
    settings: Any,
    search: Any,
    arch: Any,
    chosen: Any,
    hardware: list[Any],
    tables: Any,
    table_s: float,
    float_acc: float,
    int_acc: float,
    cosim: list[dict[str, Any]],
    cycles: int | None,
    synth: dict[str, Any] | None,
    compiled: Any,
) -> dict[str, Any]:
    from .search.fmax import extrapolated, load_fit
    from .version import __version__

    fmax = synth.get("fmax_mhz") if synth else None
    clock = fmax or chosen.clock_mhz
    h = hardware.index(chosen)
    fit = load_fit()
    return {
        "format": FORMAT,
        "dian_version": __version__,
        "options": asdict(options),
        "settings": asdict(settings),
        "epochs_run": search.state.epoch,
        "search_seconds": round(search.state.seconds, 1),
        "table_seconds": round(table_s, 1),
        "arch": {"ops": list(arch.ops), "widths": list(arch.widths)},
        "description": search.space.describe(arch).splitlines(),
        "hardware": {
            "name": chosen.cfg.name,
            "label": chosen.label,
            "clock_mhz": chosen.clock_mhz,
            "clock_mhz_asked": chosen.cfg.clock_mhz,
            "fmax_mhz_predicted": chosen.fmax_mhz,
            "fmax_model": None if fit is None else fit.error_text(),
            "fmax_extrapolated": extrapolated(chosen.cfg),
            "luts_estimate": chosen.resources.luts,
            "brams_estimate": chosen.resources.brams,
            "dsps": chosen.resources.dsps,
        },
        "accuracy": {"float": float_acc, "int8": int_acc},
        "cycles": {
            "rtl": cycles,
            "tables": tables.network(search.space, arch, h)[0],
            "schedules": cosim[0]["cycles_predicted"] if cosim else None,
        },
        "cosim": cosim,
        "synth": None
        if synth is None
        else {
            k: synth.get(k)
            for k in ("luts", "ffs", "dsps", "brams", "fmax_mhz", "meets_timing", "summary", "place_and_route")
        },
        "fps": None if cycles is None else clock * 1e6 / cycles,
        "fps_clock_mhz": clock,
        "fps_clock_is_fmax": fmax is not None,
        "macs": int(compiled.manifest.get("accel", {}).get("macs", 0)) or None,
    }


def remove_partial(out: Path) -> None:
    """Drop the derived steps' outputs (kept: the search checkpoint) before they are redone."""
    for name in (NET_DIR, COMPILED_DIR, PLOTS_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in (REPORT, SUMMARY_JSON):
        (out / name).unlink(missing_ok=True)


__all__ = ["SearchOptions", "SearchResult", "search_model"]
