"""The co-search's accelerator space: factored choices a softmax can relax.

DNA relaxes each hardware knob on its own; so does dian: the PE array size,
the on-chip buffer size class and the DRAM bus width each get a vector of
logits, and a config's probability is the product of its knobs'
probabilities, renormalised over the configs that fit the target (the
calibrated resource estimate of search/resources.py, with explore's block
RAM margin). DRAM latency and the clock asked are the target's
(search/explore.py PLATFORM); each option is priced at its own clock, the Fmax
search/fmax.py predicts for it capped by the asked one, so the latency
objective is cycles over that clock, not cycles alone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from dian.errors import AccelConfigError, SearchSpaceError
from dian.hwgen.accel_config import AccelConfig
from dian.hwgen.targets import TARGET_RAM_BYTES, Target
from dian.search.explore import config_of, encoding_misfit, feasible_lanes, misfit, smallest_misfit
from dian.search.fmax import predicted_fmax_mhz, priced_clock_mhz
from dian.search.resources import Resources, estimate

#: Buffer size classes: log2 bytes of (IBUF, WBUF, ABUF, OBUF).
BUFFER_CLASSES: dict[str, tuple[int, int, int, int]] = {
    "4K": (12, 11, 12, 11),
    "16K": (14, 13, 14, 12),
    "64K": (16, 15, 16, 14),
}
BUS_BITS = (32, 64, 128)
IMEM = 512
#: Largest array per target in the default space: the 16x16 array on ECP5-85k fits by synthesis
#: but nextpnr had not routed it after 37 min (benchmarks/results/synth_ecp5.md), so a search
#: that picked it could not end in a timed design.
MAX_LANES = {Target.ECP5_25K: 8, Target.ECP5_85K: 8}


@dataclass(frozen=True)
class HardwareOption:
    """One point of the product space: its knob indices, config and whether it fits."""

    knobs: tuple[int, int, int]
    cfg: AccelConfig
    resources: Resources
    why_not: str  # "" when it fits the target
    fmax_mhz: float | None = None  # search/fmax.py's prediction (None: the target is not modelled)

    @property
    def clock_mhz(self) -> float:
        """The clock the option is priced at: the predicted Fmax capped by the asked clock."""
        return priced_clock_mhz(self.cfg, self.fmax_mhz)

    @property
    def fits(self) -> bool:
        return not self.why_not

    @property
    def label(self) -> str:
        c = self.cfg
        return f"{c.pe_rows}x{c.pe_cols} PEs, {BUFFER_LABELS[self.knobs[1]]} buffers, {c.dram_bus_bits}-bit bus"


BUFFER_LABELS = tuple(BUFFER_CLASSES)


@dataclass(frozen=True)
class HardwareSpace:
    """The knobs' values on one target, and every combination."""

    target: Target
    lanes: tuple[int, ...]
    buffers: tuple[str, ...]
    bus_bits: tuple[int, ...]

    @property
    def knob_sizes(self) -> tuple[int, int, int]:
        return len(self.lanes), len(self.buffers), len(self.bus_bits)

    def options(self) -> list[HardwareOption]:
        """Every combination in knob order (lanes slowest, bus fastest)."""
        out = []
        for n, (li, bi, wi) in enumerate(itertools.product(*(range(k) for k in self.knob_sizes))):
            out.append(hardware_option(self, (li, bi, wi), n))
        return out


def hardware_option(space: HardwareSpace, knobs: tuple[int, int, int], n: int) -> HardwareOption:
    li, bi, wi = knobs
    ib, wb, ab, ob = BUFFER_CLASSES[space.buffers[bi]]
    params: dict[str, int | str] = {
        "lanes": space.lanes[li],
        "bus_bits": space.bus_bits[wi],
        "ibuf_log2": ib,
        "wbuf_log2": wb,
        "abuf_log2": ab,
        "obuf_log2": ob,
        "imem": IMEM,
        "depthwise": "yes",
    }
    try:
        cfg = config_of(params, space.target, n)
    except AccelConfigError as e:  # e.g. the DSP plan cannot place the array: never built
        raise SearchSpaceError(f"hardware option {knobs} is not a valid config: {e}") from e
    cfg = _named(cfg, space, knobs)
    res = estimate(cfg)
    why = misfit(res, space.target) or encoding_misfit(cfg)
    return HardwareOption(knobs, cfg, res, why, predicted_fmax_mhz(cfg))


def _named(cfg: AccelConfig, space: HardwareSpace, knobs: tuple[int, int, int]) -> AccelConfig:
    import dataclasses

    li, bi, _ = knobs
    return dataclasses.replace(
        cfg, name=f"cosearch-{space.lanes[li]}x{space.lanes[li]}-{space.buffers[bi]}-bus{cfg.dram_bus_bits}"
    )


def hardware_space(target: str | Target, quick: bool = False) -> HardwareSpace:
    """The knobs for ``target``: every array size whose smallest design fits (up to
    :data:`MAX_LANES`), the buffer classes its on-chip RAM holds, three bus widths (``quick``: two
    array sizes, two buffer classes, one bus — for tests and CI)."""
    try:
        t = Target(target)
    except ValueError:
        raise SearchSpaceError(f"unknown target {target!r}; targets: {', '.join(x.value for x in Target)}.") from None
    lanes = tuple(L for L in feasible_lanes(t) if MAX_LANES.get(t, 16) >= L)
    if not lanes:
        why = smallest_misfit(t)
        need = f" (even the nano preset, 2x2 PEs, needs {why} by search/resources.py's estimate)" if why else ""
        raise SearchSpaceError(f"no PE array fits {t.value}{need}; pick a larger target.")
    ram = TARGET_RAM_BYTES[t]
    buffers = tuple(b for b in BUFFER_LABELS if ram is None or sum(2**x for x in BUFFER_CLASSES[b]) <= ram)
    if quick:
        return HardwareSpace(t, lanes[-2:] if len(lanes) > 1 else lanes, buffers[:2], (32,))
    return HardwareSpace(t, lanes, buffers, BUS_BITS)
