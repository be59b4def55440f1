"""The supernet of a :class:`~dian.nas.space.SearchSpace` and the plain network of one architecture.

:class:`SuperNet` holds every candidate of every block at its stage's widest
width. Its forward takes relaxed choices made by the caller (Gumbel-softmax
samples, soft or straight-through hard): a block's output is the weighted
sum of its candidates, and a stage's width is chosen the FBNetV2 way, by
multiplying the stage's outputs with a weighted sum of channel masks, one
per width (the first ``width`` channels on). An MBConv's hidden width is its
input width times its expansion, masked the same way, so a supernet with
one-hot choices computes exactly what the derived network computes with the
first channels of the supernet's weights: that is what lets :func:`derive`
hand the searched weights on for fine-tuning.

:func:`derive` builds the network of one :class:`~dian.nas.space.Arch` from
nothing but Conv2d, BatchNorm2d, ReLU6, additions, AdaptiveAvgPool2d(1),
flatten and Linear, which dian's frontend lowers (skip blocks vanish).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from dian.errors import SearchSpaceError
from dian.frontend.zoo.seeding import seeded

from .space import OPS, SKIP, Arch, SearchSpace

#: The supernet and training keep activations and conv weights channels-last (NHWC): on a CPU,
#: oneDNN's depthwise convolutions, forward and backward, run 1.5-3x faster so (measured on this
#: space, one thread); the values are the same, only the memory order differs.
FAST_FORMAT = torch.channels_last


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    """Conv (no bias, 'same' padding) -> BatchNorm2d [-> ReLU6], MobileNetV2's unit."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    return nn.Sequential(*layers, nn.ReLU6()) if relu else nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand, BN, ReLU6,] kxk depthwise (stride), BN, ReLU6, 1x1 project, BN,
    plus the input when ``residual``. ``hidden_mask`` (the supernet's) zeroes hidden channels beyond
    the chosen width after each ReLU6; the derived network passes none."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expand: int, stride: int, residual: bool) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = conv_bn(c_in, hidden, 1) if expand != 1 else None
        self.depthwise = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, c_out, 1, relu=False)
        self.residual = residual

    def forward(self, x: torch.Tensor, hidden_mask: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        if self.expand is not None:
            h = self.expand(h)
            if hidden_mask is not None:
                h = h * hidden_mask
        h = self.depthwise(h)
        if hidden_mask is not None:
            h = h * hidden_mask
        h = self.project(h)
        return x + h if self.residual else h


class Head(nn.Module):
    """1x1 conv to ``channels``, BN, ReLU6, global average pool, flatten, linear to ``classes``."""

    def __init__(self, c_in: int, channels: int, classes: int) -> None:
        super().__init__()
        self.conv = conv_bn(c_in, channels, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


def arch_logits_shape(space: SearchSpace) -> tuple[tuple[int, int], tuple[int, int]]:
    """The shapes of the op choices [n_blocks, len(OPS)] and width choices [n_stages, max widths]."""
    return (space.n_blocks, len(OPS)), (len(space.stages), max(len(s.widths) for s in space.stages))


def allowed_masks(space: SearchSpace) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean tensors of :func:`arch_logits_shape`: True where a block may take an op, and where a
    stage has a width (stages with fewer widths than the widest choice leave the rest False)."""
    (nb, no), (ns, nw) = arch_logits_shape(space)
    ops = torch.zeros(nb, no, dtype=torch.bool)
    for b in range(nb):
        ops[b, list(space.allowed_ops(b))] = True
    widths = torch.zeros(ns, nw, dtype=torch.bool)
    for s, st in enumerate(space.stages):
        widths[s, : len(st.widths)] = True
    return ops, widths


def mask_disallowed(logits: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """``logits`` with -inf where the choice does not exist, so softmax and Gumbel-softmax give it
    weight 0. Accepts op logits [n_blocks, len(OPS)] or width logits [n_stages, max widths]."""
    ops, widths = allowed_masks(space)
    for allowed in (ops, widths):
        if tuple(logits.shape) == tuple(allowed.shape):
            return logits.masked_fill(~allowed.to(logits.device), float("-inf"))
    raise SearchSpaceError(
        f"logits of shape {list(logits.shape)} fit neither the op choices {list(ops.shape)} nor "
        f"the width choices {list(widths.shape)} of search space {space.name}."
    )


def gumbel_softmax(
    logits: torch.Tensor, tau: float, generator: torch.Generator | None = None, hard: bool = False
) -> torch.Tensor:
    """Gumbel-softmax over the last dim (``hard``: one-hot values with the soft sample's gradient,
    straight-through). The noise comes from ``generator`` (torch's global one when None): a search
    keeps its own, so a checkpoint can restore it whatever else draws from the global one."""
    # -log(Exp(1)) is Gumbel(0, 1): drawn as torch.nn.functional.gumbel_softmax draws it.
    g = -torch.empty(logits.shape, dtype=logits.dtype).exponential_(generator=generator).log().to(logits.device)
    y = F.softmax((logits + g) / tau, dim=-1)
    if not hard:
        return y
    one = torch.zeros_like(y).scatter_(-1, y.argmax(dim=-1, keepdim=True), 1.0)
    return one - y.detach() + y


def gumbel_choices(
    space: SearchSpace,
    op_logits: torch.Tensor,
    width_logits: torch.Tensor,
    tau: float,
    hard: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gumbel-softmax samples of the op and width choices (see :func:`gumbel_softmax`), choices that
    do not exist masked to weight 0."""
    return (
        gumbel_softmax(mask_disallowed(op_logits, space), tau, generator, hard),
        gumbel_softmax(mask_disallowed(width_logits, space), tau, generator, hard),
    )


def one_hot(space: SearchSpace, arch: Arch) -> tuple[torch.Tensor, torch.Tensor]:
    """The hard choice weights of ``arch``: (op weights, width weights) shaped as :func:`arch_logits_shape`."""
    space.check(arch)
    (nb, no), (ns, nw) = arch_logits_shape(space)
    ops, widths = torch.zeros(nb, no), torch.zeros(ns, nw)
    ops[torch.arange(nb), list(arch.ops)] = 1.0
    widths[torch.arange(ns), list(arch.widths)] = 1.0
    return ops, widths


def arch_of(space: SearchSpace, op_weights: torch.Tensor, width_weights: torch.Tensor) -> Arch:
    """The architecture of the heaviest allowed choice in every block and stage (logits or weights)."""
    op_w, width_w = (mask_disallowed(t.detach().float().cpu(), space) for t in (op_weights, width_weights))
    return space.check(Arch(tuple(int(i) for i in op_w.argmax(1)), tuple(int(i) for i in width_w.argmax(1))))


class SuperNet(nn.Module):
    """Every candidate of every block of ``space`` at its stage's widest width; see the module doc."""

    _disallowed_ops: torch.Tensor  # buffers (register_buffer below)
    _unused_widths: torch.Tensor

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        self._sites = space.sites
        self._allowed = tuple(space.allowed_ops(b) for b in range(space.n_blocks))
        c_in = space.input_shape[1]
        self.stem = conv_bn(c_in, space.stem_channels, 3, space.stem_stride)
        self.blocks = nn.ModuleList()
        for site in self._sites:
            cin = self._max_in(site.index)
            cout = max(space.stages[site.stage].widths)
            self.blocks.append(
                nn.ModuleDict(
                    {
                        str(o): MBConv(cin, cout, OPS[o].kernel, OPS[o].expand, site.stride, not site.first)
                        for o in self._allowed[site.index]
                        if o != SKIP
                    }
                )
            )
        self.head = Head(max(space.stages[-1].widths), space.head_channels, space.classes)
        ops, widths = allowed_masks(space)
        self.register_buffer("_disallowed_ops", ~ops, persistent=False)
        self.register_buffer("_unused_widths", ~widths, persistent=False)
        self.to(memory_format=FAST_FORMAT)  # type: ignore[call-overload]  # torch's Module.to overloads omit memory_format

    def _max_in(self, block: int) -> int:
        site = self._sites[block]
        if not site.first:
            return max(self.space.stages[site.stage].widths)
        return self.space.stem_channels if site.stage == 0 else max(self.space.stages[site.stage - 1].widths)

    def _mask(self, width_weights: torch.Tensor, stage: int, times: int = 1) -> torch.Tensor:
        """[1, C, 1, 1]: sum over widths w of width_weights[stage, w] * (channel < widths[w] * times),
        C = the stage's widest width * times."""
        widths = self.space.stages[stage].widths
        channel = torch.arange(max(widths) * times, device=width_weights.device)
        masks = torch.stack([(channel < w * times) for w in widths]).to(width_weights.dtype)
        return (width_weights[stage, : len(widths)] @ masks).view(1, -1, 1, 1)

    def forward(
        self, x: torch.Tensor, op_weights: torch.Tensor, width_weights: torch.Tensor, compute_all: bool = False
    ) -> torch.Tensor:
        """Logits of the relaxed network. ``op_weights`` [n_blocks, len(OPS)] and ``width_weights``
        [n_stages, max widths] weigh the choices (rows summing to 1; disallowed or missing choices
        must weigh 0). Candidates weighing exactly 0 are not computed (a straight-through hard sample
        costs one candidate per block; the gradient still reaches every logit through the chosen
        weight) unless ``compute_all``."""
        shapes = arch_logits_shape(self.space)
        if tuple(op_weights.shape) != shapes[0] or tuple(width_weights.shape) != shapes[1]:
            raise SearchSpaceError(
                f"supernet of space {self.space.name} takes op weights {list(shapes[0])} and width "
                f"weights {list(shapes[1])}; got {list(op_weights.shape)} and "
                f"{list(width_weights.shape)}."
            )
        if bool((op_weights.detach()[self._disallowed_ops] != 0).any()) or bool(
            (width_weights.detach()[self._unused_widths] != 0).any()
        ):
            raise SearchSpaceError(
                f"an op a block of space {self.space.name} cannot take, or a width a stage does "
                f"not have, carries weight; sample with gumbel_choices (or from "
                f"mask_disallowed(logits, space)) so that such choices weigh 0."
            )
        x = self.stem(x.contiguous(memory_format=FAST_FORMAT))
        for site, candidates in zip(self._sites, self.blocks, strict=True):
            assert isinstance(candidates, nn.ModuleDict)
            w = op_weights[site.index]
            keep = w.detach() != 0
            out_mask = self._mask(width_weights, site.stage)
            hidden: dict[int, torch.Tensor | None] = {}
            y: torch.Tensor | None = None
            for o in self._allowed[site.index]:
                if not (compute_all or bool(keep[o])):
                    continue
                if o == SKIP:
                    term = x
                else:
                    e = OPS[o].expand
                    if e not in hidden:
                        in_stage = site.stage if not site.first else site.stage - 1
                        hidden[e] = self._mask(width_weights, in_stage, e) if in_stage >= 0 else None
                    term = candidates[str(o)](x, hidden[e])
                y = w[o] * term if y is None else y + w[o] * term
            if y is None:
                raise SearchSpaceError(
                    f"block {site.index}: every allowed op weighs 0; each block's weights must sum to 1."
                )
            x = y * out_mask
        return self.head(x)


class DerivedNet(nn.Module):
    """The plain network of one architecture: stem, the non-skip blocks in order, head."""

    def __init__(self, space: SearchSpace, arch: Arch) -> None:
        super().__init__()
        space.check(arch)
        self.stem = conv_bn(space.input_shape[1], space.stem_channels, 3, space.stem_stride)
        self.blocks = nn.Sequential()
        for site in space.sites:
            o = arch.ops[site.index]
            if o != SKIP:
                self.blocks.add_module(
                    str(site.index),
                    MBConv(
                        space.in_width(arch, site.index),
                        space.out_width(arch, site.index),
                        OPS[o].kernel,
                        OPS[o].expand,
                        site.stride,
                        not site.first,
                    ),
                )
        last = space.stages[-1].widths[arch.widths[-1]]
        self.head = Head(last, space.head_channels, space.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def derive(space: SearchSpace, arch: Arch, supernet: SuperNet | None = None, seed: int = 0) -> DerivedNet:
    """The network of ``arch``: with ``supernet``, its weights are the supernet's (the first channels
    of the chosen candidates), so it computes what the supernet does with one-hot choices; without,
    a fresh initialization from ``seed`` (the same seed, the same weights). Returned in eval mode."""
    with seeded(seed):
        net = DerivedNet(space, arch)
    if supernet is not None:
        if supernet.space != space:
            raise SearchSpaceError(
                f"the supernet is of space {supernet.space.name}, not {space.name}; derive from "
                f"a supernet of the same space."
            )
        _inherit(net, supernet, arch)
    return net.eval()


def _inherit(net: DerivedNet, supernet: SuperNet, arch: Arch) -> None:
    """Copy the supernet's weights into ``net``: every tensor of a derived module is a leading
    slice of the corresponding supernet tensor (channels beyond the chosen width are dropped)."""
    pairs: list[tuple[nn.Module, nn.Module]] = [(net.stem, supernet.stem), (net.head, supernet.head)]
    for name, block in net.blocks.named_children():
        candidates = supernet.blocks[int(name)]
        assert isinstance(candidates, nn.ModuleDict)
        pairs.append((block, candidates[str(arch.ops[int(name)])]))
    with torch.no_grad():
        for mine, theirs in pairs:
            source = theirs.state_dict()
            for key, t in mine.state_dict().items():
                t.copy_(source[key][tuple(slice(0, n) for n in t.shape)])
