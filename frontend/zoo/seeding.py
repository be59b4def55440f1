"""Deterministic construction of zoo models without touching global RNG state.

Zoo factories build their random weights inside :func:`seeded`, which forks
torch's CPU generator, seeds it, and restores it afterwards: the same seed
always gives the same weights, and loading a zoo model never changes the
random stream of the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def randomize_batchnorm(model: nn.Module) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters, as a
    trained network has. Freshly initialized BN (mean 0, var 1, gamma 1,
    beta 0) is nearly the identity, which would leave BN folding untested.
    Call inside :func:`seeded`."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                assert m.running_mean is not None and m.running_var is not None  # track_running_stats
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
    return model


def batchnorm_from_data(model: nn.Module, input_shape: tuple[int, ...] = (8, 3, 64, 64)) -> nn.Module:
    """Set every BatchNorm's running statistics to those its input has on
    standard normal data (one forward pass in train mode, cumulative average).

    A randomly initialized deep net in eval mode has BN at the identity, so
    activations shrink layer after layer (torchvision's MobileNetV2 init loses
    about 10x per block and ends near 1e-9): nothing a quantizer can
    represent. Measured statistics give every layer the unit-scale
    activations of a trained network, with the weights still random. Call
    inside :func:`seeded`."""
    return batchnorm_from_batches(model, [torch.randn(input_shape)])


def batchnorm_from_batches(model: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """Set every BatchNorm's running statistics to the mean over ``batches``
    of each batch's statistics (forward passes in train mode, no gradients);
    the other weights are unchanged. Returns the model in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: exactly the batches' statistics
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    for m, momentum in zip(bns, momenta, strict=True):
        m.momentum = momentum
    return model.eval()


#: The data ``batchnorm_from_data`` measures for the 224x224 ImageNet-shaped zoo nets. Statistics
#: measured at 64x64 do not carry to 224: a 5x5 depthwise conv on the 2x2 maps of a 64x64 input's
#: last stages sees mostly padding, so at 224 (7x7 maps) its outputs are far larger than the
#: statistics say, and EfficientNet-B0's activations grow to ~2e3 by its sixth stage. Measured at
#: the default input, every stage stays near unit scale there (and shrinks at most ~4x at 64x64).
BN_DATA_SHAPE = (4, 3, 224, 224)
