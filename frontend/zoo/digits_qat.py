"""The digits LeNet, quantization-aware trained with torch.ao's FX flow: the example and test case
of frontend/qat.py.

:func:`prepare_lenet_qat` wraps a LeNet with ``prepare_qat_fx`` and torch's default QAT qconfig
mapping for x86 (per-channel symmetric int8 weights, 7-bit unsigned activations with learned
scales); :func:`train_qat_lenet` fine-tunes the zoo's trained LeNet that way on the digits training
split, deterministically (single thread, fixed seed, a few seconds per epoch). The result is what
a user hands dian: the prepared model, trained, not converted.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn

from .digits import load_split, trained_lenet
from .lenet import LeNet
from .seeding import seeded

BACKEND = "x86"


def prepare_lenet_qat(model: LeNet | None = None) -> fx.GraphModule:
    """``model`` (default: the zoo's trained LeNet) prepared for QAT on 1x1x8x8 inputs."""
    from torch.ao.quantization import get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    model = (model or trained_lenet()).train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice, and its reduce_range notice
        return prepare_qat_fx(model, get_default_qat_qconfig_mapping(BACKEND), (torch.zeros(1, 1, 8, 8),))


def train_qat_lenet(
    epochs: int = 1, seed: int = 0, lr: float = 1e-3, batch_size: int = 32, start: LeNet | None = None
) -> fx.GraphModule:
    """``start`` (default: the zoo's trained LeNet) trained for ``epochs`` with fake quantization
    (SGD with momentum), returned in eval mode, prepared and not converted."""
    split = load_split()
    x, y = torch.from_numpy(np.array(split.x_train)), torch.from_numpy(np.array(split.y_train))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with seeded(seed):
            model = prepare_lenet_qat(start)
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
            gen = torch.Generator().manual_seed(seed)
            for _ in range(epochs):
                for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                    opt.zero_grad()
                    nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                    opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()
