"""Schedule types: how one layer is mapped onto the accelerator.

Pure data (no hardware knowledge beyond names): a :class:`Mapping` is the
choice the scheduler or mapper makes; a :class:`Schedule` is the loop nest it
implies plus the predictions made for it. Both serialize to JSON
(``DIR/schedules/<layer>.json``). The meaning of every field in hardware is in
docs/accelerator.md.

Loop dimensions (:class:`Dim`): K output channels, C input channels, OY/OX
output rows/columns, FY/FX kernel taps, N batch. Channel dims count channel
*blocks* of the array's lane count L at the tile level.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Dim(str, Enum):
    N = "n"
    K = "k"
    C = "c"
    OY = "oy"
    OX = "ox"
    FY = "fy"
    FX = "fx"


class Level(str, Enum):
    """Where a loop runs: tile loops move data between DRAM and the buffers;
    buffer loops run inside one tile; ``array`` is the spatial unrolling."""

    DRAM = "dram"
    BUFFER = "buffer"
    ARRAY = "array"


@dataclass(frozen=True)
class Mapping:
    """The scheduler's choice for one layer.

    ``dataflow``: ``gemm`` or ``depthwise`` (hwgen.accel_config.Dataflow values);
    ``spatial``: which dims the array's rows and columns unroll, e.g.
    ``(Dim.C, Dim.K)`` for gemm; ``tiles``: tile size of each dim (channel dims in
    blocks of L, spatial dims in pixels); ``order``: the tile loops, outermost
    first (dims with a single tile may be left out).
    """

    layer: str
    dataflow: str
    spatial: tuple[Dim, Dim]
    tiles: tuple[tuple[Dim, int], ...]
    order: tuple[Dim, ...]

    def tile(self, dim: Dim) -> int:
        for d, n in self.tiles:
            if d is dim:
                return n
        raise KeyError(dim)


@dataclass(frozen=True)
class Loop:
    """One loop of the nest: ``for dim in 0..extent`` at ``level``; ``note``
    says what moves at this loop (e.g. ``inputs DRAM -> IBUF (16 ch x 10 x 18)``)."""

    dim: Dim
    extent: int
    level: Level
    note: str = ""


@dataclass(frozen=True)
class Prediction:
    """What the machine model predicts for the layer."""

    cycles: int
    macs: int
    utilization: float  # useful MACs / (cycles x array size)
    dram_bytes_read: int
    dram_bytes_written: int


@dataclass(frozen=True)
class Schedule:
    """A layer's loop nest, outermost first, with its header line facts."""

    layer: str
    op_kind: str
    header: str  # e.g. "conv3  K=64 C=32 OY=16 OX=16 FY=3 FX=3  stride 1  array 16x16  dataflow gemm"
    mapping: Mapping
    loops: tuple[Loop, ...]
    prediction: Prediction | None = None

    def to_json(self) -> str:
        return json.dumps(_plain(self), sort_keys=True, indent=1) + "\n"

    @staticmethod
    def from_json(text: str) -> Schedule:
        d = json.loads(text)
        m = d["mapping"]
        mapping = Mapping(
            m["layer"],
            m["dataflow"],
            (Dim(m["spatial"][0]), Dim(m["spatial"][1])),
            tuple((Dim(a), int(b)) for a, b in m["tiles"]),
            tuple(Dim(x) for x in m["order"]),
        )
        loops = tuple(Loop(Dim(lp["dim"]), lp["extent"], Level(lp["level"]), lp["note"]) for lp in d["loops"])
        pred = None if d["prediction"] is None else Prediction(**d["prediction"])
        return Schedule(d["layer"], d["op_kind"], d["header"], mapping, loops, pred)

    def format(self) -> str:
        """The readable text form of docs/accelerator.md and DESIGN.md's example."""
        lines = [self.header]
        serial = [lp for lp in self.loops if lp.level is not Level.ARRAY]
        spatial = [lp for lp in self.loops if lp.level is Level.ARRAY]
        for depth, lp in enumerate(serial):
            text = f"{' ' * depth}for {lp.dim.value:<3} in 0..{lp.extent}"
            lines.append(f"{text:<28}# {lp.note}" if lp.note else text)
        if spatial:
            par = " | ".join(f"{lp.dim.value} in 0..{lp.extent}" for lp in spatial)
            notes = "; ".join(lp.note for lp in spatial if lp.note)
            text = f"{' ' * len(serial)}parfor {par}"
            lines.append(f"{text}    # {notes}" if notes else text)
        if self.prediction is not None:
            p = self.prediction
            kib = (p.dram_bytes_read + p.dram_bytes_written) / 1024
            lines.append(f"predicted {p.cycles:,} cycles  utilization {100 * p.utilization:.1f}%  DRAM {kib:,.0f} KiB")
        return "\n".join(lines)


def _plain(v: Any) -> Any:
    if dataclasses.is_dataclass(v):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v
