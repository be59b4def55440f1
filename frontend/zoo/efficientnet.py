"""EfficientNet-B0, the torchvision architecture (``torchvision.models.efficientnet_b0``) in plain
torch: a SiLU stem, seven stages of MBConv blocks (1x1 expand, kxk depthwise, squeeze-excite with a
SiLU squeeze and a sigmoid gate multiplied into the features, linear 1x1 projection, residual when
the shape is kept, behind stochastic depth), a 1x1 conv to 1280, average pooling and a
Dropout-Linear classifier; same module names and initialization as torchvision, so its parameter
count is torchvision's 5,288,548. Stochastic depth drops whole residual branches only in training;
in eval (the only mode dian compiles) it is the identity, and torch.fx traces straight through it.
Random weights from a fixed seed, BatchNorm statistics measured on seeded standard normal inputs
at 224x224 (``seeding.batchnorm_from_data``, ``BN_DATA_SHAPE``); any input size of at least 32x32."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .mobilenetv3 import SqueezeExcitation
from .seeding import BN_DATA_SHAPE, batchnorm_from_data, seeded

#: (expand ratio, kernel, stride, input channels, output channels, blocks): torchvision's B0 table
B0_SETTING = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
STOCHASTIC_DEPTH = 0.2  # the last block's drop probability; earlier blocks' grow linearly to it


class ConvBNSiLU(nn.Sequential):
    """conv (no bias) -> BatchNorm2d -> SiLU (none when ``act`` is False), 'same' padding."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        if act:
            layers.append(nn.SiLU(inplace=True))
        super().__init__(*layers)


class StochasticDepth(nn.Module):
    """Drops the residual branch of a whole sample with probability ``p`` while training, scaling
    the kept ones by 1/(1-p) (torchvision.ops.StochasticDepth, mode "row"); the identity in eval."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        keep.bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class MBConv(nn.Module):
    def __init__(self, expand: int, kernel: int, stride: int, inp: int, out: int, drop: float) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and inp == out
        hidden = inp * expand
        layers: list[nn.Module] = []
        if hidden != inp:
            layers.append(ConvBNSiLU(inp, hidden, 1))
        layers += [
            ConvBNSiLU(hidden, hidden, kernel, stride, groups=hidden),
            SqueezeExcitation(hidden, max(1, inp // 4), act=nn.SiLU, gate=nn.Sigmoid),
            ConvBNSiLU(hidden, out, 1, act=False),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return self.stochastic_depth(y) + x if self.use_res_connect else y


class EfficientNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        features: list[nn.Module] = [ConvBNSiLU(3, B0_SETTING[0][3], 3, stride=2)]
        total = sum(row[5] for row in B0_SETTING)
        done = 0
        for expand, kernel, stride, inp, out, blocks in B0_SETTING:
            stage: list[nn.Module] = []
            for i in range(blocks):
                drop = STOCHASTIC_DEPTH * done / total
                stage.append(MBConv(expand, kernel, stride if i == 0 else 1, inp if i == 0 else out, out, drop))
                done += 1
            features.append(nn.Sequential(*stage))
        last = B0_SETTING[-1][4]
        features.append(ConvBNSiLU(last, 4 * last, 1))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(4 * last, num_classes))
        for m in self.modules():  # torchvision's initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def efficientnet_b0(num_classes: int = 1000, seed: int = 0) -> EfficientNet:
    """The zoo model. Its BatchNorm statistics are measured with stochastic depth off, so they are
    the statistics of the network that eval runs (all branches kept)."""
    with seeded(seed):
        net = EfficientNet(num_classes)
        drops = [(m, m.p) for m in net.modules() if isinstance(m, StochasticDepth)]
        for m, _ in drops:
            m.p = 0.0
        batchnorm_from_data(net, BN_DATA_SHAPE)
        for m, p in drops:
            m.p = p
        return net.eval()
