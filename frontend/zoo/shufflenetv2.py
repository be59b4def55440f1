"""ShuffleNetV2 x0.5, the torchvision architecture (``torchvision.models.shufflenet_v2_x0_5``) in
plain torch: a 3x3 stride-2 conv stem and a 3x3 stride-2 max pool, three stages of units (4, 8 and
4), a 1x1 conv to 1024, a spatial mean and a Linear classifier; same module names as torchvision,
so its parameter count is torchvision's 1,366,792. A stride-1 unit splits its channels in two with
``x.chunk(2, dim=1)``, keeps one half and sends the other through 1x1 -> 3x3 depthwise -> 1x1; a
stride-2 unit runs two branches on the whole input; either way the halves are concatenated and
shuffled in two groups (view, transpose, contiguous, view back), the ops dian's frontend turns
into ``select_channels`` and ``concat``. torchvision gives this model PyTorch's default
initialization, and so does this file: random weights from a fixed seed, BatchNorm statistics
measured on seeded standard normal inputs at 224x224 (``seeding.batchnorm_from_data``,
``BN_DATA_SHAPE``); any input size of at least 32x32."""

from __future__ import annotations

import torch
import torch.nn as nn

from .seeding import BN_DATA_SHAPE, batchnorm_from_data, seeded

STAGE_REPEATS = (4, 8, 4)
STAGE_CHANNELS_X0_5 = (24, 48, 96, 192, 1024)  # stem, three stages, last conv


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` equal groups: channel g*k + i moves to i*groups + g."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(n, -1, h, w)


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = oup // 2
        if stride == 1 and inp != 2 * half:
            raise ValueError(f"a stride-1 ShuffleNetV2 unit keeps its channels: {inp} in, {oup} out")
        self.branch1 = nn.Sequential()
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, half, 1, bias=False),
                nn.BatchNorm2d(half),
                nn.ReLU(inplace=True),
            )
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else half, half, 1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            _depthwise(half, stride),
            nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            kept, through = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(through)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


def _stage(inp: int, out: int, repeats: int) -> nn.Sequential:
    """A stride-2 unit, then ``repeats - 1`` stride-1 units."""
    return nn.Sequential(InvertedResidual(inp, out, 2), *(InvertedResidual(out, out, 1) for _ in range(repeats - 1)))


class ShuffleNetV2(nn.Module):
    def __init__(
        self,
        stages_repeats: tuple[int, int, int] = STAGE_REPEATS,
        stages_out_channels: tuple[int, ...] = STAGE_CHANNELS_X0_5,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        stem = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        (n2, n3, n4), (c2, c3, c4) = stages_repeats, stages_out_channels[1:4]
        self.stage2, self.stage3, self.stage4 = _stage(stem, c2, n2), _stage(c2, c3, n3), _stage(c3, c4, n4)
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(c4, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU(inplace=True))
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x).mean([2, 3])
        return self.fc(x)


def shufflenetv2_x0_5(num_classes: int = 1000, seed: int = 0) -> ShuffleNetV2:
    with seeded(seed):
        return batchnorm_from_data(ShuffleNetV2(num_classes=num_classes), BN_DATA_SHAPE)  # type: ignore[return-value]
