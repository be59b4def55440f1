"""The co-search's network space: an FBNet-style chain of searchable blocks.

A network is a fixed stem (3x3 conv, BN, ReLU6), a sequence of *stages*
and a fixed head (1x1 conv, BN, ReLU6, global average pool, linear). Each
stage has a few blocks; the first block of a stage applies the stage's
stride and changes the channel count, the others keep both. Every block
chooses one of :data:`OPS`: an inverted-residual MBConv (1x1 expansion by
``expand`` — none when 1 —, ``kernel`` x ``kernel`` depthwise conv, 1x1
projection, a residual add when the shapes allow) or ``skip`` (identity,
only where the block keeps its shape). Every stage chooses one of its
``widths``, shared by its blocks.

:class:`SearchSpace` and :class:`Arch` are plain frozen values: the
supernet (nas/supernet.py), the cost tables (nas/costs.py) and the derived
network all read the same description, so they cannot disagree about what
a choice means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dian.errors import SearchSpaceError


@dataclass(frozen=True)
class BlockOp:
    """One block candidate: ``kind`` is "mbconv" or "skip"."""

    kind: str
    kernel: int = 0
    expand: int = 0

    @property
    def label(self) -> str:
        return "skip" if self.kind == "skip" else f"k{self.kernel}e{self.expand}"


#: The block candidates, in choice order (FBNet's: kernel 3/5 x expansion 1/3/6, and skip).
OPS: tuple[BlockOp, ...] = (*(BlockOp("mbconv", k, e) for k in (3, 5) for e in (1, 3, 6)), BlockOp("skip"))
SKIP = len(OPS) - 1


@dataclass(frozen=True)
class StageSpec:
    """``blocks`` blocks at one width chosen from ``widths``; the first has stride ``stride``."""

    widths: tuple[int, ...]
    blocks: int
    stride: int


@dataclass(frozen=True)
class BlockSite:
    """Where a block sits: its stage, index in the stage, stride, input resolution and
    whether it may be skipped (it keeps its input's shape)."""

    index: int
    stage: int
    first: bool
    stride: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    @property
    def skippable(self) -> bool:
        return not self.first


@dataclass(frozen=True)
class SearchSpace:
    """A supernet description. ``input_shape`` is (1, C, H, W)."""

    name: str
    input_shape: tuple[int, int, int, int]
    classes: int
    stem_channels: int
    stem_stride: int
    stages: tuple[StageSpec, ...]
    head_channels: int

    def __post_init__(self) -> None:
        n, c, h, w = self.input_shape
        if n != 1 or min(c, h, w) < 1:
            raise SearchSpaceError(f"search space {self.name}: input shape {self.input_shape} must be (1, C, H, W).")
        if not self.stages or any(not s.widths or s.blocks < 1 or s.stride not in (1, 2) for s in self.stages):
            raise SearchSpaceError(
                f"search space {self.name}: every stage needs widths, at least one block and "
                f"stride 1 or 2; got {self.stages}."
            )

    @property
    def sites(self) -> tuple[BlockSite, ...]:
        """Every block in order, with its resolution."""
        h, w = _down(self.input_shape[2], self.stem_stride), _down(self.input_shape[3], self.stem_stride)
        out: list[BlockSite] = []
        for si, st in enumerate(self.stages):
            for b in range(st.blocks):
                s = st.stride if b == 0 else 1
                oh, ow = _down(h, s), _down(w, s)
                out.append(BlockSite(len(out), si, b == 0, s, (h, w), (oh, ow)))
                h, w = oh, ow
        return tuple(out)

    @property
    def n_blocks(self) -> int:
        return sum(s.blocks for s in self.stages)

    def allowed_ops(self, block: int) -> tuple[int, ...]:
        """Indices into :data:`OPS` block ``block`` may take."""
        site = self.sites[block]
        return tuple(i for i, op in enumerate(OPS) if op.kind != "skip" or site.skippable)

    def in_width(self, arch: Arch, block: int) -> int:
        """Channels into block ``block`` under ``arch``."""
        site = self.sites[block]
        if not site.first:
            return self.stages[site.stage].widths[arch.widths[site.stage]]
        return (
            self.stem_channels if site.stage == 0 else self.stages[site.stage - 1].widths[arch.widths[site.stage - 1]]
        )

    def out_width(self, arch: Arch, block: int) -> int:
        st = self.sites[block].stage
        return self.stages[st].widths[arch.widths[st]]

    def check(self, arch: Arch) -> Arch:
        """``arch`` if it is a valid choice in this space; else :class:`SearchSpaceError`."""
        if len(arch.ops) != self.n_blocks or len(arch.widths) != len(self.stages):
            raise SearchSpaceError(
                f"architecture has {len(arch.ops)} block ops and {len(arch.widths)} widths; space "
                f"{self.name} has {self.n_blocks} blocks and {len(self.stages)} stages."
            )
        for b, o in enumerate(arch.ops):
            if o not in self.allowed_ops(b):
                raise SearchSpaceError(
                    f"block {b} cannot take op {o}; allowed: "
                    f"{', '.join(f'{i} ({OPS[i].label})' for i in self.allowed_ops(b))}."
                )
        for s, wi in enumerate(arch.widths):
            if not 0 <= wi < len(self.stages[s].widths):
                raise SearchSpaceError(
                    f"stage {s} width index {wi} is out of range 0..{len(self.stages[s].widths) - 1}."
                )
        return arch

    def describe(self, arch: Arch) -> str:
        """One line per stage: its width and its blocks' ops."""
        lines, b = [], 0
        for si, st in enumerate(self.stages):
            ops = " ".join(OPS[o].label for o in arch.ops[b : b + st.blocks])
            lines.append(f"stage {si}: {st.widths[arch.widths[si]]} ch, stride {st.stride}: {ops}")
            b += st.blocks
        return "\n".join(lines)


@dataclass(frozen=True)
class Arch:
    """A point in a :class:`SearchSpace`: an op index per block, a width index per stage."""

    ops: tuple[int, ...]
    widths: tuple[int, ...]

    def to_json(self) -> str:
        return json.dumps({"ops": list(self.ops), "widths": list(self.widths)})

    @staticmethod
    def from_json(text: str) -> Arch:
        d = json.loads(text)
        return Arch(tuple(int(o) for o in d["ops"]), tuple(int(w) for w in d["widths"]))


def _down(n: int, stride: int) -> int:
    """Output size of a 'same'-padded conv with odd kernel and this stride."""
    return (n - 1) // stride + 1


#: The spaces dian ships, by dataset.
SPACES: dict[str, SearchSpace] = {
    "digits": SearchSpace(
        "digits",
        (1, 1, 8, 8),
        10,
        16,
        1,
        (StageSpec((8, 16, 24), 2, 1), StageSpec((16, 24, 32), 2, 2), StageSpec((24, 32, 48), 2, 2)),
        64,
    ),
    "mnist": SearchSpace(
        "mnist",
        (1, 1, 28, 28),
        10,
        16,
        2,
        (StageSpec((8, 16, 24), 2, 1), StageSpec((16, 24, 32), 2, 2), StageSpec((24, 32, 48), 2, 2)),
        64,
    ),
}
