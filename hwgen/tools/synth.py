"""Synthesis with Yosys and, for FPGA targets, place and route with nextpnr.

Targets: ``generic`` (Yosys ``synth``: technology-independent cells),
``ecp5-25k`` / ``ecp5-85k`` (``synth_ecp5``; nextpnr-ecp5, CABGA381, speed 8),
``ice40-up5k`` (``synth_ice40 -dsp``; nextpnr-ice40, SG48).

Resource figures come from Yosys's ``stat -json`` of the synthesized netlist:

- ECP5: ``luts`` = LUT4 + 2 x CCU2C (a carry cell is two LUT4s of a slice)
  + 2 x TRELLIS_DPR16X4 (distributed RAM); ``ffs`` = TRELLIS_FF; ``dsps`` =
  MULT18X18D + ALU54B; ``brams`` = DP16KD (18 Kib each);
- iCE40: ``luts`` = SB_LUT4; ``ffs`` = every SB_DFF*; ``dsps`` = SB_MAC16;
  ``brams`` = SB_RAM40_4K + SB_SPRAM256KA;
- generic: ``cells`` and ``cell_types`` only.

With place and route, Yosys synthesizes the design inside the P&R wrapper of
:mod:`dian.hwgen.tools.pnr_wrapper` (so the figures include the wrapper, at most
``wrapper.luts`` / ``wrapper.ffs``; ``place_and_route=False`` gives the
design's own), and ``fmax_mhz`` is nextpnr's achieved frequency for ``clk``
(nextpnr runs with ``--timing-allow-fail``: a missed clock is a figure, see
``meets_timing``, not an error). nextpnr's own utilization table is kept in
``utilization``; its ECP5 ``TRELLIS_COMB`` count exceeds ``luts`` by the
route-through LUTs it adds.

Yosys's ABC9 mapper (the default of ``synth_ecp5``) fails an assertion in its
``ABC_OPS_REINTEGRATE`` pass on some netlists: 0.69 on the co-search's 8x8
config inside the P&R wrapper, 0.70 on the same config alone. When ECP5
synthesis stops on that assertion it is run again with ABC's ``abc -lut 4:7``
in place of ``synth_ecp5``'s ``map_luts`` step (0.69 has no ``-noabc9``), the
first log is kept as ``yosys_abc9.log``, and the report says so
(``abc9_fallback``, and in ``summary``): a known tool bug costs some LUTs
(+8 % on the 8x8 config) instead of the whole run.

For an FPGA target :meth:`SynthReport.fit` compares the DSP, LUT and block-RAM
figures with the target's (``targets.TARGET_FABRIC``, the vendor's counts):
``fits ecp5-25k: DSP 27 of 28, LUT 13,989 of 24,288, block RAM 20 of 56``; a design that fits
but fills more than ``targets.ROUTABLE_LUT_SHARE`` of the LUTs is told that no design that full
has routed here.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dian.errors import ToolFailedError
from dian.hwgen.targets import ROUTABLE_LUT_SHARE, TARGET_FABRIC
from dian.hwgen.targets import Target as AccelTarget
from dian.hwgen.tools.pnr_wrapper import WrapperCost, wrap
from dian.hwgen.tools.templates import render, render_to
from dian.hwgen.tools.toolchain import require_tool, run_tool
from dian.safe_paths import write_file


@dataclass(frozen=True)
class Target:
    name: str
    family: str  # "generic" | "ecp5" | "ice40"
    device: str = ""
    package: str = ""
    speed: int = 0


TARGETS = {
    t.name: t
    for t in (
        Target("generic", "generic"),
        Target("ecp5-25k", "ecp5", "25k", "CABGA381", 8),
        Target("ecp5-85k", "ecp5", "85k", "CABGA381", 8),
        Target("ice40-up5k", "ice40", "up5k", "sg48"),
    )
}

_RESOURCES = {
    "ecp5": {
        "luts": {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 2},
        "ffs": {"TRELLIS_FF": 1},
        "dsps": {"MULT18X18D": 1, "ALU54B": 1},
        "brams": {"DP16KD": 1},
    },
    "ice40": {
        "luts": {"SB_LUT4": 1},
        "ffs": {"SB_DFF*": 1},
        "dsps": {"SB_MAC16": 1},
        "brams": {"SB_RAM40_4K": 1, "SB_SPRAM256KA": 1},
    },
}


@dataclass(frozen=True)
class SynthReport:
    """What synthesis (and place and route, when it ran) measured."""

    target: str
    top: str
    clock_mhz: float
    cells: int
    cell_types: dict[str, int]
    luts: int | None = None
    ffs: int | None = None
    dsps: int | None = None
    brams: int | None = None
    fmax_mhz: float | None = None
    wrapper: WrapperCost | None = None
    utilization: dict[str, dict[str, int]] = field(default_factory=dict)
    logs: tuple[Path, ...] = ()
    abc9_fallback: bool = False  # Yosys's ABC9 crashed; mapped again with ABC

    @property
    def meets_timing(self) -> bool | None:
        """Whether place and route reached ``clock_mhz`` (None when it did not run)."""
        return None if self.fmax_mhz is None else self.fmax_mhz >= self.clock_mhz

    def fit(self) -> str | None:
        """``fits <target>: DSP x of y, LUT x of y[, block RAM x of y]`` or ``does not fit <target>:
        ...`` against the target's logic and block RAMs (``TARGET_FABRIC``); None for ``generic`` or
        without LUT/DSP figures."""
        fabric = TARGET_FABRIC.get(AccelTarget(self.target)) if self.target in {t.value for t in AccelTarget} else None
        if fabric is None or self.luts is None or self.dsps is None:
            return None
        ok = self.dsps <= fabric.dsps and self.luts <= fabric.luts
        text = f"DSP {self.dsps:,} of {fabric.dsps:,}, LUT {self.luts:,} of {fabric.luts:,}"
        if self.brams is not None and fabric.brams is not None:
            ok = ok and self.brams <= fabric.brams
            text += f", block RAM {self.brams:,} of {fabric.brams:,}"
        if ok and self.luts > ROUTABLE_LUT_SHARE * fabric.luts:
            text += (
                f" ({self.luts / fabric.luts:.0%} of the LUTs: no design over {ROUTABLE_LUT_SHARE:.0%} has routed here)"
            )
        return f"{'fits' if ok else 'does not fit'} {self.target}: {text}"

    def summary(self) -> str:
        """One line for people: the figures that exist for this target."""
        parts = [f"{self.target} {self.top}: {self.cells:,} cells"]
        for name in ("luts", "ffs", "dsps", "brams"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{value:,} {name.upper().rstrip('S')}s")
        if self.fmax_mhz is not None:
            parts.append(f"Fmax {self.fmax_mhz:.1f} MHz (asked {self.clock_mhz:g})")
        if self.wrapper is not None:
            parts.append(f"incl. P&R wrapper <= {self.wrapper.luts} LUTs / {self.wrapper.ffs} FFs")
        if self.abc9_fallback:
            parts.append("LUTs mapped by ABC (Yosys's ABC9 crashed on this netlist)")
        fit = self.fit()
        return ", ".join(parts) + (f"; {fit}" if fit else "")


def synthesize(
    verilog_files: list[Path],
    top: str,
    target: str,
    clock_mhz: float,
    build_dir: Path,
    *,
    place_and_route: bool = True,
    seed: int = 1,
    pnr_args: tuple[str, ...] = (),
    timeout_s: float | None = None,
) -> SynthReport:
    """Synthesize ``top`` from ``verilog_files`` for ``target`` in ``build_dir``.

    For FPGA targets with ``place_and_route`` (the default) nextpnr places and
    routes the wrapped design at ``clock_mhz`` and the report has ``fmax_mhz``;
    ``pnr_args`` are added to nextpnr's (benchmarks try router and placer
    settings with them), ``timeout_s`` bounds each tool's run.
    Logs: ``build_dir/yosys.log`` and ``build_dir/nextpnr.log``.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown synthesis target {target!r}; dian knows {', '.join(TARGETS)}")
    if clock_mhz <= 0:
        raise ValueError(f"clock_mhz must be positive, not {clock_mhz}")
    spec = TARGETS[target]
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    files = [Path(f).resolve() for f in verilog_files]
    # Paths given to the YoWASP tools are relative to build_dir: they see the
    # real file system, except /tmp, which they replace by a private folder.
    pnr = place_and_route and spec.family != "generic"
    synth_top, wrapper = top, None
    if pnr:
        synth_top, wrapper_text, wrapper = wrap(files, top)
        write_file(build_dir / "pnr_wrapper.v", wrapper_text)
        files.append(build_dir / "pnr_wrapper.v")

    yosys = require_tool("yosys")
    nextpnr = require_tool(f"nextpnr-{spec.family}") if pnr else None  # fail before a long synthesis
    for name in ("stat.json", "netlist.json", "nextpnr_report.json"):
        (build_dir / name).unlink(missing_ok=True)
    (build_dir / _ABC9_LOG).unlink(missing_ok=True)
    logs = [build_dir / "yosys.log"]

    def run_yosys(noabc9: bool) -> None:
        render_to(
            f"yosys_{spec.family}.ys.j2",
            build_dir / "synth.ys",
            top=synth_top,
            verilog_files=[_quote(os.path.relpath(f, build_dir)) for f in files],
            stat_json="stat.json",
            stat_txt="stat.txt",
            netlist_json="netlist.json",
            noabc9=noabc9,
        )
        run_tool(
            yosys,
            ["-q", "-l", "yosys.log", "-s", "synth.ys"],
            cwd=build_dir,
            log=build_dir / "yosys.out",
            timeout=timeout_s,
        )

    abc9_fallback = False
    try:
        run_yosys(noabc9=False)
    except ToolFailedError:
        if spec.family != "ecp5" or not abc9_crashed(build_dir / "yosys.log"):
            raise
        (build_dir / "yosys.log").replace(build_dir / _ABC9_LOG)
        logs.insert(0, build_dir / _ABC9_LOG)
        abc9_fallback = True
        run_yosys(noabc9=True)
    cell_types = _cell_types(build_dir / "stat.json", synth_top)
    resources = {name: _count(cell_types, weights) for name, weights in _RESOURCES.get(spec.family, {}).items()}

    fmax: float | None = None
    utilization: dict[str, dict[str, int]] = {}
    if nextpnr is not None:
        args = render(
            f"nextpnr_{spec.family}.args.j2",
            device=spec.device,
            package=spec.package,
            speed=spec.speed,
            netlist_json="netlist.json",
            report_json="nextpnr_report.json",
            clock_mhz=f"{clock_mhz:g}",
            seed=seed,
        )
        logs.append(build_dir / "nextpnr.log")
        run_tool(
            nextpnr,
            ["--log", "nextpnr.log", "-q", *shlex.split(args), *pnr_args],
            cwd=build_dir,
            log=build_dir / "nextpnr.out",
            timeout=timeout_s,
        )
        fmax, utilization = _nextpnr_report(build_dir / "nextpnr_report.json")
    return SynthReport(
        target=target,
        top=top,
        clock_mhz=clock_mhz,
        cells=sum(cell_types.values()),
        cell_types=cell_types,
        fmax_mhz=fmax,
        wrapper=wrapper,
        utilization=utilization,
        logs=tuple(logs),
        abc9_fallback=abc9_fallback,
        **resources,
    )


_ABC9_LOG = "yosys_abc9.log"


def abc9_crashed(yosys_log: Path) -> bool:
    """Whether the Yosys run logged in ``yosys_log`` (its ``-l`` log: with ``-q`` the error is
    only there) stopped on a failed assertion inside an ABC pass (ABC9's ``ABC_OPS_REINTEGRATE``,
    ``ABC9_OPS``...): the last pass it started before ``ERROR: Assert`` is one of ABC's. Any other
    error is the design's or the script's. Only the log's end is read: it can be 100 MB."""
    try:
        with yosys_log.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            text = f.read().decode(errors="replace")
    except OSError:
        return False
    error = text.rfind("ERROR: Assert")
    if error < 0:
        return False
    started = text.rfind("Executing ", 0, error)
    return started >= 0 and "ABC" in text[started : text.find("\n", started)]


def _quote(path: str) -> str:
    return '"' + path.replace('"', '\\"') + '"'


def _cell_types(stat_json: Path, top: str) -> dict[str, int]:
    """Cell counts by type of ``top`` (whole hierarchy) from Yosys's ``stat -json``."""
    stat = json.loads(stat_json.read_text())
    entry = stat.get("design") or stat["modules"].get("\\" + top) or stat["modules"][top]
    cells = {name.lstrip("\\$"): n for name, n in sorted(entry["num_cells_by_type"].items())}
    cells.pop("scopeinfo", None)  # hierarchy bookkeeping, not hardware
    return cells


def _count(cell_types: dict[str, int], weights: dict[str, int]) -> int:
    total = 0
    for cell, n in cell_types.items():
        for pattern, weight in weights.items():
            if cell == pattern or (pattern.endswith("*") and cell.startswith(pattern[:-1])):
                total += weight * n
    return total


def _nextpnr_report(report_json: Path) -> tuple[float | None, dict[str, dict[str, int]]]:
    report = json.loads(report_json.read_text())
    clocks = report.get("fmax", {})
    fmax = [c["achieved"] for name, c in clocks.items() if "clk" in name] or [c["achieved"] for c in clocks.values()]
    utilization = {
        k: {"used": v["used"], "available": v["available"]}
        for k, v in sorted(report.get("utilization", {}).items())
        if v.get("used")
    }
    return (min(fmax) if fmax else None), utilization
