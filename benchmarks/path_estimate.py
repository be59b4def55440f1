"""A quick register-to-register path estimate of a synthesized ECP5 netlist (no place and route).

nextpnr reports one critical path per run, and a run of `tiny` takes ~10 minutes on this machine;
this script ranks *every* register-to-register path of Yosys's netlist.json in seconds with a crude
delay model (cell delays of nextpnr-ecp5's speed 8 figures as its reports print them, and one
fixed routing delay per net hop; a carry chain's internal hops are free), so that one RTL change
can fix several long paths before the next place and route confirms it. The figures are
estimates for ranking, never results: every Fmax in benchmarks/results comes from nextpnr.

    .venv/bin/python benchmarks/path_estimate.py build/.../netlist.json [--top 30] [--hop 0.9]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

CLK_TO_Q = {"TRELLIS_FF": 0.40, "DP16KD": 4.1, "MULT18X18D_REG": 0.5}
# Combinational arcs: (cell type, input pin regex, output pin regex) -> ns.
COMB = [
    ("LUT4", r"[ABCD]$", r"Z$", 0.25),
    ("PFUMX", r".*", r"Z$", 0.25),
    ("L6MUX21", r".*", r"Z$", 0.25),
    ("CCU2C", r"CIN$", r"COUT$", 0.06),
    ("CCU2C", r"CIN$", r"S[01]$", 0.30),
    ("CCU2C", r"[ABCD][01]$", r"COUT$", 0.40),
    ("CCU2C", r"[ABCD]0$", r"S0$", 0.40),
    ("CCU2C", r"[ABCD][01]$", r"S1$", 0.45),
    ("MULT18X18D", r"[AB]\d+$", r"P\d+$", 3.07),
    ("TRELLIS_DPR16X4", r"RAD\d*$", r"DO\d*$", 0.50),
    ("ALU54B", r".*", r"[RO].*", 2.0),
]
SETUP = 0.1
FAR = {"MULT18X18D", "DP16KD"}  # in their own rows of the device: longer wires to and from them


def analyse(netlist: Path, hop: float, far_hop: float, top_n: int) -> list[tuple[float, list[str]]]:
    data = json.loads(netlist.read_text())
    mod = next(m for name, m in data["modules"].items() if name.endswith("_pnr") or m.get("attributes", {}).get("top"))
    cells = mod["cells"]
    drivers: dict[int, tuple[str, str]] = {}
    sinks: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for name, c in cells.items():
        for pin, bits in c["connections"].items():
            d = c["port_directions"].get(pin)
            for b in bits:
                if isinstance(b, str):
                    continue
                if d == "output":
                    drivers[b] = (name, pin)
                else:
                    sinks[b].append((name, pin))
    arcs: dict[str, list[tuple[re.Pattern, re.Pattern, float]]] = defaultdict(list)
    for t, i, o, dly in COMB:
        arcs[t].append((re.compile(i), re.compile(o), dly))

    # Arrival time at every cell output pin (net), by memoized depth-first search over drivers.
    arrival: dict[int, tuple[float, tuple[str, ...]]] = {}

    def out_arrival(bit: int, stack: set[int]) -> tuple[float, tuple[str, ...]]:
        if bit in arrival:
            return arrival[bit]
        if bit not in drivers or bit in stack:
            return (0.0, ())
        name, pin = drivers[bit]
        c = cells[name]
        t = c["type"]
        if t in CLK_TO_Q:
            res = (CLK_TO_Q[t], (f"{name}.{pin}",))
        elif t in arcs:
            stack.add(bit)
            best = (0.0, ())
            for ipin, ibits in c["connections"].items():
                if c["port_directions"].get(ipin) != "input":
                    continue
                dly = next((d for ire, ore, d in arcs[t] if ire.match(ipin) and ore.match(pin)), None)
                if dly is None:
                    continue
                for ib in ibits:
                    if isinstance(ib, str):
                        continue
                    a, p = in_arrival(ib, name, ipin, stack)
                    if a + dly > best[0]:
                        best = (a + dly, (*p, f"{name}.{pin}"))
            stack.discard(bit)
            res = best
        else:
            res = (0.0, (f"{name}.{pin}",))
        arrival[bit] = res
        return res

    def in_arrival(bit: int, cell: str, pin: str, stack: set[int]) -> tuple[float, tuple[str, ...]]:
        a, p = out_arrival(bit, stack)
        src = drivers.get(bit)
        if src is None:
            return a, p
        src_type, dst_type = cells[src[0]]["type"], cells[cell]["type"]
        if pin == "CIN" and src[1] == "COUT":  # a carry chain's own wire
            return a, p
        if src_type in ("LUT4", "PFUMX") and dst_type in ("PFUMX", "L6MUX21"):  # inside a slice
            return a, p
        far = {src_type, dst_type} & FAR
        return a + (far_hop if far else hop), p

    import sys

    sys.setrecursionlimit(100000)
    ends = []
    for name, c in cells.items():
        t = c["type"]
        if t not in ("TRELLIS_FF", "DP16KD", "TRELLIS_DPR16X4"):
            continue
        for pin, bits in c["connections"].items():
            if c["port_directions"].get(pin) != "input" or pin in ("CLK", "WCK") or pin.startswith("CLK"):
                continue
            if t == "TRELLIS_DPR16X4" and pin.startswith("RAD"):
                continue
            for b in bits:
                if isinstance(b, str):
                    continue
                a, p = in_arrival(b, name, pin, set())
                ends.append((a + SETUP, [*p, f"{name}.{pin}"]))
    ends.sort(key=lambda e: -e[0])
    # One line per (start register, end register) pair, bit indices folded.
    seen, out = set(), []
    for a, p in ends:
        key = (_reg(p[0]), _reg(p[-1]))
        if key in seen:
            continue
        seen.add(key)
        out.append((a, p))
        if len(out) >= top_n:
            break
    return out


def _reg(pin: str) -> str:
    """A cell pin with Yosys's per-bit suffixes removed."""
    return re.sub(r"(_TRELLIS_FF_Q|_DP16KD|_LUT4|_CCU2C)[\w$]*\.\w+$", "", pin)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("netlist", type=Path)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--hop", type=float, default=0.55, help="ns of routing per net hop")
    p.add_argument("--far-hop", type=float, default=1.5, help="ns per hop to or from a DSP or block RAM")
    p.add_argument("--full", action="store_true", help="print every cell of each path")
    args = p.parse_args()
    for a, path in analyse(args.netlist, args.hop, args.far_hop, args.top):
        print(f"{a:5.2f} ns ({1000 / a:5.1f} MHz) {len(path) - 1:2d} hops  {_reg(path[0])} -> {_reg(path[-1])}")
        if args.full:
            for s in path:
                print("        ", s)


if __name__ == "__main__":
    main()
