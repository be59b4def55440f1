"""The model zoo: named, deterministic networks for examples, tests and benchmarks.

``ZOO[name]`` is a :class:`ZooEntry`; ``load_model("zoo:NAME")`` builds it.
Every entry is reproducible: fixed-seed random weights, or (``lenet``)
weights trained on scikit-learn's digits and committed as a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch.nn as nn

from . import digits
from .efficientnet import efficientnet_b0
from .mobilenet_small import mobilenet_small
from .mobilenetv2 import mobilenetv2
from .mobilenetv3 import mobilenetv3_small
from .resnet18 import resnet18
from .resnet_small import resnet_small
from .shufflenetv2 import shufflenetv2_x0_5
from .unet import unet_small

CalibrationFn = Callable[[int, np.random.Generator], np.ndarray]
_HERE = Path(__file__).parent


@dataclass(frozen=True)
class ZooEntry:
    """One zoo network: how to build it and what it expects.

    ``files`` are the files that define the entry (code and checkpoint); the
    loader hashes them into ``LoadedModel.source_sha256``."""

    name: str
    description: str
    factory: Callable[[], nn.Module]
    default_input_shape: tuple[int, ...]
    files: tuple[Path, ...]
    calibration_fn: CalibrationFn | None = None


ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry(
            "lenet",
            "LeNet-style CNN trained on scikit-learn's 8x8 digits (98.4% test accuracy)",
            digits.trained_lenet,
            (1, 1, 8, 8),
            (_HERE / "lenet.py", _HERE / "digits.py", digits.CHECKPOINT),
            digits.calibration_data,
        ),
        ZooEntry(
            "resnet_small",
            "3-stage CIFAR-style ResNet (BasicBlocks with BN, 16/32/64 channels), random weights",
            resnet_small,
            (1, 3, 32, 32),
            (_HERE / "resnet_small.py", _HERE / "resnet18.py"),
        ),
        ZooEntry(
            "mobilenet_small",
            "half-width MobileNetV2-style net (depthwise convs, ReLU6), random weights",
            mobilenet_small,
            (1, 3, 32, 32),
            (_HERE / "mobilenet_small.py", _HERE / "mobilenetv2.py"),
        ),
        ZooEntry(
            "resnet18",
            "torchvision ResNet-18 architecture, 1000 classes, random weights, BN stats from N(0,1) data",
            resnet18,
            (1, 3, 224, 224),
            (_HERE / "resnet18.py",),
        ),
        ZooEntry(
            "mobilenetv2",
            "torchvision MobileNetV2 architecture, 1000 classes, random weights, BN stats from N(0,1) data",
            mobilenetv2,
            (1, 3, 224, 224),
            (_HERE / "mobilenetv2.py",),
        ),
        ZooEntry(
            "mobilenetv3_small",
            "torchvision MobileNetV3-Small (Hardswish, Hardsigmoid squeeze-excite), 1000 classes, random weights",
            mobilenetv3_small,
            (1, 3, 224, 224),
            (_HERE / "mobilenetv3.py", _HERE / "mobilenetv2.py"),
        ),
        ZooEntry(
            "efficientnet_b0",
            "torchvision EfficientNet-B0 (MBConv, SiLU, sigmoid squeeze-excite), 1000 classes, random weights",
            efficientnet_b0,
            (1, 3, 224, 224),
            (_HERE / "efficientnet.py", _HERE / "mobilenetv3.py", _HERE / "mobilenetv2.py"),
        ),
        ZooEntry(
            "shufflenetv2_x0_5",
            "torchvision ShuffleNetV2 x0.5 (channel split and shuffle), 1000 classes, random weights",
            shufflenetv2_x0_5,
            (1, 3, 224, 224),
            (_HERE / "shufflenetv2.py",),
        ),
        ZooEntry(
            "unet_small",
            "3-level UNet (16/32/64 channels, nearest upsampling, concat skips), 4-class per-pixel logits",
            unet_small,
            (1, 3, 64, 64),
            (_HERE / "unet.py",),
        ),
    )
}

__all__ = ["ZOO", "CalibrationFn", "ZooEntry"]
