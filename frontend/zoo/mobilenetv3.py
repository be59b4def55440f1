"""MobileNetV3-Small, the torchvision architecture (``torchvision.models.mobilenet_v3_small``)
in plain torch: a Hardswish stem, eleven inverted residual blocks (1x1 expand, kxk depthwise,
an optional squeeze-excite whose gate is a Hardsigmoid multiplied into the features, a linear
1x1 projection; ReLU in the first three blocks, Hardswish after), a 1x1 conv to 576, average
pooling and a Linear-Hardswish-Dropout-Linear classifier; same module names, BatchNorm
``eps``/``momentum`` and initialization as torchvision, so its parameter count is torchvision's
2,542,856. Random weights from a fixed seed, BatchNorm statistics measured on seeded standard
normal inputs at 224x224 (``seeding.batchnorm_from_data``, ``BN_DATA_SHAPE``); any input size of at least 32x32."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from .mobilenetv2 import make_divisible
from .seeding import BN_DATA_SHAPE, batchnorm_from_data, seeded

#: (input channels, kernel, expanded channels, output channels, squeeze-excite, Hardswish, stride):
#: torchvision's table for the small model
SMALL_SETTING = (
    (16, 3, 16, 16, True, False, 2),
    (16, 3, 72, 24, False, False, 2),
    (24, 3, 88, 24, False, False, 1),
    (24, 5, 96, 40, True, True, 2),
    (40, 5, 240, 40, True, True, 1),
    (40, 5, 240, 40, True, True, 1),
    (40, 5, 120, 48, True, True, 1),
    (48, 5, 144, 48, True, True, 1),
    (48, 5, 288, 96, True, True, 2),
    (96, 5, 576, 96, True, True, 1),
    (96, 5, 576, 96, True, True, 1),
)
LAST_CHANNEL = 1024


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=0.001, momentum=0.01)  # torchvision's MobileNetV3 setting


class ConvBNAct(nn.Sequential):
    """conv (no bias) -> BatchNorm2d -> activation (none when ``act`` is None), 'same' padding."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        act: Callable[[], nn.Module] | None = nn.Hardswish,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            _bn(out_ch),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Channel gate: global average -> 1x1 conv -> ``act`` -> 1x1 conv -> ``gate``, multiplied into
    the input (torchvision.ops.SqueezeExcitation's structure and names)."""

    def __init__(
        self,
        channels: int,
        squeeze: int,
        act: Callable[[], nn.Module] = nn.ReLU,
        gate: Callable[[], nn.Module] = nn.Hardsigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = act()
        self.scale_activation = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


class InvertedResidual(nn.Module):
    """MobileNetV3's block; the residual is taken when the stride is 1 and the channels match."""

    def __init__(self, inp: int, kernel: int, expanded: int, out: int, se: bool, hardswish: bool, stride: int) -> None:
        super().__init__()
        act = nn.Hardswish if hardswish else nn.ReLU
        self.use_res_connect = stride == 1 and inp == out
        layers: list[nn.Module] = []
        if expanded != inp:
            layers.append(ConvBNAct(inp, expanded, 1, act=act))
        layers.append(ConvBNAct(expanded, expanded, kernel, stride, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4, 8)))
        layers.append(ConvBNAct(expanded, out, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return y + x if self.use_res_connect else y


class MobileNetV3(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        features: list[nn.Module] = [ConvBNAct(3, SMALL_SETTING[0][0], 3, stride=2)]
        features += [InvertedResidual(*row) for row in SMALL_SETTING]
        last_conv = 6 * SMALL_SETTING[-1][3]
        features.append(ConvBNAct(SMALL_SETTING[-1][3], last_conv, 1))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_conv, LAST_CHANNEL),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(LAST_CHANNEL, num_classes),
        )
        for m in self.modules():  # torchvision's initialization
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def mobilenetv3_small(num_classes: int = 1000, seed: int = 0) -> MobileNetV3:
    with seeded(seed):
        return batchnorm_from_data(MobileNetV3(num_classes), BN_DATA_SHAPE)  # type: ignore[return-value]
