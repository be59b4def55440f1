"""What the board build's tools measured: nextpnr's achieved frequency per clock and its device
utilization (from ``nextpnr-ecp5 --report``), and which of nextpnr's clock nets is which clock
domain of the SoC (from the SoC's Verilog)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

#: board.json's utilization names for nextpnr-ecp5's cell types (a TRELLIS_COMB is one LUT4 slot,
#: carry halves included; MULT18X18D the 18x18 multipliers; DP16KD the 18 Kib block RAMs).
UTILIZATION = {"lut4": ("TRELLIS_COMB",), "ff": ("TRELLIS_FF",), "dsp": ("MULT18X18D",), "ebr": ("DP16KD",)}


def nextpnr_figures(report_json: Path) -> dict[str, Any]:
    """``{"fmax_mhz": {clock net: achieved}, "constraint_mhz": {...}, "utilization": {...}}`` from
    nextpnr's ``--report`` JSON; ``utilization`` has ``lut4``, ``ff``, ``dsp``, ``ebr`` as
    ``{"used", "available"}`` and ``cells``: every cell type with a use."""
    report = json.loads(report_json.read_text())
    clocks = report.get("fmax", {})
    util = report.get("utilization", {})
    summary: dict[str, Any] = {
        key: {
            "used": sum(util.get(t, {}).get("used", 0) for t in types),
            "available": sum(util.get(t, {}).get("available", 0) for t in types),
        }
        for key, types in UTILIZATION.items()
    }
    summary["cells"] = {
        k: {"used": v["used"], "available": v["available"]} for k, v in sorted(util.items()) if v["used"]
    }
    return {
        "fmax_mhz": {_net(n): round(float(c["achieved"]), 2) for n, c in sorted(clocks.items())},
        "constraint_mhz": {_net(n): round(float(c["constraint"]), 2) for n, c in sorted(clocks.items())},
        "utilization": summary,
    }


def _net(name: str) -> str:
    return name.removeprefix("$glbnet$")


def clock_nets(verilog: Path, domains: tuple[str, ...]) -> dict[str, set[str]]:
    """The names the clock of each domain (LiteX's ``<domain>_clk``) goes by in the SoC's Verilog:
    itself and every net joined to it by plain ``assign a = b;`` (nextpnr names a clock after one
    of them)."""
    links: dict[str, set[str]] = {}
    for a, b in re.findall(r"^assign\s+([\w$]+)\s*=\s*([\w$]+)\s*;", verilog.read_text(), re.M):
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    found = {}
    for d in domains:
        seen, todo = set(), [f"{d}_clk"]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo += links.get(n, ())
        found[d] = seen
    return found


def timing(figures: dict[str, Any], nets: dict[str, set[str]], asked_hz: dict[str, float]) -> dict[str, Any]:
    """Per domain: the frequency asked, nextpnr's achieved Fmax for its clock net and whether it met."""
    out = {}
    for domain, hz in asked_hz.items():
        names = sorted(n for n in figures["fmax_mhz"] if n in nets.get(domain, ()))
        fmax = min((figures["fmax_mhz"][n] for n in names), default=None)
        out[domain] = {
            "asked_mhz": round(hz / 1e6, 4),
            "clock_net": names[0] if names else None,
            "fmax_mhz": fmax,
            "met": fmax is not None and fmax >= hz / 1e6,
        }
    return out
