"""``dian explore``: search accelerator configs for a model on a target, then
compile the chosen one.

The output folder is a complete ``dian compile --accel`` folder for the
chosen design (so ``dian simulate`` and ``dian synth`` work on it), plus
``explore/``: ``designs.json`` (every trial: config, fit, cycles, predicted
Fmax and the clock it is priced at, energy, resources), ``pareto.md`` (the
latency/energy Pareto front as a table) and ``pareto.png`` (every fitting
design, the front and the choice). The chosen design is compiled at the clock
it was priced at (search/fmax.py: the predicted Fmax capped by the asked
clock), so ``dian synth`` asks nextpnr for the clock the ranking assumed.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.presets import load_accel_config
from dian.hwgen.targets import Target

from . import outdir
from .api import CompileResult, _Progress, _write_compiled
from .compile_front import CalibOptions, run_frontend
from .errors import AccelConfigError
from .search.explore import Design, choose, explore, pareto
from .search.fmax import extrapolated, load_fit
from .search.objective import Objective, check_objective

EXPLORE = "explore"


@dataclass(frozen=True)
class ExploreResult:
    compiled: CompileResult
    designs: tuple[Design, ...]
    front: tuple[Design, ...]
    chosen: Design


def _row(d: Design, chosen: Design) -> str:
    c, r = d.cfg, d.resources
    mark = " **chosen**" if d is chosen else ""
    res = f"{r.luts:,} | {r.dsps} | {r.brams}" if r is not None else "- | - | -"
    kib = lambda b: f"{b.bytes // 1024}"  # noqa: E731
    return (
        f"| {d.trial}{mark} | {c.pe_rows}x{c.pe_cols} | {kib(c.ibuf)}/{kib(c.wbuf)}/{kib(c.abuf)}/{kib(c.obuf)} "
        f"| {c.dram_bus_bits} | {_modes(c)} | {c.imem_instructions} "
        f"| {d.cycles:,} | {_mhz(d)} | {d.clock_mhz:g} | {d.latency_us:,.1f} | {d.energy_uj:,.1f} | {res} |"
    )


def _modes(c: AccelConfig) -> str:
    """The dataflows, and the fusion buffer (KiB) with its stage: ``+dw fb64 P2``."""
    modes = "+dw" if len(c.dataflows) > 1 else "gemm"
    if c.fbuf.bytes:
        modes += f" fb{c.fbuf.bytes // 1024} {'P2' if c.fuse_expand else 'P1'}"
    return modes


def _mhz(d: Design) -> str:
    if d.fmax_mhz is None:
        return "-"
    return f"{d.fmax_mhz:.1f}" + ("*" if extrapolated(d.cfg) else "")


def fmax_note() -> str:
    """What the predicted Fmax rests on: the calibration's points, RTL and error."""
    fit = load_fit()
    if fit is None:
        return "no Fmax calibration (search/fmax_fit.json): designs priced at the target's clock"
    return f"predicted Fmax by search/fmax.py from {fit.error_text()} (benchmarks/results/fmax_fit.md)"


def _table(designs: list[Design], front: list[Design], chosen: Design, head: str) -> str:
    lines = [
        head,
        "",
        "| trial | PEs | IBUF/WBUF/ABUF/OBUF KiB | bus bits | modes | IMEM | cycles | Fmax MHz (pred.) "
        "| clock MHz | latency us | energy uJ | LUTs (est.) | DSPs | BRAMs |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [_row(d, chosen) for d in front]
    if any(extrapolated(d.cfg) for d in front):
        fit = load_fit()
        spans = ", ".join(f"{f} {lo:.3g}..{hi:.3g}" for f, lo, hi in fit.ranges) if fit else ""
        lines += ["", f"\\* extrapolated: a feature of the config outside the calibration's points ({spans})."]
    priced = [d for d in designs if not d.fits and d.cycles]
    if priced:  # designs priced but not choosable (a field the RTL does not build: accel_config.rtl_misfit)
        lines += ["", "Priced, not chosen (the RTL cannot build them):", ""]
        lines += [
            f"- trial {d.trial} ({d.cfg.name}, FBUF {d.cfg.fbuf.bytes // 1024} KiB): {d.cycles:,} cycles = "
            f"{d.latency_us:,.1f} us at {d.clock_mhz:g} MHz, {d.energy_uj:,.1f} uJ"
            for d in priced
        ]
    misfits = [d for d in designs if not d.fits]
    lines += [
        "",
        f"{len(designs)} designs tried, {len(designs) - len(misfits)} fit the target; "
        f"{len(front)} on the Pareto front.",
    ]
    if misfits:
        lines += ["", "Designs that do not fit (first 10):", ""] + [f"- trial {d.trial}: {d.why}" for d in misfits[:10]]
    return "\n".join(lines) + "\n"


def _plot(designs: list[Design], front: list[Design], chosen: Design, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [d for d in designs if d.fits]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=100)
    ax.scatter([d.latency_us for d in ok], [d.energy_uj for d in ok], s=14, c="0.6", label="designs that fit")
    ax.plot([d.latency_us for d in front], [d.energy_uj for d in front], "o-", c="tab:blue", ms=5, label="Pareto front")
    ax.scatter([chosen.latency_us], [chosen.energy_uj], marker="*", s=220, c="tab:red", zorder=3, label="chosen")
    ax.set_xlabel("latency (us, exact cycles at the predicted Fmax, capped by the target clock)")
    ax.set_ylabel("energy (uJ, estimate)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _design_doc(d: Design) -> dict[str, Any]:
    r = d.resources
    return {
        "trial": d.trial,
        "fits": d.fits,
        "why": d.why,
        "config": json.loads(d.cfg.to_json()),
        "cycles": d.cycles,
        "fmax_mhz_predicted": d.fmax_mhz,
        "clock_mhz_priced": d.clock_mhz,
        "latency_us": d.latency_us,
        "energy_uj": d.energy_uj,
        "resources": None if r is None else {"luts": r.luts, "ffs": r.ffs, "dsps": r.dsps, "brams": r.brams},
    }


def explore_model(
    model: str,
    input_shape: tuple[int, ...] | None,
    out_dir: str | Path,
    target: str,
    objective: str = "latency",
    trials: int = 40,
    seed: int = 0,
    calib_samples: int | None = None,
    progress: bool = False,
    rtl: bool = True,
    force: bool = False,
    calib: CalibOptions | None = None,
    max_clock_mhz: float | None = None,
    price: tuple[str, ...] = (),
    fusion: bool = False,
) -> ExploreResult:
    """Explore ``trials`` configs for ``model`` on ``target``, keep the best by ``objective`` and
    compile the model for it into ``out_dir`` (atomically, with the exploration in ``explore/``);
    ``out_dir`` and ``force`` as for :func:`dian.api.compile_model`; ``calib`` its calibration
    options (default: ``calib_samples`` samples from the model's hook or synthetic noise, max-abs);
    ``max_clock_mhz`` the clock asked of every design (default: the target's), which caps the
    clock it is priced at; ``price`` accelerator configs (presets or .json files) priced beside the
    trials, as given (one with a fusion buffer is priced with its fused blocks and may be chosen);
    ``fusion``: the trials draw a fusion buffer and fusion stage P2 too (search/explore.py)."""
    out_path = Path(out_dir)
    outdir.check_target(out_path.absolute(), force=force, keep=outdir.model_source(model))
    calib = calib or CalibOptions(samples=calib_samples)
    calib.check()
    check_objective(objective)
    try:
        tgt = Target(target)
    except ValueError:
        raise AccelConfigError(
            f"unknown target {target!r}; the targets are {', '.join(t.value for t in Target)}."
        ) from None
    if trials < 1:
        raise AccelConfigError(f"explore needs at least 1 trial; got {trials}.")
    if max_clock_mhz is not None and not 1.0 <= max_clock_mhz <= 1000.0:
        raise AccelConfigError(f"--max-clock must be 1 to 1000 MHz; got {max_clock_mhz:g}.")
    given = [load_accel_config(spec) for spec in price]
    say = _Progress(progress)
    front_end = run_frontend(model, input_shape, calib, seed, say)
    obj: Objective = objective  # type: ignore[assignment]

    def tick(i: int, d: Design) -> None:
        state = f"{d.cycles:,} cycles, {d.energy_uj:,.1f} uJ" if d.fits or d.cycles else ""
        state += ("; " if state else "") + ("" if d.fits else f"does not fit: {d.why}")
        what = f"trial {i + 1}/{trials}" if i < trials else f"given config {d.cfg.name}"
        say(f"{what}: {d.cfg.pe_rows}x{d.cfg.pe_cols} PEs, {state}")

    designs = explore(front_end.int_graph, tgt, obj, trials, seed, tick, max_clock_mhz, given, fusion)
    fitting = [d for d in designs if d.fits]
    if not fitting:
        raise AccelConfigError(
            f"none of the {trials} designs tried fits {tgt.value} (the first: "
            f"{designs[0].why}); try more trials or a larger target."
        )
    chosen = choose(designs, obj)
    front = pareto(designs)
    head = (
        f"# dian explore: {front_end.int_graph.name} on {tgt.value}, objective {objective}\n\n"
        f"{trials} trials (optuna TPE, seed {seed}); latency is the exact cycle count at the clock a "
        f"design is priced at: its predicted Fmax capped by the asked {chosen.cfg.clock_mhz:g} MHz "
        f"({fmax_note()}). Energy is the estimate of search/energy.py, LUTs the calibrated "
        f"estimate of search/resources.py. Chosen: trial {chosen.trial}."
    )
    extra: dict[str, str | bytes] = {
        f"{EXPLORE}/designs.json": json.dumps([_design_doc(d) for d in designs], indent=1, sort_keys=True) + "\n",
        f"{EXPLORE}/pareto.md": _table(designs, front, chosen, head),
        f"{EXPLORE}/pareto.png": _plot(designs, front, chosen, f"{front_end.int_graph.name} on {tgt.value}"),
    }
    cfg = dataclasses.replace(chosen.cfg, clock_mhz=chosen.clock_mhz)
    compiled = _write_compiled(
        out_path,
        front_end,
        model,
        seed,
        cfg,
        f"explore:{cfg.name}",
        rtl,
        objective,
        say,
        extra,
        force=force,
    )
    return ExploreResult(compiled, tuple(designs), tuple(front), chosen)
