"""Small nets with pointwise ops in every position the accelerator distinguishes (fused into a
conv, a depthwise conv or a linear layer; standalone after an add, a pool or a conv read twice;
per tensor and per channel), for the machine-simulator and RTL tests."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from dian.frontend import lower
from dian.ir import Graph


class MixedNet(nn.Module):
    """SiLU after a conv read twice (standalone), Hardswish after a depthwise conv (fused), sigmoid
    after an add (standalone), PReLU per channel after a 1x1 conv (fused), tanh after the linear
    layer at the graph's output (fused: the linear output is read by tanh alone)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.a1 = nn.Conv2d(3, 8, 3, padding=1), nn.SiLU()
        self.dw, self.a2 = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Hardswish()
        self.c2, self.p = nn.Conv2d(8, 6, 1), nn.PReLU(6)
        self.fc = nn.Linear(6 * 5 * 5, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a1(self.c1(x))
        z = torch.sigmoid(self.a2(self.dw(y)) + y)
        return torch.tanh(self.fc(self.p(self.c2(z)).flatten(1)))


class StandaloneNet(nn.Module):
    """Every table standalone: after an add (per channel, 10 channels: 3 blocks of 4 lanes) and
    after a max pool; the GELU is the graph's output."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.p = nn.Conv2d(2, 10, 3, padding=1), nn.Conv2d(2, 10, 1), nn.PReLU(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.p(self.c1(x) + self.c2(x))
        return nn.functional.gelu(nn.functional.max_pool2d(y, 2))


def pointwise_graph(net: type[nn.Module], shape: tuple[int, ...], seed: int) -> Graph:
    """The integer graph of ``net`` built with torch seed ``seed`` (PReLU slopes spread over
    -0.5 .. 1.5, so both signs and slopes above one occur), calibrated on 8 normal samples."""
    torch.manual_seed(seed)
    m = net().eval()
    for p in m.modules():
        if isinstance(p, nn.PReLU):
            with torch.no_grad():
                p.weight.copy_(torch.linspace(-0.5, 1.5, p.num_parameters))
    calib = np.random.default_rng(seed).standard_normal((8, *shape[1:])).astype(np.float32)
    return lower(m, shape, calib, net.__name__)[1]


class ElementwiseNet(nn.Module):
    """Squeeze-excite (a hardsigmoid gate of 10 channels: 3 blocks of 4 lanes, the last short)
    times the features, a product of two same-shaped tensors, a difference and x * 0.5."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 10, 3, padding=1), nn.Conv2d(10, 10, 1)
        self.f1, self.f2 = nn.Conv2d(10, 4, 1), nn.Conv2d(4, 10, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.c1(x))
        gate = nn.functional.hardsigmoid(self.f2(torch.relu(self.f1(y.mean((2, 3), keepdim=True)))))
        z = y * gate
        w = self.c2(z)
        return (w * z - y) * 0.5


class UpsampleNet(nn.Module):
    """A small UNet step: down by a max pool, up by nearest upsampling x2 (a module) and x(1, 3)
    (F.interpolate by size), joined with the skip by a concat and an add."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.up, self.c3 = nn.Upsample(scale_factor=2), nn.Conv2d(16, 6, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = torch.relu(self.c1(x))
        deep = torch.relu(self.c2(nn.functional.max_pool2d(skip, 2)))
        y = self.c3(torch.cat([self.up(deep), skip], 1))
        wide = nn.functional.interpolate(y, size=(y.shape[2], 3 * y.shape[3]))
        return torch.relu(wide) + nn.functional.interpolate(y, scale_factor=(1, 3))


class ChannelNet(nn.Module):
    """ShuffleNetV2's unit: a channel split by chunk, a branch on one half, the halves joined and
    shuffled in 3 groups (view, transpose, view back); then slices x[:, a:b], a torch.split with
    uneven pieces, and a slice of flattened [N, C] features. Two outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 12, 3, padding=1), nn.Conv2d(6, 6, 1)
        self.c3, self.fc = nn.Conv2d(6, 5, 3, padding=1), nn.Linear(7 * 4 * 5, 9)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = torch.relu(self.c1(x)).chunk(2, dim=1)
        y = torch.cat([a, torch.relu(self.c2(b))], 1)
        n, c, h, w = y.size()
        y = torch.transpose(y.view(n, 3, c // 3, h, w), 1, 2).contiguous().view(n, c, h, w)
        head, tail = torch.split(y, [5, 7], dim=1)
        z = self.c3(y[:, 2:8]) + head
        return z, self.fc(tail.flatten(1))[:, 1:8]


class SequenceNet(nn.Module):
    """A 1-D net on [N, C, L]: Conv1d + BatchNorm1d (folded) + ReLU, max pool, a depthwise Conv1d
    with padding='same', a standalone BatchNorm1d, average pool, SiLU, adaptive average pool to 1,
    and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.bn1 = nn.Conv1d(3, 8, 5, padding=2), nn.BatchNorm1d(8)
        self.dw, self.bn2 = nn.Conv1d(8, 8, 3, padding="same", groups=8), nn.BatchNorm1d(8)
        self.pool, self.head = nn.AvgPool1d(2), nn.Linear(8, 4)
        with torch.no_grad():
            for bn in (self.bn1, self.bn2):
                bn.running_mean.uniform_(-0.2, 0.2)
                bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.max_pool1d(torch.relu(self.bn1(self.c1(x))), 2)
        y = nn.functional.silu(self.pool(self.bn2(torch.relu(self.dw(y)))))
        return self.head(nn.functional.adaptive_avg_pool1d(y, 1).flatten(1))


class TransposeNet(nn.Module):
    """UNet-style upsampling by transposed convolutions: kernel 3 stride 2 with output_padding and
    a BatchNorm2d folded into its phases, kernel 2 stride 2 (the usual UNet step, one tap a phase),
    and kernel 4 stride (2, 3) with groups 2 (phases of unequal size)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.t1, self.bn = nn.ConvTranspose2d(8, 6, 3, 2, padding=1, output_padding=1), nn.BatchNorm2d(6)
        self.t2 = nn.ConvTranspose2d(6, 4, 2, 2)
        self.t3 = nn.ConvTranspose2d(4, 6, 4, (2, 3), padding=1, groups=2)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.2, 0.2)
            self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.t1(torch.relu(self.c1(x)))))
        return self.t3(torch.relu(self.t2(y)))


class GlobalPoolNet(nn.Module):
    """Squeeze-excite and a classifier head on a map whose global average pools do not fit an IBUF
    half on the presets (45 x 47 = 2,115 words): each runs as POOLs over bands of rows, the bands
    after the first going on from the running sum."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.squeeze, self.fc = nn.Conv2d(3, 6, 3, padding=1), nn.Conv2d(6, 6, 1), nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.c1(x))
        y = y * nn.functional.hardsigmoid(self.squeeze(nn.functional.adaptive_avg_pool2d(y, 1)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


def branches_net(c1: int, c2: int) -> type[nn.Module]:
    """Two branches of c1 and c2 channels: a ragged concat, ceil_mode max pooling, a squeeze-excite
    gate, upsampling, a product and a difference of tensors, and a concat again."""

    class Branches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv2d(3, c1, 1), nn.Conv2d(3, c2, 3, padding=1)
            self.gate, self.mix = nn.Conv2d(c1, c1, 1), nn.Conv2d(c1 + c2, c1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = torch.relu(self.a(x)), torch.relu(self.b(x))
            z = self.mix(nn.functional.max_pool2d(torch.cat([a, b], 1), 2, ceil_mode=True))
            g = torch.sigmoid(self.gate(nn.functional.adaptive_avg_pool2d(a, 1)))
            return torch.cat([nn.functional.interpolate(z, scale_factor=2) * g + a * a - a, b], 1)

    Branches.__name__ = f"Branches_{c1}_{c2}"
    return Branches
