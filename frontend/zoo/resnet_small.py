"""A small CIFAR-style ResNet for 3x32x32 inputs: a 3x3 stem, three stages of
one BasicBlock each (16, 32, 64 channels; the last two stride 2, with 1x1
conv-BN shortcuts), global average pooling and a 10-way classifier. Random
weights and BN statistics from a fixed seed (non-trivial BN, so folding is
exercised)."""

from __future__ import annotations

import torch
import torch.nn as nn

from .resnet18 import init_weights, make_stage
from .seeding import randomize_batchnorm, seeded


class ResNetSmall(nn.Module):
    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_stage(widths[0], widths[0], 1, 1)
        self.layer2 = make_stage(widths[0], widths[1], 1, 2)
        self.layer3 = make_stage(widths[1], widths[2], 1, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_small(num_classes: int = 10, seed: int = 0) -> ResNetSmall:
    with seeded(seed):
        return randomize_batchnorm(ResNetSmall(num_classes)).eval()  # type: ignore[return-value]
