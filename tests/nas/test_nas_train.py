"""nas/train.py: a derived net learns digits, bit-reproducibly, and bad settings fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nas_helpers import ARCHS

from dian.errors import SearchSpaceError
from dian.nas.data import load_dataset
from dian.nas.space import SPACES
from dian.nas.supernet import derive
from dian.nas.train import accuracy, recalibrate_batchnorm, train


def _train(seed: int, losses: list[float] | None = None) -> torch.nn.Module:
    ds = load_dataset("digits")
    hook = None if losses is None else (lambda epoch, loss: losses.append(loss))
    return train(
        derive(SPACES["digits"], ARCHS["narrowest_k3e1_skips"], seed=seed),
        ds.x_train,
        ds.y_train,
        4,
        seed,
        lr=1e-2,
        on_epoch=hook,
    )


def test_training_learns_digits_and_is_bit_reproducible() -> None:
    ds = load_dataset("digits")
    losses: list[float] = []
    a, b, c = _train(0, losses), _train(0), _train(1)
    assert accuracy(a, ds.x_test, ds.y_test) >= 0.85
    assert len(losses) == 4 and losses[-1] < losses[0] < 2.5  # below log(10) = 2.30 + a margin, then falling
    for (key, ta), tb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(ta, tb), key
    assert not torch.equal(a.head.fc.weight, c.head.fc.weight)
    assert not a.training and all(p.device.type == "cpu" and p.is_contiguous() for p in a.parameters())


def test_training_leaves_the_callers_threads_and_random_stream_alone() -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ds = load_dataset("digits")
    train(derive(SPACES["digits"], ARCHS["narrowest_k3e1_skips"]), ds.x_train[:64], ds.y_train[:64], 1, 0)
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch sees a GPU")
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    ds = load_dataset("digits")
    with pytest.raises(SearchSpaceError, match="no CUDA GPU"):
        train(derive(SPACES["digits"], ARCHS["typical"]), ds.x_train, ds.y_train, 1, device="cuda")


def test_bad_settings_are_errors() -> None:
    ds, net = load_dataset("digits"), derive(SPACES["digits"], ARCHS["typical"])
    with pytest.raises(SearchSpaceError, match="unknown device 'tpu'"):
        train(net, ds.x_train, ds.y_train, 1, device="tpu")
    with pytest.raises(SearchSpaceError, match="batch_size >= 1"):
        train(net, ds.x_train, ds.y_train, 1, batch_size=0)
    with pytest.raises(SearchSpaceError, match="as many labels as images"):
        train(net, ds.x_train, ds.y_train[:10], 1)


def test_recalibrated_batchnorm_holds_the_datas_statistics() -> None:
    ds = load_dataset("digits")
    net = derive(SPACES["digits"], ARCHS["typical"], seed=2)
    before = {k: v.clone() for k, v in net.state_dict().items() if "running" not in k and "num_batches" not in k}
    recalibrate_batchnorm(net, ds.x_train, batch_size=449)  # 3 equal batches: batch means average exactly
    with torch.no_grad():
        stem = net.stem[0](torch.from_numpy(np.array(ds.x_train)))  # the stem conv's output on all images
    bn = net.stem[1]
    torch.testing.assert_close(bn.running_mean, stem.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_var, stem.var((0, 2, 3)), rtol=1e-2, atol=1e-5)  # per-batch unbiased
    assert not net.training and all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
