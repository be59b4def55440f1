"""`dian synth`: Yosys synthesis (and nextpnr place and route for FPGA targets)
of the Verilog in an output folder, with the report kept beside it.

``DIR/synth/<target>/`` holds the tools' scripts and logs and ``report.json``
(written atomically, sorted keys, no timestamps). It is not part of the
compile manifest, which describes what `dian compile` wrote; instead the
report records the sha256 of every Verilog file and of accel.json it was made
from, so `dian info` can tell a current report from a stale one.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dian.hwgen.accel_config import accel_config_from_file, rtl_misfit
from dian.hwgen.targets import Target

from . import outdir
from .errors import AccelConfigError
from .safe_paths import make_dirs, write_file
from .version import __version__

REPORT = "report.json"
REPORT_FORMAT = "dian.synth"
REPORT_FORMAT_VERSION = 1
TARGETS = tuple(t.value for t in Target)


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    target: str
    report_path: Path
    report: dict[str, Any]  # what report.json holds


def synth_model(out_dir: str | Path, target: str | None = None, place_and_route: bool = True) -> SynthResult:
    """Synthesize ``out_dir``'s rtl/ for ``target`` (default: the accelerator config's own) at the
    config's clock; with ``place_and_route`` nextpnr also places and routes it (FPGA targets) and
    the report has Fmax. Writes ``out_dir/synth/<target>/report.json``."""
    from dian.hwgen.tools.synth import synthesize

    path = Path(out_dir)
    accel = outdir.accel_entry(path, outdir.read_manifest(path), "RTL to synthesize")
    cfg = accel_config_from_file(path / outdir.ACCEL)
    why = rtl_misfit(cfg)
    if why:
        raise AccelConfigError(why)
    files = outdir.verilog_files(path, accel)
    target = target or cfg.target.value
    if target not in TARGETS:
        raise AccelConfigError(f"unknown synthesis target {target!r}; the targets are {', '.join(TARGETS)}.")
    cfg = cfg.with_target(target)  # the buffers must fit the target's block RAM
    build_dir = make_dirs(path, f"{outdir.SYNTH}/{target}")  # no symlink on the way or inside
    rep = synthesize(files, accel["rtl"]["top"], target, cfg.clock_mhz, build_dir, place_and_route=place_and_route)
    doc: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "dian_version": __version__,
        "target": target,
        "top": rep.top,
        "clock_mhz": rep.clock_mhz,
        "place_and_route": rep.fmax_mhz is not None,
        "cells": rep.cells,
        "cell_types": rep.cell_types,
        "luts": rep.luts,
        "ffs": rep.ffs,
        "dsps": rep.dsps,
        "brams": rep.brams,
        "fmax_mhz": rep.fmax_mhz,
        "meets_timing": rep.meets_timing,
        "wrapper": dataclasses.asdict(rep.wrapper) if rep.wrapper is not None else None,
        "utilization": rep.utilization,
        "logs": [log.name for log in rep.logs],
        "abc9_fallback": rep.abc9_fallback,
        "summary": rep.summary(),
        "fit": rep.fit(),
        "accel_config_sha256": outdir.file_sha256(path / outdir.ACCEL),
        "rtl_sha256": {f: outdir.file_sha256(path / f) for f in accel["rtl"]["files"]},
    }
    report_path = build_dir / REPORT
    write_file(report_path, json.dumps(doc, sort_keys=True, indent=1) + "\n")
    return SynthResult(path, target, report_path, doc)


def synth_reports(out_dir: Path) -> list[tuple[str, str]]:
    """(target, state) of every synthesis report in ``out_dir``: ``current`` or ``stale``."""
    found = []
    for report in sorted((out_dir / outdir.SYNTH).glob(f"*/{REPORT}")):
        current = outdir.hashes_current(out_dir, report, "rtl_sha256")
        found.append((report.parent.name, "current" if current else "stale (the RTL changed since)"))
    return found
