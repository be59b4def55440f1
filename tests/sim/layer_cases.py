"""Layer shapes shared by the torch.ao and float comparisons: hand-picked corner
cases plus seeded random ones (odd sizes, strides 1-3, padding 0-2, dilation,
groups, depthwise with multiplier 1 and 2)."""

from __future__ import annotations

import numpy as np
from int_layers import ConvSpec

CORNER_CONVS = [
    ConvSpec(2, 6, 8, 11, 13, 3, 3, padding=(1, 1)),
    ConvSpec(1, 8, 8, 9, 9, 3, 3, stride=(2, 2), padding=(1, 1), groups=8),  # depthwise
    ConvSpec(1, 8, 16, 9, 9, 3, 3, stride=(2, 1), padding=(2, 2), groups=8, relu=True),  # depthwise x2
    ConvSpec(1, 9, 6, 13, 7, 5, 3, stride=(3, 2), padding=(2, 1), dilation=(2, 1), groups=3),
    ConvSpec(1, 32, 64, 7, 7, 3, 3, padding=(1, 1), relu=True),
    ConvSpec(1, 64, 64, 7, 7, 3, 3, padding=(1, 1), groups=64),  # fbgemm's depthwise kernel would saturate here
    ConvSpec(1, 3, 16, 13, 13, 7, 7, stride=(2, 2), padding=(3, 3)),  # ResNet stem shape, odd input
    ConvSpec(2, 16, 5, 7, 11, 1, 1, stride=(2, 3)),  # pointwise, strided
    ConvSpec(1, 4, 4, 5, 5, 2, 2, padding=(1, 0), dilation=(2, 2)),  # even kernel, dilated
    ConvSpec(1, 12, 12, 11, 11, 3, 3, padding=(2, 2), dilation=(2, 2), groups=4, relu=True),
    ConvSpec(1, 5, 3, 1, 1, 1, 1),  # 1x1 image
    ConvSpec(1, 7, 9, 3, 5, 3, 5),  # window covers the whole input
]


def random_conv_spec(rng: np.random.Generator) -> ConvSpec:
    while True:
        mode = rng.choice(["dense", "grouped", "depthwise", "depthwise2"])
        if mode == "dense":
            g, c, k = 1, int(rng.integers(1, 17)), int(rng.integers(1, 17))
        elif mode == "grouped":
            g = int(rng.integers(2, 5))
            c, k = g * int(rng.integers(1, 5)), g * int(rng.integers(1, 5))
        else:
            g = c = int(rng.integers(2, 17))
            k = c * (2 if mode == "depthwise2" else 1)
        h, w = (int(v) for v in rng.choice([3, 5, 7, 9, 11, 13], 2))
        fy, fx = (int(v) for v in rng.choice([1, 2, 3, 5], 2))
        stride = tuple(int(v) for v in rng.integers(1, 4, 2))
        pad = tuple(int(v) for v in rng.integers(0, 3, 2))
        dil = tuple(int(v) for v in rng.integers(1, 3, 2))
        spec = ConvSpec(int(rng.integers(1, 3)), c, k, h, w, fy, fx, stride, pad, dil, g, bool(rng.random() < 0.3))  # type: ignore[arg-type]
        if min(spec.out_shape[2:]) >= 1:
            return spec


def conv_specs(count: int, seed: int) -> list[ConvSpec]:
    rng = np.random.default_rng(seed)
    return CORNER_CONVS + [random_conv_spec(rng) for _ in range(count)]


# (kernel, stride, padding, H, W); maxpool windows of any size.
MAXPOOLS = [
    ((2, 2), (2, 2), (0, 0), 12, 12),
    ((3, 3), (2, 2), (1, 1), 11, 13),
    ((3, 3), (1, 1), (1, 1), 7, 7),
    ((2, 3), (1, 2), (1, 1), 9, 5),
    ((5, 5), (3, 3), (2, 2), 13, 11),
    ((3, 1), (3, 1), (0, 0), 7, 3),
]
# Average pooling with odd windows: no exact ties, the 0.1 % rule applies.
AVGPOOLS_ODD = [
    ((3, 3), (2, 2), (1, 1), 11, 13),
    ((3, 3), (1, 1), (1, 1), 7, 7),
    ((5, 5), (3, 3), (2, 2), 13, 11),
    ((3, 1), (2, 1), (1, 0), 9, 3),
    ((1, 5), (1, 2), (0, 2), 5, 13),
    ((5, 3), (1, 1), (0, 1), 7, 9),
]
# Even windows: exact ties (see test_avgpool_even_window_*).
AVGPOOLS_EVEN = [
    ((2, 2), (2, 2), (0, 0), 12, 12),
    ((2, 3), (1, 2), (1, 1), 9, 5),
    ((4, 4), (1, 1), (2, 2), 9, 9),
    ((3, 2), (1, 2), (1, 1), 11, 13),
]
