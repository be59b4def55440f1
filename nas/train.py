"""Deterministic training of a derived network (and the helpers the co-search loop shares).

Adam with a cosine learning-rate decay to 0 over all steps, mini-batches
shuffled by a ``torch.Generator`` seeded from ``seed``, the model's fresh
weights and any dropout drawn inside :func:`~dian.frontend.zoo.seeding.seeded`.
On the CPU, torch runs on one thread while training (as the zoo's
``train_lenet`` does): float reductions then always run in the same order,
so the same seed gives bit-identical weights. Training runs channels-last
(:data:`~dian.nas.supernet.FAST_FORMAT`) and hands the model back in the
default layout. CUDA is accepted for speed, without the bit-identity promise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch
import torch.nn as nn

from dian.errors import SearchSpaceError
from dian.frontend.zoo.digits import accuracy
from dian.frontend.zoo.seeding import batchnorm_from_batches, seeded
from dian.ir import Graph

from .supernet import FAST_FORMAT

DEFAULT_LR = 3e-3
DEFAULT_WEIGHT_DECAY = 1e-4

#: Called after every epoch with (epoch index from 0, mean training loss of the epoch).
EpochHook = Callable[[int, float], None]


def check_device(device: str) -> torch.device:
    """``device`` as a torch device: "cpu", or "cuda" when this torch sees a GPU."""
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SearchSpaceError(
                "device 'cuda' was asked for, but this torch sees no CUDA GPU "
                f"(torch {torch.__version__}); use device 'cpu'."
            )
        return torch.device("cuda")
    raise SearchSpaceError(f"unknown device '{device}'; dian trains on 'cpu' or 'cuda'.")


@contextmanager
def single_threaded(device: torch.device) -> Iterator[None]:
    """One torch thread on the CPU for the block (bit-reproducible reductions); nothing on a GPU."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch of shuffled index batches over ``n`` samples (the last may be short)."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


_Model = TypeVar("_Model", bound=nn.Module)


def train(
    model: _Model,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = DEFAULT_LR,
    weight_decay: float = DEFAULT_WEIGHT_DECAY,
    device: str = "cpu",
    on_epoch: EpochHook | None = None,
) -> _Model:
    """Train ``model`` in place on images ``x`` [N, C, H, W] and labels ``y`` [N] for ``epochs``
    epochs of cross-entropy; returns it on the CPU in eval mode."""
    if epochs < 0 or batch_size < 1 or lr <= 0:
        raise SearchSpaceError(
            f"training needs epochs >= 0, batch_size >= 1 and lr > 0; got epochs={epochs}, "
            f"batch_size={batch_size}, lr={lr}."
        )
    if len(x) == 0 or len(x) != len(y):
        raise SearchSpaceError(
            f"training needs as many labels as images, at least one; got {len(x)} images and {len(y)} labels."
        )
    dev = check_device(device)
    xt = torch.from_numpy(np.array(x, dtype=np.float32)).to(dev)
    if xt.dim() == 4:
        xt = xt.contiguous(memory_format=FAST_FORMAT)
    yt = torch.from_numpy(np.array(y, dtype=np.int64)).to(dev)
    model.to(dev, memory_format=FAST_FORMAT)  # type: ignore[call-overload]  # torch's Module.to overloads omit memory_format
    steps = max(1, epochs * -(-len(xt) // batch_size))
    with single_threaded(dev), seeded(seed):
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(epochs):
            total = 0.0
            for idx in batches(len(xt), batch_size, gen):
                idx = idx.to(dev)
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                schedule.step()
                total += float(loss.detach()) * len(idx)
            if on_epoch is not None:
                on_epoch(epoch, total / len(xt))
    return model.to("cpu", memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]  # torch's Module.to overloads omit memory_format


def recalibrate_batchnorm(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> nn.Module:
    """Re-measure every BatchNorm's running statistics on images ``x`` (the model's weights are
    unchanged; each batch's statistics weigh the same); returns it in eval mode. A network derived
    from a supernet needs this (or fine-tuning) before it is evaluated: the running statistics it
    inherits average over every architecture the supernet sampled and fit none of them."""
    xt = torch.from_numpy(np.array(x, dtype=np.float32))
    with single_threaded(torch.device("cpu")):
        return batchnorm_from_batches(model, xt.split(batch_size))


def int8_accuracy(graph: Graph, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of an integer graph (batch 1, as compiled) on float images ``x``: the host's
    path of `dian simulate` (:func:`dian.sim.host.run_compiled`: input checked and quantized, reference
    simulator, output dequantized) on all of ``x`` as one batch — bit-equal to one image a run; the
    batch only saves the per-run overhead."""
    from dian.frontend.rebatch import with_batch
    from dian.sim.host import run_compiled

    x = np.asarray(x)
    out = run_compiled(with_batch(graph, len(x)), x)
    return float((out.reshape(len(x), -1).argmax(1) == np.asarray(y)).mean())


__all__ = [
    "DEFAULT_LR",
    "DEFAULT_WEIGHT_DECAY",
    "EpochHook",
    "accuracy",
    "batches",
    "check_device",
    "int8_accuracy",
    "recalibrate_batchnorm",
    "single_threaded",
    "train",
]
