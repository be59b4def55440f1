"""Fused blocks (issue 15, stage P1; docs/accelerator.md, "Fusion buffer"): a depthwise conv whose
output only a 1x1 projection reads (and, optionally, a residual add that alone reads the
projection's output) runs as one work through FBUF, so the depthwise output (and the projection's,
before the add) never goes to DRAM. Stage P2 (``AccelConfig.fuse_expand``): the block may also start at
the 1x1 expand GEMM that alone feeds the depthwise conv; its output goes to FBUF a band at a time, at
the depthwise input's odd pitch with the halo rows recomputed, and never reaches DRAM either.

:func:`patterns` finds the blocks in a graph's plans; a block's tiling (:class:`FusedTiling`:
bands of ``rows`` output rows at full width, depthwise channel groups of ``ct`` blocks, projection
tiles of ``kt`` output x ``pct`` input blocks) must pass :func:`fits`, every buffer limit;
:func:`candidate_tilings` lists those worth timing (fused_choice.py times them), and
:func:`choose_tiling` is the first-order pick (the most rows a band, then the largest groups).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from dian.ir import Add, Conv2d, Graph, Op

from ..accel_config import AccelConfig
from .layout import blocks, dw_groups, dw_pitch
from .scheduler import LayerPlan
from .tile_search import halves
from .workload import Work, WorkKind


@dataclass(frozen=True)
class FusedTiling:
    """How a fused block runs: bands of ``rows`` output rows (full width), depthwise steps of ``ct``
    channel blocks, projection steps of ``kt`` output blocks x ``pct`` input blocks (the last of a
    band's ``pct`` groups requantizes, and adds the residual). ``pipelined``: FBUF holds two bands,
    and the depthwise steps of band b + 1 (memory-bound) interleave with the projection of band b
    (compute-bound), so the two engines overlap across the block instead of within each band."""

    rows: int
    ct: int
    kt: int
    pct: int
    pipelined: bool = False

    def fbuf_words(self, kbe: int, wo: int, add: bool) -> int:
        """FBUF words: one band of ``kbe`` depthwise channel blocks (two when pipelined), and the
        projection tile before the residual add."""
        band = kbe * self.rows * wo
        return band * (2 if self.pipelined else 1) + (self.kt * self.rows * wo if add else 0)


@dataclass(frozen=True)
class FusedBlock:
    """A depthwise conv, its 1x1 projection and the optional residual add, run as one work. ``a_is_x``:
    the add's first input is the residual (so its ``m_a`` goes with the IBUF operand)."""

    dw: Work
    project: Work
    add: Work | None
    tiling: FusedTiling
    a_is_x: bool = True
    expand: Work | None = None  # stage P2: the 1x1 expand GEMM whose output the depthwise conv reads from FBUF

    @property
    def name(self) -> str:
        """The work's name: the layer of all its steps (a chunk never spans two works)."""
        ops = (() if self.expand is None else (self.expand.op,)) + (self.dw.op, self.project.op)
        return "+".join(op.name for op in ops + (() if self.add is None else (self.add.op,)))

    @property
    def hidden(self) -> tuple[str, ...]:
        """The tensors that never reach DRAM: the depthwise output, the projection's before an add, and
        the expand's (stage P2)."""
        out = (self.dw.op.output,) + (() if self.add is None else (self.project.op.output,))
        return out + (() if self.expand is None else (self.expand.op.output,))

    @property
    def members(self) -> tuple[Work, ...]:
        """The block's works in execution order unfused."""
        return (
            (() if self.expand is None else (self.expand,))
            + (self.dw, self.project)
            + (() if self.add is None else (self.add,))
        )

    @property
    def output(self) -> Op:
        """The op whose output the block stores."""
        return self.project.op if self.add is None else self.add.op

    def residual(self) -> str:
        """The add's other input (the block's input), read from DRAM."""
        assert self.add is not None
        a, b = self.add.op.inputs
        return a if self.a_is_x else b


#: Picks a fused block's tiling from its depthwise, projection and add works (None: leave it unfused).
TilingChooser = Callable[[Work, Work, "Work | None", AccelConfig], "FusedTiling | None"]


@dataclass(frozen=True)
class Pattern:
    """A depthwise conv, its projection and the residual add (if any) that may run fused."""

    dw: Work
    project: Work
    add: Work | None
    a_is_x: bool = True
    expand: Work | None = None  # the 1x1 GEMM that alone feeds ``dw`` (with ``AccelConfig.fuse_expand``)


def patterns(graph: Graph, cfg: AccelConfig, plans: list[LayerPlan]) -> list[Pattern]:
    """The blocks of ``plans`` (of ``graph``, in accelerator form) that may run fused; none when
    ``cfg`` has no fusion buffer."""
    if not cfg.fbuf.bytes:
        return []
    readers: dict[str, list[Op]] = {}
    for op in graph.ops:
        for name in op.inputs:
            readers.setdefault(name, []).append(op)
    works = {p.work.op.name: p.work for p in plans}
    order = {p.work.op.name: i for i, p in enumerate(plans)}
    producer = {op.output: op.name for op in graph.ops}
    out: list[Pattern] = []
    for p in plans:
        dw = p.work
        if dw.kind is not WorkKind.DW or dw.lut is not None or dw.op.output in graph.outputs:
            continue
        proj = _only_reader(readers, dw.op.output, graph)
        pw = works.get(proj.name) if proj is not None else None
        if pw is None or not _is_projection(pw):
            continue
        add, a_is_x = _residual_add(readers, pw, works, graph)
        if add is not None:  # the residual must exist before the block runs (it runs at the DW's place)
            x = add.op.inputs[0] if a_is_x else add.op.inputs[1]
            if x in producer and order.get(producer[x], len(plans)) >= order[dw.op.name]:
                add = None
        out.append(Pattern(dw, pw, add, a_is_x, _expand(readers, producer, works, dw, graph, cfg)))
    return out


def _expand(
    readers: dict[str, list[Op]],
    producer: dict[str, str],
    works: dict[str, Work],
    dw: Work,
    graph: Graph,
    cfg: AccelConfig,
) -> Work | None:
    """Stage P2: the 1x1 GEMM (as a projection: stride 1, no padding, no LUT stage) whose output only
    ``dw`` reads, when ``cfg`` fuses expands; its output then never reaches DRAM."""
    x = dw.op.inputs[0]
    ew = works.get(producer.get(x, ""))
    if not cfg.fuse_expand or ew is None or not _is_projection(ew) or _only_reader(readers, x, graph) is not dw.op:
        return None
    return ew if (ew.oy, ew.ox) == (dw.h, dw.w) else None


def expand_region(dw: Work, rows: int, cfg: AccelConfig) -> tuple[int, int]:
    """Stage P2: the rows and the odd pitch of the FBUF region that holds one expanded channel block of
    a band of ``rows`` depthwise output rows (its input rows with the halo, padding columns included)."""
    (sy, sx), (_, px), (dy, dx) = dw.stride, dw.padding, dw.dilation
    ny, nx = (rows - 1) * sy + (dw.fy - 1) * dy + 1, (dw.ox - 1) * sx + (dw.fx - 1) * dx + 1
    return ny, dw_pitch(max(nx, px + dw.w), dw.fy, dw.fx, dy, cfg.lanes, cfg.ibuf_banks)


def expand_chunks(dw: Work, rows: int, ct: int, cfg: AccelConfig) -> tuple[int, int]:
    """Stage P2: the most region rows one expand GEMM, and one clearing GEMM, may cover (0 when not
    one fits): their ABUF words, at the region's pitch, after the depthwise sums of ``ct`` blocks."""
    ny, pitch = expand_region(dw, rows, cfg)
    free = halves(cfg)["abuf"] - ct * rows * dw.ox
    return (min(ny, (free - dw.w) // pitch + 1) if free >= dw.w else 0), min(ny, max(0, free // pitch))


def candidate_tilings(
    dw: Work, pw: Work, add: Work | None, cfg: AccelConfig, heights: int = 4, ex: Work | None = None
) -> list[FusedTiling]:
    """Tilings worth timing, unpipelined and pipelined: the ``heights`` tallest bands that fit (of
    the band heights giving distinct band counts), each with the largest depthwise group and half
    of it (smaller steps overlap the engines more finely), and the projection tile with the most
    output blocks or with one (which leaves FBUF to the band before an add), each with the longest
    reduction that fits. ``ex``: the expand GEMM of a stage-P2 block (its band and weights fit too)."""
    L = cfg.lanes
    kbe, kbo = blocks(dw.k, L), blocks(pw.k, L)
    kmax = min(kbo, halves(cfg)["pbuf"])
    out: list[FusedTiling] = []
    for pipe in (False, True):
        found = 0
        for rows in sorted({-(-dw.oy // bands) for bands in range(1, dw.oy + 1)}, reverse=True):
            ctmax = next((c for c in range(kbe, 0, -1) if _dw_fits(dw, rows, c, cfg, ex)), 0)
            tilings = [
                t
                for ct in sorted({ctmax, -(-ctmax // 2)} - {0}, reverse=True)
                for kt in sorted({_most_kt(dw, pw, add, rows, ct, kmax, pipe, cfg, ex), 1}, reverse=True)
                if (t := _longest_reduction(dw, pw, add, FusedTiling(rows, ct, kt, kbe, pipe), cfg, ex)) is not None
            ]
            out += [t for t in tilings if t not in out]
            found += bool(tilings)
            if found == heights:
                break
    return out


def _most_kt(
    dw: Work, pw: Work, add: Work | None, rows: int, ct: int, kmax: int, pipe: bool, cfg: AccelConfig, ex: Work | None
) -> int:
    """The most projection output blocks a tile of a band of ``rows`` can have (1 when none fits)."""
    return next((k for k in range(kmax, 0, -1) if fits(dw, pw, add, FusedTiling(rows, ct, k, 1, pipe), cfg, ex)), 1)


def _longest_reduction(
    dw: Work, pw: Work, add: Work | None, t: FusedTiling, cfg: AccelConfig, ex: Work | None
) -> FusedTiling | None:
    """``t`` with the most projection input blocks a step (at most ``t.pct``) that fits, or None."""
    return next(
        (r for c in range(t.pct, 0, -1) if fits(dw, pw, add, r := dataclasses.replace(t, pct=c), cfg, ex)), None
    )


def _only_reader(readers: dict[str, list[Op]], tensor: str, graph: Graph) -> Op | None:
    ops = readers.get(tensor, [])
    return ops[0] if len(ops) == 1 and tensor not in graph.outputs else None


def _is_projection(w: Work) -> bool:
    """A 1x1 conv at stride 1 without padding or grouping, on the GEMM dataflow, with no LUT stage."""
    op = w.op
    return (
        isinstance(op, Conv2d)
        and w.kind is WorkKind.GEMM
        and w.lut is None
        and op.groups == 1
        and (w.fy, w.fx, w.stride, w.padding) == (1, 1, (1, 1), (0, 0))
        and w.n == 1
    )


def _residual_add(
    readers: dict[str, list[Op]], pw: Work, works: dict[str, Work], graph: Graph
) -> tuple[Work | None, bool]:
    """The add that alone reads the projection's output, and whether the residual is its first input
    (a subtraction only when the projection is the subtrahend: ADD's FBUF operand is ``b``)."""
    add = _only_reader(readers, pw.op.output, graph)
    w = works.get(add.name) if add is not None else None
    if w is None or not isinstance(add, Add) or w.kind is not WorkKind.ADD or w.lut is not None:
        return None, True
    a, b = add.inputs
    if a == b:
        return None, True
    a_is_x = b == pw.op.output
    if add.subtract and not a_is_x:
        return None, True
    return w, a_is_x


def choose_tiling(dw: Work, pw: Work, add: Work | None, cfg: AccelConfig) -> FusedTiling | None:
    """The fused tiling with the most rows a band, then the largest groups, that fits every buffer
    (:func:`fits`); None when not even one row does."""
    L = cfg.lanes
    kbe, kbo = blocks(dw.k, L), blocks(pw.k, L)
    for rows in range(dw.oy, 0, -1):
        ct = next((c for c in range(kbe, 0, -1) if _dw_fits(dw, rows, c, cfg)), 0)
        if not ct:
            continue
        for kt in range(min(kbo, halves(cfg)["pbuf"]), 0, -1):
            pct = next((c for c in range(kbe, 0, -1) if fits(dw, pw, add, FusedTiling(rows, ct, kt, c), cfg)), 0)
            if pct:
                return FusedTiling(rows, ct, kt, pct)
    return None


def _dw_fits(dw: Work, rows: int, ct: int, cfg: AccelConfig, ex: Work | None = None) -> bool:
    """A depthwise step of ``ct`` channel blocks and a band of ``rows`` full-width rows fits its buffers
    (with ``ex``, stage P2: the expand's input rows, both layers' weights and parameters; one expanded
    channel block at a time in FBUF, fits checks that)."""
    h, L = halves(cfg), cfg.lanes
    (sy, sx), (dy, dx) = dw.stride, dw.dilation
    groups = dw_groups(dw.fy, dw.fx, dy, L, cfg.ibuf_banks)
    if ex is not None:
        ny, _ = expand_region(dw, rows, cfg)
        ec, cc = expand_chunks(dw, rows, ct, cfg)
        kbi = blocks(ex.c, L)
        return (
            ec > 0
            and cc > 0
            and kbi * min(ny, dw.h) * dw.w <= h["ibuf"]
            and ct * (kbi + len(groups)) * L <= h["wbuf"]
            and 2 * ct <= h["pbuf"]
            # the expand GEMMs and the DWs, the clears (3 x rows / cc + 1 at most), five loads, two ENDs
            and ct * (len(groups) + -(-ny // ec)) + 3 * -(-ny // cc) + 1 + 5 + 2 <= h["imem"]
        )
    ny, nx = (rows - 1) * sy + (dw.fy - 1) * dy + 1, (dw.ox - 1) * sx + (dw.fx - 1) * dx + 1
    pitch = dw_pitch(nx, dw.fy, dw.fx, dy, L, cfg.ibuf_banks)
    return (
        ct * ny * pitch <= h["ibuf"]
        and ct * len(groups) * L <= h["wbuf"]
        and ct * rows * dw.ox <= h["abuf"]
        and ct <= h["pbuf"]
        and ct * len(groups) + 3 + 2 <= h["imem"]  # the DW instructions, three loads, two ENDs
    )


def fits(dw: Work, pw: Work, add: Work | None, t: FusedTiling, cfg: AccelConfig, ex: Work | None = None) -> bool:
    """Every buffer limit of a fused tiling: FBUF holds a band of the depthwise output (and, with an
    add, a projection tile; with ``ex``, stage P2, one expanded channel block of the band's input
    rows); the depthwise and the projection steps fit IBUF, WBUF, ABUF, OBUF, PBUF and IMEM halves."""
    h, L = halves(cfg), cfg.lanes
    kbe = blocks(dw.k, L)
    tile = t.kt * t.rows * dw.ox  # words of one projection output tile
    ny, pitch = expand_region(dw, t.rows, cfg) if ex is not None else (0, 0)
    spare = dw.padding[1] if ex is not None else 0  # the last padding run's words past the region
    return (
        t.fbuf_words(kbe, dw.ox, add is not None) + ny * pitch + spare <= cfg.words("fbuf")
        and _dw_fits(dw, t.rows, t.ct, cfg, ex)
        and t.kt * t.pct * L <= h["wbuf"]
        and tile <= min(h["abuf"], h["obuf"])
        and (add is None or tile <= h["ibuf"])
        and t.kt <= h["pbuf"]
        and t.kt + 3 + 2 + 2 <= h["imem"]  # GEMMs and an ADD, three loads, a store, two ENDs
        and pw.oy == dw.oy
        and pw.ox == dw.ox
    )
