"""A place-and-route wrapper that fits any top level into a few package pins.

An accelerator's top level has hundreds of port bits (a DRAM bus, four 64-bit
counters); an FPGA package has 39 (iCE40 SG48) to ~200 (ECP5 CABGA381) user
pins. For place and route only, :func:`wrap` generates (from
``rtl_templates/pnr_wrapper.v.j2``) a wrapper module that

- passes every 1-bit port (``clk``, ``rst``, ``start``, ``done``, valid/ready
  bits) straight to a pin;
- feeds all wide inputs from one shift register loaded from pin ``wide_in``
  (``in_bits`` flip-flops, no LUTs);
- captures all wide outputs in registers (``out_bits`` flip-flops) and folds
  them with a pipelined tree of 4-input XORs into pin ``wide_out`` (one LUT4 and
  one flip-flop per tree node).

Nothing of the design can be optimized away (every input bit is controllable,
every output bit observable), and its wide I/O starts and ends at flip-flops,
so the Fmax nextpnr reports is the design's own register-to-register figure.
The wrapper's cost, :class:`WrapperCost`, is an upper bound on its own cells:
Yosys removes capture flip-flops of output bits that are constant (e.g. the
low bits of an aligned address) and the XOR nodes fed only by them. The
design's own flip-flops are unchanged, but its LUT mapping can shift a little
either way (measured on the stand-in top level, bus 64: iCE40 534 LUTs bare,
651 wrapped, +117 for a 119-node tree; ECP5 899 bare, 904 wrapped, because
abc maps the design's wide multiplexers differently). For the design's own
resources, synthesize without place and route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dian.hwgen.tools.templates import render

WRAPPER_SUFFIX = "_pnr"
CLOCK = "clk"


@dataclass(frozen=True)
class Port:
    name: str
    direction: str  # "input" | "output"
    width: int


@dataclass(frozen=True)
class WrapperCost:
    """Upper bounds on what the wrapper adds to the design's resources."""

    luts: int
    ffs: int
    pins: int


_MODULE = re.compile(r"^\s*module\s+\\?(\S+?)\s*[(;]", re.M)
_PORT = re.compile(
    r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?\\?([\w$]+)\s*[;,]", re.M
)


def ports_of(verilog: str, top: str) -> list[Port]:
    """The ports of module ``top`` in Verilog text (non-ANSI or one-per-line ANSI declarations)."""
    starts = [(m.group(1), m.start()) for m in _MODULE.finditer(verilog)]
    for name, start in starts:
        if name == top:
            end = verilog.find("endmodule", start)
            body = verilog[start : end if end >= 0 else len(verilog)]
            ports = [
                Port(m.group(4), m.group(1), abs(int(m.group(2)) - int(m.group(3))) + 1 if m.group(2) else 1)
                for m in _PORT.finditer(body)
            ]
            if any(p.direction == "inout" for p in ports):
                raise ValueError(f"module {top} has inout ports, which the P&R wrapper does not handle")
            return ports
    raise ValueError(f"no module {top!r} in the Verilog (found: {', '.join(n for n, _ in starts) or 'none'})")


def wrap(verilog_files: list[Path], top: str) -> tuple[str, str, WrapperCost]:
    """The wrapper's module name, its Verilog text and its cost, for ``top`` in ``verilog_files``."""
    text = "\n".join(Path(f).read_text() for f in verilog_files)
    ports = ports_of(text, top)
    if not any(p.name == CLOCK and p.direction == "input" and p.width == 1 for p in ports):
        raise ValueError(f"module {top} has no 1-bit input port {CLOCK!r}; the P&R wrapper needs its clock")
    pins = [p for p in ports if p.width == 1]
    wide_in = [p for p in ports if p.width > 1 and p.direction == "input"]
    wide_out = [p for p in ports if p.width > 1 and p.direction == "output"]
    if not wide_out:
        raise ValueError(f"module {top} has no wide output; wrap it only when it needs fewer pins")
    connections = [{"port": p.name, "expr": p.name} for p in pins]
    offset = 0
    for p in wide_in:
        connections.append({"port": p.name, "expr": f"in_shift[{offset + p.width - 1}:{offset}]"})
        offset += p.width
    in_bits = max(offset, 1)
    offset = 0
    for p in wide_out:
        connections.append({"port": p.name, "expr": f"out_bus[{offset + p.width - 1}:{offset}]"})
        offset += p.width
    out_bits = offset
    levels: list[dict[str, int]] = []
    width = out_bits
    while width > 1 or not levels:
        width, in_width = -(-width // 4), width
        levels.append({"index": len(levels) + 1, "width": width, "in_width": in_width})
    wrapper = top + WRAPPER_SUFFIX
    verilog = render(
        "pnr_wrapper.v.j2",
        top=top,
        wrapper=wrapper,
        clock=CLOCK,
        in_bits=in_bits,
        out_bits=out_bits,
        pins=[{"name": p.name, "direction": p.direction} for p in pins],
        connections=connections,
        xor_levels=levels,
    )
    tree = sum(level["width"] for level in levels)
    cost = WrapperCost(luts=tree, ffs=(in_bits if wide_in else 0) + out_bits + tree, pins=len(pins) + 2)
    return wrapper, verilog, cost
