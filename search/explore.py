"""Design-space exploration: accelerator configs for one network and target.

A trial draws an AccelConfig (array size, buffer sizes, DRAM bus width,
dataflows, IMEM) with optuna's TPE sampler, rejects it when it does not fit
the target (hwgen.accel_config.validate: on-chip RAM, DSP plan; the
calibrated LUT estimate of search/resources.py), maps every layer with the
exact cost model (search/mapper.py) and scores it by the objective: latency
(exact cycles at the clock the design is priced at: search/fmax.py's predicted
Fmax, capped by the platform's clock), energy (search/energy.py) or their
product. Every evaluated design is kept; the Pareto front is taken over
latency and energy among the designs that fit.

With ``fusion`` a trial that draws the depthwise unit also draws a fusion buffer
(``AccelConfig.fbuf``: none, or 4 to 64 KiB, at most the IBUF's size) and, with one,
fusion stage P2 (``fuse_expand``); such a design is priced exactly, fused blocks and
all (search/fused_cost.py), which takes seconds rather than a fraction of one (it
times every candidate tiling's program), so it is opt-in. A config given to
:func:`explore` (``extra``) may have a fusion buffer too and competes like a drawn one. A
config with a field the RTL does not build (``accel_config.rtl_misfit``; none
today) is priced but kept with ``fits`` False and the RTL's reason, so no
search ever picks a design the RTL refuses.

The target fixes what the platform decides: DRAM latency and the clock asked
for (``PLATFORM``), which caps the clock a design is priced at; the config's
name is ``dse-<trial>``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dian.errors import AccelConfigError, ProgramError, ScheduleError
from dian.hwgen.accel_config import AccelConfig, BufferConfig, Dataflow, rtl_misfit, validate
from dian.hwgen.encoding import Encoding
from dian.hwgen.lower.workload import check_runnable, needs_lut
from dian.hwgen.targets import ROUTABLE_LUT_SHARE, TARGET_FABRIC, Target
from dian.ir import Graph

from .cost_model import network_cost
from .fmax import predicted_fmax_mhz, priced_clock_mhz
from .mapper import map_graph
from .objective import Objective
from .resources import Resources, estimate

#: DRAM latency (cycles) and the clock (MHz) asked of a design on each target (the presets' values):
#: the cap of the clock it is priced at (:attr:`Design.clock_mhz`).
PLATFORM: dict[Target, tuple[int, float]] = {
    Target.ECP5_25K: (16, 100.0),
    Target.ECP5_85K: (24, 150.0),
    Target.ICE40_UP5K: (16, 24.0),
    Target.GENERIC: (24, 150.0),
}
LUT_BUDGET = {Target.ECP5_25K: 24_288, Target.ECP5_85K: 83_640, Target.ICE40_UP5K: 5_280}
BRAM_BUDGET = {t: f.brams for t, f in TARGET_FABRIC.items() if f is not None and f.brams}  # DP16KD / SB_RAM40_4K


@dataclass(frozen=True)
class Design:
    """One evaluated config."""

    trial: int
    cfg: AccelConfig
    fits: bool
    why: str  # why it does not fit ("" when it does)
    cycles: int = 0
    energy_uj: float = 0.0
    resources: Resources | None = None
    fmax_mhz: float | None = None  # search/fmax.py's prediction (None: the target is not modelled)

    @property
    def clock_mhz(self) -> float:
        """The clock the design is priced at: the predicted Fmax capped by the asked clock."""
        return priced_clock_mhz(self.cfg, self.fmax_mhz)

    @property
    def latency_us(self) -> float:
        return self.cycles / self.clock_mhz

    def score(self, objective: Objective) -> float:
        if not self.fits:
            return math.inf
        return {"latency": self.latency_us, "energy": self.energy_uj, "edp": self.latency_us * self.energy_uj}[
            objective
        ]


def config_of(
    params: dict[str, int | str], target: Target, trial: int, lut_tables: int = 0, clock_mhz: float | None = None
) -> AccelConfig:
    """The AccelConfig of a trial's parameters (log2 sizes in bytes), with ``lut_tables`` lookup tables
    a half (1 for a network with pointwise ops, else 0: no LUT stage), asking for ``clock_mhz``
    (default: the target's); raises AccelConfigError if invalid."""
    L = int(params["lanes"])
    latency, clock = PLATFORM[target]
    clock = clock_mhz or clock
    dataflows = (Dataflow.GEMM, Dataflow.DEPTHWISE) if params["depthwise"] == "yes" else (Dataflow.GEMM,)
    fbuf_log2 = int(params.get("fbuf_log2", 0))  # 0: no fusion buffer
    return validate(
        AccelConfig(
            name=f"dse-{trial}",
            pe_rows=L,
            pe_cols=L,
            dataflows=dataflows,
            ibuf=BufferConfig(2 ** int(params["ibuf_log2"])),
            wbuf=BufferConfig(2 ** int(params["wbuf_log2"])),
            abuf=BufferConfig(2 ** int(params["abuf_log2"])),
            obuf=BufferConfig(2 ** int(params["obuf_log2"])),
            dram_bus_bits=min(int(params["bus_bits"]), 8 * L),
            dram_latency=latency,
            target=target,
            clock_mhz=clock,
            imem_instructions=int(params["imem"]),
            lut_tables=lut_tables,
            fbuf=BufferConfig(2**fbuf_log2 if fbuf_log2 else 0),
            fuse_expand=bool(fbuf_log2) and params.get("fuse_expand") == "yes",
        )
    )


#: Why a design the RTL cannot build is kept out of the choice (its figures are still priced).
RTL_REFUSES = "priced only: the RTL cannot build it"


def evaluate(graph: Graph, cfg: AccelConfig, trial: int, objective: Objective) -> Design:
    """Map ``graph`` on ``cfg`` and measure it; a config that does not fit is returned with ``fits`` False
    (one the RTL cannot build, by ``rtl_misfit``, with its exact cycles and energy all the same)."""
    res = estimate(cfg)
    why = misfit(res, cfg.target) or encoding_misfit(cfg)
    if why:
        return Design(trial, cfg, False, why, resources=res)
    try:
        plans = map_graph(graph, cfg, objective, top_k=16)
    except ScheduleError as e:
        return Design(trial, cfg, False, str(e).split(":")[0], resources=res)
    nc = network_cost(graph, cfg, plans)
    unbuilt = RTL_REFUSES if rtl_misfit(cfg) else ""
    return Design(trial, cfg, not unbuilt, unbuilt, nc.cycles, nc.energy_pj / 1e6, res, predicted_fmax_mhz(cfg))


def encoding_misfit(cfg: AccelConfig) -> str:
    """Why ``cfg``'s instructions do not fit the instruction word ("" when they do): the address and
    count fields grow with the buffers' depth, so a config can pass :func:`validate` and the resource
    checks yet have no program encoding. Design-space searches reject such configs up front rather
    than let the compile of the chosen design fail."""
    try:
        Encoding(cfg)
    except ProgramError as e:
        return str(e).split(": ", 1)[-1]
    return ""


def lut_limit(target: Target) -> int | None:
    """The most LUTs a design on ``target`` may use by the estimate (None: no limit):
    :data:`ROUTABLE_LUT_SHARE` of the part's."""
    budget = LUT_BUDGET.get(target)
    return None if budget is None else round(ROUTABLE_LUT_SHARE * budget)


def misfit(res: Resources, target: Target) -> str:
    """Why a design with estimated resources ``res`` does not fit ``target`` ("" when it fits)."""
    limit = lut_limit(target)
    if limit is not None and res.luts > limit:
        return (
            f"estimated {res.luts:,} LUTs > {limit:,} ({ROUTABLE_LUT_SHARE:.0%} of the part's "
            f"{LUT_BUDGET[target]:,}: fuller designs have not routed)"
        )
    brams = BRAM_BUDGET.get(target)  # search/resources.py counts them as Yosys does (resource_fit.md, ice40.md)
    if brams is not None and res.brams > brams:
        return f"estimated {res.brams} block RAMs > {brams}"
    return ""


def smallest_misfit(target: Target) -> str:
    """Why even ``nano``, the least hardware that runs the zoo's LeNet, does not fit ``target`` by the
    resource estimate: its LUTs and its block RAMs ("" when it fits)."""
    from dian.hwgen.presets import PRESETS

    res = estimate(dataclasses.replace(PRESETS["nano"], target=target))
    over = []
    limit = lut_limit(target)
    if limit is not None and res.luts > limit:
        share = f"{ROUTABLE_LUT_SHARE:.0%} of its {LUT_BUDGET[target]:,}"
        over.append(f"~{res.luts:,} LUT4 of the {limit:,} a design may use ({share})")
    if target in BRAM_BUDGET and res.brams > BRAM_BUDGET[target]:
        over.append(f"{res.brams} block RAMs of its {BRAM_BUDGET[target]}")
    return " and ".join(over)


def explore(
    graph: Graph,
    target: Target,
    objective: Objective,
    trials: int,
    seed: int = 0,
    progress: Callable[[int, Design], None] | None = None,
    clock_mhz: float | None = None,
    extra: Sequence[AccelConfig] = (),
    fusion: bool = False,
) -> list[Design]:
    """Run ``trials`` optuna trials; every design evaluated, in trial order, each asking for
    ``clock_mhz`` (default: the target's), then each config of ``extra`` as given (trials
    ``trials``, ``trials + 1``, ...: a config file's design priced beside the drawn ones, e.g. one
    with a fusion buffer); with ``fusion`` the trials draw a fusion buffer and stage P2 too (see the
    module docstring). A graph with an op no accelerator runs raises its :class:`ScheduleError`
    before any trial."""
    check_runnable(graph)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    designs: list[Design] = []

    lanes = feasible_lanes(target)
    if not lanes:
        why = smallest_misfit(target)
        raise AccelConfigError(
            f"no PE array from 2x2 to 16x16 fits {target.value}'s logic, even with the smallest "
            f"buffers (search/resources.py's estimate)"
            + (f": the nano preset (2x2 PEs, the least hardware that runs LeNet) needs {why}" if why else "")
            + "; pick a larger target."
        )

    def run(trial: optuna.Trial) -> float:
        L = trial.suggest_categorical("lanes", lanes)
        params: dict[str, int | str] = {
            "lanes": L,
            "bus_bits": trial.suggest_categorical("bus_bits", [32, 64, 128]),
            "ibuf_log2": trial.suggest_int("ibuf_log2", 12, 17),
            "wbuf_log2": trial.suggest_int("wbuf_log2", 10, 16),
            "abuf_log2": trial.suggest_int("abuf_log2", 12, 17),
            "obuf_log2": trial.suggest_int("obuf_log2", 10, 15),
            "imem": trial.suggest_categorical("imem", [256, 512, 1024]),
            "depthwise": trial.suggest_categorical("depthwise", ["yes", "no"]),
        }
        if fusion and params["depthwise"] == "yes":  # fused blocks are depthwise blocks
            # 0 (none) or 4 to 64 KiB, at most the IBUF (FBUF addresses travel in its fields)
            params["fbuf_log2"] = trial.suggest_categorical("fbuf_log2", [0, 12, 13, 14, 15, 16])
            if params["fbuf_log2"] and int(params["fbuf_log2"]) > int(params["ibuf_log2"]):
                params["fbuf_log2"] = params["ibuf_log2"]
            if params["fbuf_log2"]:
                params["fuse_expand"] = trial.suggest_categorical("fuse_expand", ["yes", "no"])
        try:
            cfg = config_of(params, target, trial.number, int(needs_lut(graph)), clock_mhz)
        except AccelConfigError as e:
            d = Design(trial.number, _placeholder(target, trial.number), False, misfit_reason(e))
        else:
            d = evaluate(graph, cfg, trial.number, objective)
        designs.append(d)
        if progress is not None:
            progress(trial.number, d)
        return d.score(objective) if d.fits else 1e30

    study.optimize(run, n_trials=trials)
    for i, cfg in enumerate(extra):
        d = evaluate(graph, cfg, trials + i, objective)
        designs.append(d)
        if progress is not None:
            progress(d.trial, d)
    return designs


def smallest_design_params(lanes: int) -> dict[str, int | str]:
    """The search's smallest design of an array size: 4 KiB buffers, a 32-bit bus, IMEM 256 and
    no depthwise unit (what `feasible_lanes` asks to fit)."""
    return {
        "lanes": lanes,
        "bus_bits": 32,
        "ibuf_log2": 12,
        "wbuf_log2": 12,
        "abuf_log2": 12,
        "obuf_log2": 12,
        "imem": 256,
        "depthwise": "no",
    }


def feasible_lanes(target: Target) -> list[int]:
    """Array sizes whose smallest design (4 KiB buffers, 32-bit bus, IMEM 256) fits the target's
    LUTs by the resource estimate (at most :data:`ROUTABLE_LUT_SHARE` of them): the search draws only
    these."""
    out = []
    for L in (2, 4, 8, 16):
        try:
            cfg = config_of(smallest_design_params(L), target, -1)
        except AccelConfigError:
            continue
        limit = lut_limit(target)
        if limit is None or estimate(cfg).luts <= limit:
            out.append(L)
    return out


def _placeholder(target: Target, trial: int) -> AccelConfig:
    """A config standing for a trial whose parameters were invalid (never evaluated)."""
    from dian.hwgen.presets import PRESETS

    return dataclasses.replace(PRESETS["tiny"], name=f"dse-{trial}-invalid", target=target)


def misfit_reason(error: AccelConfigError) -> str:
    """What a rejected config's error says is wrong (the field and the figures), without its advice."""
    return "; ".join(str(error).removeprefix("accelerator config: ").split("; ")[:2])


def choose(designs: list[Design], objective: Objective) -> Design:
    """The fitting design with the best ``objective``; ties go to the lower energy, then the fewer
    cycles, then the earlier trial, so the choice is always on the :func:`pareto` front."""
    fitting = [d for d in designs if d.fits]
    if not fitting:
        raise ValueError("no design fits")
    return min(fitting, key=lambda d: (d.score(objective), d.energy_uj, d.cycles, d.trial))


def pareto(designs: list[Design]) -> list[Design]:
    """The designs that fit and no other fitting design beats in both latency and energy."""
    ok = sorted((d for d in designs if d.fits), key=lambda d: (d.latency_us, d.energy_uj, d.trial))
    front: list[Design] = []
    best_energy = math.inf
    for d in ok:
        if d.energy_uj < best_energy:
            front.append(d)
            best_energy = d.energy_uj
    return front
