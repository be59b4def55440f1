"""LeNet-style digit classifier: (conv3x3 -> ReLU -> maxpool 2) x 2, then two
linear layers. Sized for 1x8x8 images (scikit-learn's digits) or 1x28x28
(MNIST-sized): the image side must be divisible by 4."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet(nn.Module):
    def __init__(
        self, image_size: int = 8, num_classes: int = 10, channels: tuple[int, int] = (8, 16), hidden: int = 32
    ) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"LeNet image_size must be divisible by 4, got {image_size}")
        c1, c2 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(c2 * (image_size // 4) ** 2, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))
