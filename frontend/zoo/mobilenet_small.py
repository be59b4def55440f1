"""A small MobileNetV2-style network for 3x32x32 inputs: the torchvision
MobileNetV2 structure (inverted residuals with depthwise 3x3 convs and ReLU6)
at half width, four short stages and a 256-channel head, 10 classes. Random
weights and BN statistics from a fixed seed."""

from __future__ import annotations

from .mobilenetv2 import MobileNetV2
from .seeding import randomize_batchnorm, seeded

SMALL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 2, 2))


def mobilenet_small(num_classes: int = 10, seed: int = 0) -> MobileNetV2:
    with seeded(seed):
        model = MobileNetV2(num_classes, width_mult=0.5, inverted_residual_setting=SMALL_SETTING, last_channel=256)
        return randomize_batchnorm(model).eval()  # type: ignore[return-value]
