"""Twenty-one small models written the way people write them: the building blocks of MobileNetV3,
EfficientNet, ShuffleNet, FPNs, GANs, UNets and 1-D audio nets, each a factory this file exports
for `dian compile benchmarks/user_models.py:NAME --input-shape ...` (SHAPES gives the shape).

They are the frontend issue's held-out set: nothing here was written for dian's rules, only to use
the ops users reach for (functional calls, tensor methods, `view`/`transpose` shuffles, tuples of
outputs). benchmarks/bench_user_models.py runs each through the reference simulator against float
torch, the machine simulator and the Verilator model of `tiny`; tests/e2e/test_user_models.py
checks the same in the test tiers.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE = (1, 3, 16, 16)


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: type[nn.Module] = nn.ReLU):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act()
    )


class SqueezeExcite(nn.Module):
    def __init__(self, c: int, squeezed: int, act: type[nn.Module] = nn.ReLU, gate=F.hardsigmoid) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2, self.gate = nn.Conv2d(c, squeezed, 1), act(), nn.Conv2d(squeezed, c, 1), gate

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class MobileNetV3Block(nn.Module):
    """bneck: expand with Hardswish, depthwise, squeeze-excite with a hardsigmoid gate, project, add."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 8, stride=2, act=nn.Hardswish)
        self.expand = conv_bn(8, 24, 1, act=nn.Hardswish)
        self.dw = conv_bn(24, 24, 3, groups=24, act=nn.Hardswish)
        self.se = SqueezeExcite(24, 8)
        self.project = nn.Sequential(nn.Conv2d(24, 8, 1, bias=False), nn.BatchNorm2d(8))

    def forward(self, x):
        x = self.stem(x)
        return x + self.project(self.se(self.dw(self.expand(x))))


class MBConv(nn.Module):
    """EfficientNet's block: SiLU everywhere, a sigmoid gate."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 16, stride=2, act=nn.SiLU)
        self.expand = conv_bn(16, 64, 1, act=nn.SiLU)
        self.dw = conv_bn(64, 64, 3, groups=64, act=nn.SiLU)
        self.se = SqueezeExcite(64, 4, nn.SiLU, torch.sigmoid)
        self.project = nn.Sequential(nn.Conv2d(64, 16, 1, bias=False), nn.BatchNorm2d(16))

    def forward(self, x):
        x = self.stem(x)
        return x + self.project(self.se(self.dw(self.expand(x))))


class SpatialAttention(nn.Module):
    """A sigmoid map the size of the features multiplies them."""

    def __init__(self) -> None:
        super().__init__()
        self.features = conv_bn(3, 12)
        self.attn = nn.Conv2d(12, 12, 3, padding=1)

    def forward(self, x):
        f = self.features(x)
        return f * torch.sigmoid(self.attn(f))


class TanhGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(conv_bn(3, 16), conv_bn(16, 16), nn.Conv2d(16, 3, 3, padding=1), nn.Tanh())

    def forward(self, x):
        return self.body(x)


class GeluHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 2, 1)
        self.fc1, self.fc2 = nn.Linear(16, 32), nn.Linear(32, 10)

    def forward(self, x):
        x = F.gelu(self.conv(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(8, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.LeakyReLU(0.2, inplace=True),
        )  # fmt: skip
        self.head = nn.Linear(16 * 4 * 4, 1)

    def forward(self, x):
        return self.head(self.body(x).view(x.size(0), -1))


class PReLUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.a1 = nn.Conv2d(3, 12, 3, padding=1), nn.PReLU(12, 0.1)
        self.c2, self.a2 = nn.Conv2d(12, 8, 3, stride=2, padding=1), nn.PReLU()

    def forward(self, x):
        return self.a2(self.c2(self.a1(self.c1(x))))


class Difference(nn.Module):
    """Two branches, their difference and their product."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 5, padding=2)
        self.out = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        a, b = F.relu(self.a(x)), F.relu(self.b(x))
        return self.out(torch.cat([a - b, a * b], dim=1))


class ScaledResidual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem, self.conv = conv_bn(3, 8), nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        x = self.stem(x)
        return x + 0.5 * self.conv(x)


class GatedConv(nn.Module):
    """GLU over channels: half of a conv's output gates the other half."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.out = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        a, b = self.conv(x).chunk(2, dim=1)
        return self.out(a * torch.sigmoid(b))


class SplitBranches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 12)
        self.b1, self.b2 = nn.Conv2d(4, 4, 1), nn.Conv2d(8, 6, 3, padding=1)

    def forward(self, x):
        left, right = self.stem(x).split([4, 8], dim=1)
        return torch.cat([F.relu(self.b1(left)), F.relu(self.b2(right))], dim=1)


def channel_shuffle(x, groups: int):
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's stride-1 unit: split, a branch, concat, shuffle."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 16)
        self.branch = nn.Sequential(
            conv_bn(8, 8, 1), nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), nn.BatchNorm2d(8), conv_bn(8, 8, 1)
        )

    def forward(self, x):
        x1, x2 = self.stem(x).chunk(2, dim=1)
        return channel_shuffle(torch.cat((x1, self.branch(x2)), dim=1), 2)


class PermuteShuffle(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, padding=1, groups=1)
        self.c2 = nn.Conv2d(12, 12, 1, groups=3)

    def forward(self, x):
        x = F.relu(self.c1(x))
        n, c, h, w = x.shape
        x = x.reshape(n, 3, c // 3, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        return self.c2(x)


class TopDown(nn.Module):
    """An FPN's top-down path: upsample the coarse map, add the lateral one."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = conv_bn(3, 8, stride=2), conv_bn(8, 16, stride=2)
        self.lat1, self.lat2 = nn.Conv2d(8, 8, 1), nn.Conv2d(16, 8, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.smooth = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        c1 = self.c1(x)
        c2 = self.c2(c1)
        return self.smooth(self.lat1(c1) + self.up(self.lat2(c2)))


class Interpolate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down, self.out = conv_bn(3, 8, stride=2), nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, x):
        return self.out(F.interpolate(self.down(x), scale_factor=3, mode="nearest"))


class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc = conv_bn(3, 16, stride=2)
        self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.up2 = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)

    def forward(self, x):
        return self.up2(F.relu(self.up1(self.enc(x))))


class CeilPools(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2 = conv_bn(3, 8), conv_bn(8, 8)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.pool2 = nn.AvgPool2d(2, ceil_mode=True)

    def forward(self, x):
        return self.pool2(self.c2(self.pool1(self.c1(x))))


class AudioNet(nn.Module):
    """Keyword spotting on 4 x 40 feature frames."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(4, 16, 5, padding=2), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        )  # fmt: skip
        self.fc = nn.Linear(16, 6)

    def forward(self, x):
        return self.fc(self.body(x).squeeze(-1))


class TwoHeads(nn.Module):
    """A detector's shape: class logits and box offsets from one trunk."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(conv_bn(3, 16, stride=2), conv_bn(16, 16, stride=2))
        self.cls, self.box = nn.Conv2d(16, 5, 1), nn.Conv2d(16, 4, 1)

    def forward(self, x):
        f = self.trunk(x)
        return self.cls(f), self.box(f)


class TinyUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.e1, self.e2 = conv_bn(3, 8), conv_bn(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.mid = conv_bn(16, 16)
        self.up = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.d1 = conv_bn(16, 8)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        s1 = self.e1(x)
        m = self.mid(self.e2(self.pool(s1)))
        return self.head(self.d1(torch.cat([self.up(m), s1], dim=1)))


class SliceConcat(nn.Module):
    """Slices along channels that do not start on a lane block, concatenated back."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 10, 3, padding=1)
        self.a, self.b = nn.Conv2d(3, 6, 1), nn.Conv2d(7, 6, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.stem(x))
        return torch.cat([self.a(y[:, :3]), self.b(y[:, 3:])], dim=1)


class SmoothActs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.c3(F.mish(F.elu(self.c1(x)) + F.softplus(self.c2(F.elu(self.c1(x))))))


MODELS: dict[str, type[nn.Module]] = {
    "mobilenetv3_block": MobileNetV3Block,
    "mbconv": MBConv,
    "spatial_attention": SpatialAttention,
    "tanh_generator": TanhGenerator,
    "gelu_head": GeluHead,
    "discriminator": Discriminator,
    "prelu": PReLUNet,
    "difference": Difference,
    "scaled_residual": ScaledResidual,
    "gated_conv": GatedConv,
    "split_branches": SplitBranches,
    "shuffle_unit": ShuffleUnit,
    "permute_shuffle": PermuteShuffle,
    "top_down": TopDown,
    "interpolate": Interpolate,
    "decoder": Decoder,
    "ceil_pools": CeilPools,
    "audio": AudioNet,
    "two_heads": TwoHeads,
    "unet": TinyUNet,
    "slice_concat": SliceConcat,
    "smooth_acts": SmoothActs,
}
SHAPES: dict[str, tuple[int, ...]] = dict.fromkeys(MODELS, IMAGE) | {"audio": (1, 4, 40)}


def _factory(cls: type[nn.Module]):
    def make() -> nn.Module:
        torch.manual_seed(0)
        return cls().eval()

    make.__name__ = cls.__name__
    return make


globals().update({name: _factory(cls) for name, cls in MODELS.items()})
