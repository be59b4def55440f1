"""What each op of an integer Graph asks of the accelerator: a :class:`Work`
(the kind of instruction sequence and the loop bounds), and where every
activation lives (:func:`tensor_regions`).

A Reshape moves no data: its output is an alias of its input's DRAM region
and keeps the input's channel-blocked layout. A pointwise op (a lookup table)
whose input is a conv's or linear layer's output read by nothing else is
fused into that layer (:func:`fused_pointwise`): the layer's results pass its
LUT stage on their way to OBUF and land in the pointwise op's region; the
conv's own output gets no region. Any other pointwise op runs as a COPY
through the LUT stage. A Linear reads such a region
as ``CB*H*W`` channel blocks of a 1x1 image (its weight columns are permuted
to match, see layout.linear_weights_blocked); other consumers accept an
alias only when the layouts coincide ([N, C, 1, 1] <-> [N, C]).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from dian.errors import ScheduleError
from dian.ir import (
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    Pointwise,
    Reshape,
    SelectChannels,
    Upsample,
)
from dian.ir.pointwise import label

from ..accel_config import AccelConfig, Dataflow
from .layout import as_4d, blocks


class WorkKind(str, Enum):
    GEMM = "gemm"
    DW = "depthwise"
    POOL = "pool"
    ADD = "add"
    MUL = "mul"
    COPY = "copy"
    UPSAMPLE = "upsample"
    INTERLEAVE = "interleave"
    ALIAS = "alias"


@dataclass(frozen=True)
class Region:
    """A tensor's DRAM region: the tensor that owns it and its blocked (N, C, H, W)."""

    root: str
    blocked: tuple[int, int, int, int]


@dataclass(frozen=True)
class Work:
    """Loop bounds of one op on the accelerator (input channels ``c`` and output
    channels ``k`` in channels, not blocks). For ADD/COPY the window is 1x1; for
    global average pooling it is the whole plane."""

    op: Op
    kind: WorkKind
    n: int
    c: int
    k: int
    h: int
    w: int
    oy: int
    ox: int
    fy: int = 1
    fx: int = 1
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    lut: Pointwise | None = None  # the pointwise op whose table the results pass (fused, or a COPY's own)
    lut_per_channel: bool = False  # its table has a row per channel: one LBUF table per channel block
    broadcast: bool = False  # MUL: the second input is an [N, C, 1, 1] gate (one word per channel block)
    upsample: tuple[int, int] = (1, 1)  # UPSAMPLE's factors; its loop bounds (h, w, oy, ox) are the input's
    # INTERLEAVE (factors in ``upsample``): tiles over the phase grid (oy, ox) = phase (0, 0)'s size;
    # (h, w) = the last phase's size (every phase is real there); out_hw = the woven output's size
    out_hw: tuple[int, int] = (0, 0)
    # POOL of a global average pool whose window does not fit an IBUF half: (oy, fy) = (bands, rows
    # a band), each band one window of one channel block, the bands after the first going on from
    # the running sum (POOL's ``cont``), every band storing the sum so far to the one output word
    banded: bool = False

    def header(self, cfg: AccelConfig) -> str:
        if self.kind is WorkKind.INTERLEAVE:
            (f0, f1), (oh, ow) = self.upsample, self.out_hw
            return (
                f"{self.op.name}  C={self.c}  {f0}x{f1} phases of up to {self.oy}x{self.ox} woven into {oh}x{ow}  "
                f"array {cfg.pe_rows}x{cfg.pe_cols}  dataflow interleave (strided COPYs)"
            )
        st = f"stride {self.stride[0]}" if self.stride[0] == self.stride[1] else f"stride {self.stride}"
        return (
            f"{self.op.name}  K={self.k} C={self.c} OY={self.oy} OX={self.ox} FY={self.fy} FX={self.fx}  "
            f"{st}  array {cfg.pe_rows}x{cfg.pe_cols}  dataflow {self.kind.value}{self._lut_note()}"
        )

    def _lut_note(self) -> str:
        if self.lut is None:
            return ""
        rows = "a table per channel block" if self.lut_per_channel else "one table"
        if self.lut is self.op:
            return f"\n  through the LUT stage: {label(self.lut.fn, self.lut.params)} ({rows})"
        return f"\n  then '{self.lut.name}' fused: {label(self.lut.fn, self.lut.params)} in the LUT stage ({rows})"


def fused_pointwise(graph: Graph) -> dict[str, Pointwise]:
    """The pointwise ops that run in their producer's LUT stage, by producer name: the producer is a
    conv or linear layer (its results pass the stage with its fused requantization) whose output
    only the pointwise op reads, and which is not a graph output."""
    readers: dict[str, int] = {}
    for op in graph.ops:
        for name in op.inputs:
            readers[name] = readers.get(name, 0) + 1
    producer = {op.output: op for op in graph.ops}
    fused: dict[str, Pointwise] = {}
    for op in graph.ops:
        if not isinstance(op, Pointwise):
            continue
        src = op.inputs[0]
        prod = producer.get(src)
        if isinstance(prod, (Conv2d, Linear)) and readers[src] == 1 and src not in graph.outputs:
            fused[prod.name] = op
    return fused


def fused_away(graph: Graph) -> set[str]:
    """The tensors that never reach DRAM: the outputs of layers with a fused pointwise op."""
    by_name = {op.name: op for op in graph.ops}
    return {by_name[name].output for name in fused_pointwise(graph)}


def tensor_regions(graph: Graph) -> dict[str, Region]:
    """Every activation's region; a Reshape output shares its input's, a layer's output with a fused
    pointwise op is written straight into the pointwise op's."""
    regions: dict[str, Region] = {}
    for t in graph.activations():
        regions[t.name] = Region(t.name, as_4d(t.shape))
    for pw in fused_pointwise(graph).values():
        regions[pw.inputs[0]] = regions[pw.output]
    for op in graph.ops:
        if isinstance(op, Reshape):
            regions[op.output] = regions[op.inputs[0]]
    return regions


def _plain_input(graph: Graph, regions: dict[str, Region], op: Op, name: str) -> tuple[int, int, int, int]:
    """The 4-D shape of an input that must be laid out as its own shape says."""
    want = as_4d(graph.tensors[name].shape)
    got = regions[name].blocked
    if got != want:
        raise ScheduleError(
            f"{op.kind.value} op '{op.name}' reads '{name}', a reshape of a {list(got)} tensor "
            f"whose channel-blocked layout differs from {list(want)}; on the accelerator only a "
            f"linear layer may read such a reshape (or [N, C, 1, 1] <-> [N, C] reshapes)."
        )
    return want


def work_of(graph: Graph, op: Op, cfg: AccelConfig, regions: dict[str, Region] | None = None) -> Work:
    """The :class:`Work` of ``op`` (depthwise convs use the array's depthwise
    mode when ``cfg`` has it; the scheduler may still fall back to GEMM)."""
    regions = regions if regions is not None else tensor_regions(graph)
    fused = fused_pointwise(graph)
    if isinstance(op, Pointwise) and op in fused.values():  # runs in its producer's LUT stage
        return Work(op, WorkKind.ALIAS, *(0,) * 7)
    w = _work(graph, op, cfg, regions)
    pw = op if isinstance(op, Pointwise) else fused.get(op.name)
    if pw is None:
        return w
    if cfg.lut_tables == 0:
        raise ScheduleError(
            f"layer '{pw.name}' computes {label(pw.fn, pw.params)} through an int8 lookup table, but accelerator "
            f"'{cfg.name}' has no lookup stage (lut_tables = 0). Use a config with lut_tables >= 1 (every preset "
            f"has one), or compile without --accel to run the integer graph in the reference simulator."
        )
    assert pw.table is not None
    rows = graph.constants[pw.table].shape[0]
    return dataclasses.replace(w, lut=pw, lut_per_channel=rows > 1)


def _work(graph: Graph, op: Op, cfg: AccelConfig, regions: dict[str, Region]) -> Work:
    lanes = cfg.lanes
    if isinstance(op, Reshape):
        return Work(op, WorkKind.ALIAS, *(0,) * 7)
    if isinstance(op, Conv2d):
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        _, k, oy, ox = graph.tensors[op.output].shape
        _, _, fy, fx = graph.constants[op.weight].shape
        dw = op.groups == c == k and op.groups > 1 and Dataflow.DEPTHWISE in cfg.dataflows
        return Work(
            op, WorkKind.DW if dw else WorkKind.GEMM, n, c, k, h, w, oy, ox, fy, fx, op.stride, op.padding, op.dilation
        )
    if isinstance(op, Linear):
        n, c, h, w = regions[op.inputs[0]].blocked
        k = graph.tensors[op.output].shape[1]
        return Work(op, WorkKind.GEMM, n, blocks(c, lanes) * h * w * lanes, k, 1, 1, 1, 1)
    if isinstance(op, (MaxPool2d, AvgPool2d)):
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        _, _, oy, ox = graph.tensors[op.output].shape
        return Work(op, WorkKind.POOL, n, c, c, h, w, oy, ox, op.kernel[0], op.kernel[1], op.stride, op.padding)
    if isinstance(op, GlobalAvgPool):
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        rows = cfg.words("ibuf") // 2 // w  # input rows an IBUF half holds
        if h * w <= cfg.words("ibuf") // 2 or rows == 0:  # the whole window at once (or the scheduler's error)
            return Work(op, WorkKind.POOL, n, c, c, h, w, 1, 1, h, w)
        bands = -(-h // rows)
        band = -(-h // bands)  # bands of even height: the last one's rows past the map are zeros
        return Work(op, WorkKind.POOL, n, c, c, h, w, bands, 1, band, w, (band, 1), banded=True)
    if isinstance(op, Add):
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        _plain_input(graph, regions, op, op.inputs[1])
        return Work(op, WorkKind.ADD, n, c, c, h, w, h, w)
    if isinstance(op, Clamp):
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        return Work(op, WorkKind.COPY, n, c, c, h, w, h, w)
    if isinstance(op, Upsample):  # tiles of input pixels, each written scale[0] x scale[1] times
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        return Work(op, WorkKind.UPSAMPLE, n, c, c, h, w, h, w, upsample=op.scale)
    if isinstance(op, Interleave):
        f0, f1 = op.factor
        first, last = (_plain_input(graph, regions, op, op.inputs[i]) for i in (0, -1))
        n, c, oh, ow = graph.tensors[op.output].shape
        for i in op.inputs[1:-1]:
            _plain_input(graph, regions, op, i)
        return Work(
            op, WorkKind.INTERLEAVE, n, c, c, last[2], last[3], first[2], first[3], upsample=(f0, f1), out_hw=(oh, ow)
        )
    if isinstance(op, Mul):
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        gate = _plain_input(graph, regions, op, op.inputs[1])
        return Work(op, WorkKind.MUL, n, c, c, h, w, h, w, broadcast=gate[2:] != (h, w))
    if isinstance(op, Concat):
        shapes = [_plain_input(graph, regions, op, i) for i in op.inputs]
        n, k, h, w = as_4d(graph.tensors[op.output].shape)
        if op.axis != 1:
            raise ScheduleError(
                f"concat op '{op.name}' joins along axis {op.axis}; the accelerator concatenates "
                f"along channels (axis 1) only."
            )
        ragged = [i for i, s in zip(op.inputs[:-1], shapes[:-1], strict=True) if s[1] % lanes]
        if ragged:
            raise ScheduleError(
                f"concat op '{op.name}': input(s) {ragged} have channel counts that are not "
                f"multiples of the {lanes} lanes; v1 concatenates whole channel blocks, so every "
                f"input but the last needs a multiple of {lanes} channels."
            )
        return Work(op, WorkKind.COPY, n, max(s[1] for s in shapes), k, h, w, h, w)
    if isinstance(op, Pointwise):  # a COPY through the LUT stage (the table is added by work_of)
        n, c, h, w = _plain_input(graph, regions, op, op.inputs[0])
        return Work(op, WorkKind.COPY, n, c, c, h, w, h, w)
    raise ScheduleError(f"op '{op.name}' of kind {op.kind.value} has no accelerator mapping.")


def needs_lut(graph: Graph) -> bool:
    """Does ``graph`` have a pointwise op (so its accelerator needs a LUT stage, ``lut_tables`` >= 1)?"""
    return any(isinstance(op, Pointwise) for op in graph.ops)


_MAPPED = (
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Pointwise,
    Reshape,
    SelectChannels,  # as a one-hot 1x1 conv (gathers.py)
    Upsample,
)


def check_runnable(graph: Graph) -> None:
    """Raise a :class:`ScheduleError` for the first op that no accelerator runs, whatever its config:
    searches over configs check this once instead of failing every trial."""
    for op in graph.ops:
        if not isinstance(op, _MAPPED):
            raise ScheduleError(f"op '{op.name}' of kind {op.kind.value} has no accelerator mapping.")
