"""A small UNet for segmentation-shaped outputs (N x K x H x W): three levels of 16, 32 and 64
channels, each two 3x3 conv-BN-ReLU; 2x2 max pooling on the way down; on the way up a nearest
``nn.Upsample(scale_factor=2)`` (dian has no ConvTranspose2d yet), the encoder's skip concatenated
after it, and two conv-BN-ReLU; a 1x1 conv to ``num_classes`` logits per pixel. Input
height and width must be multiples of 4. Random weights (PyTorch's default initialization) from a
fixed seed, BatchNorm statistics measured on seeded standard normal inputs
(``seeding.batchnorm_from_data``)."""

from __future__ import annotations

import torch
import torch.nn as nn

from .seeding import batchnorm_from_data, seeded

WIDTHS = (16, 32, 64)
NUM_CLASSES = 4


class DoubleConv(nn.Sequential):
    """Two 3x3 conv (no bias) -> BatchNorm2d -> ReLU, keeping the spatial size."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        w1, w2, w3 = WIDTHS
        self.enc1, self.enc2, self.bottom = DoubleConv(in_channels, w1), DoubleConv(w1, w2), DoubleConv(w2, w3)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec2, self.dec1 = DoubleConv(w3 + w2, w2), DoubleConv(w2 + w1, w1)
        self.head = nn.Conv2d(w1, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.enc1(x)
        s2 = self.enc2(self.pool(s1))
        y = self.bottom(self.pool(s2))
        y = self.dec2(torch.cat([self.up(y), s2], dim=1))
        y = self.dec1(torch.cat([self.up(y), s1], dim=1))
        return self.head(y)


def unet_small(num_classes: int = NUM_CLASSES, seed: int = 0) -> UNet:
    with seeded(seed):
        return batchnorm_from_data(UNet(3, num_classes))  # type: ignore[return-value]
