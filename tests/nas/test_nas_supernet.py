"""nas/supernet.py: one-hot supernet == derived net, gradients through straight-through samples,
masking of choices that do not exist, and derived structure checked against hand-built layer lists."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from nas_helpers import ARCHS

from dian.errors import SearchSpaceError
from dian.frontend.zoo.seeding import randomize_batchnorm, seeded
from dian.nas.space import SPACES, Arch, SearchSpace, StageSpec
from dian.nas.supernet import (
    MBConv,
    SuperNet,
    allowed_masks,
    arch_logits_shape,
    arch_of,
    derive,
    gumbel_choices,
    mask_disallowed,
    one_hot,
)


def _supernet(space: str, seed: int = 0) -> SuperNet:
    """A supernet with random weights and non-trivial BN statistics, in eval mode."""
    with seeded(seed):
        return randomize_batchnorm(SuperNet(SPACES[space])).eval()  # type: ignore[return-value]


@pytest.mark.parametrize("space", ["digits", "mnist"])
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_one_hot_supernet_computes_the_derived_net(space: str, name: str) -> None:
    sp, arch = SPACES[space], ARCHS[name]
    net = _supernet(space)
    x = torch.rand(8, *sp.input_shape[1:], generator=torch.Generator().manual_seed(1))
    op_w, width_w = one_hot(sp, arch)
    derived = derive(sp, arch, net)
    with torch.no_grad():
        want = derived(x)
        for compute_all in (False, True):  # zero-weight candidates skipped, or computed and weighted by 0
            torch.testing.assert_close(net(x, op_w, width_w, compute_all=compute_all), want, rtol=1e-5, atol=1e-6)
        other = Arch(arch.ops, tuple((w + 1) % 3 for w in arch.widths))  # the masks matter
        assert not torch.allclose(net(x, *one_hot(sp, other)), want, atol=1e-3)


def _convs(module: nn.Module) -> list[tuple[int, int, int, int, int]]:
    return [
        (m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.groups)
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
    ]


def test_derived_layers_are_the_hand_built_ones() -> None:
    # typical = k3e3 skip | k5e3 k3e3 | k5e3 skip, widths 16 | 24 | 32; (in, out, kernel, stride, groups)
    net = derive(SPACES["digits"], ARCHS["typical"])
    assert _convs(net) == [
        (1, 16, 3, 1, 1),
        (16, 48, 1, 1, 1),
        (48, 48, 3, 1, 48),
        (48, 16, 1, 1, 1),
        (16, 48, 1, 1, 1),
        (48, 48, 5, 2, 48),
        (48, 24, 1, 1, 1),
        (24, 72, 1, 1, 1),
        (72, 72, 3, 1, 72),
        (72, 24, 1, 1, 1),
        (24, 72, 1, 1, 1),
        (72, 72, 5, 2, 72),
        (72, 32, 1, 1, 1),
        (32, 64, 1, 1, 1),
    ]
    assert [m.residual for m in net.modules() if isinstance(m, MBConv)] == [False, False, True, False]
    assert [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)] == [(64, 10)]
    # mixed = k5e1 skip | k3e3 k5e3 | k3e6 skip, widths 16 | 32 | 24: e1 has no expansion conv
    assert _convs(derive(SPACES["digits"], ARCHS["mixed_k5e1"])) == [
        (1, 16, 3, 1, 1),
        (16, 16, 5, 1, 16),
        (16, 16, 1, 1, 1),
        (16, 48, 1, 1, 1),
        (48, 48, 3, 2, 48),
        (48, 32, 1, 1, 1),
        (32, 96, 1, 1, 1),
        (96, 96, 5, 1, 96),
        (96, 32, 1, 1, 1),
        (32, 192, 1, 1, 1),
        (192, 192, 3, 2, 192),
        (192, 24, 1, 1, 1),
        (24, 64, 1, 1, 1),
    ]
    # mnist: stride-2 stem, 28x28 -> 14 -> 14 -> 7 -> 4
    mnist = derive(SPACES["mnist"], ARCHS["narrowest_k3e1_skips"])
    shapes = []
    mnist.blocks.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    assert tuple(mnist(torch.zeros(2, 1, 28, 28)).shape) == (2, 10) and shapes == [(2, 24, 4, 4)]


def test_derive_is_seeded() -> None:
    a, b, c = (derive(SPACES["digits"], ARCHS["typical"], seed=s) for s in (0, 0, 1))
    for (k, ta), tb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(ta, tb), k
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)
    with pytest.raises(SearchSpaceError, match="not digits"):
        derive(SPACES["digits"], ARCHS["typical"], SuperNet(SPACES["mnist"]))


@pytest.mark.parametrize("space", ["digits", "mnist"])
def test_straight_through_gradients_reach_every_allowed_logit(space: str) -> None:
    sp = SPACES[space]
    with seeded(0):
        net = SuperNet(sp).train()
        op_shape, width_shape = arch_logits_shape(sp)
        op_logits = torch.zeros(op_shape, requires_grad=True)
        width_logits = torch.zeros(width_shape, requires_grad=True)
        op_w, width_w = gumbel_choices(sp, op_logits, width_logits, tau=1.0)
        for w in (op_w.detach(), width_w.detach()):  # hard: one choice per row, weighing 1
            assert ((w != 0).sum(1) == 1).all() and torch.allclose(w.sum(1), torch.ones(len(w)))
        assert (op_w.detach()[~allowed_masks(sp)[0]] == 0).all()
        x, y = torch.rand(16, *sp.input_shape[1:]), torch.randint(0, 10, (16,))
    F.cross_entropy(net(x, op_w, width_w), y).backward()
    allowed, _ = allowed_masks(sp)
    assert torch.isfinite(op_logits.grad).all() and torch.isfinite(width_logits.grad).all()
    assert (op_logits.grad[allowed] != 0).all() and (op_logits.grad[~allowed] == 0).all()
    assert (width_logits.grad != 0).all()
    assert all(p.grad is not None for p in net.stem.parameters())


def test_mask_disallowed_removes_skip_from_first_blocks_and_missing_widths() -> None:
    sp = SearchSpace("uneven", (1, 1, 8, 8), 10, 8, 1, (StageSpec((8, 16), 2, 1), StageSpec((8, 16, 24), 1, 2)), 32)
    assert arch_logits_shape(sp) == ((3, 7), (2, 3))
    ops = F.softmax(mask_disallowed(torch.zeros(3, 7), sp), dim=1)
    # blocks 0 and 2 start a stage: no skip (op 6); block 1 may take all 7 ops
    torch.testing.assert_close(ops, torch.tensor([[1 / 6] * 6 + [0.0], [1 / 7] * 7, [1 / 6] * 6 + [0.0]]))
    widths = F.softmax(mask_disallowed(torch.zeros(2, 3), sp), dim=1)
    torch.testing.assert_close(widths, torch.tensor([[0.5, 0.5, 0.0], [1 / 3] * 3]))
    with pytest.raises(SearchSpaceError, match="fit neither"):
        mask_disallowed(torch.zeros(3, 3), sp)


def test_supernet_refuses_weight_on_a_choice_that_does_not_exist() -> None:
    sp = SPACES["digits"]
    net = SuperNet(sp).eval()
    op_w, width_w = one_hot(sp, ARCHS["typical"])
    op_w[0] = 0.0
    op_w[0, 6] = 1.0  # skip in the first block of stage 0
    with pytest.raises(SearchSpaceError, match="mask_disallowed"):
        net(torch.zeros(1, 1, 8, 8), op_w, width_w)
    with pytest.raises(SearchSpaceError, match="op weights"):
        net(torch.zeros(1, 1, 8, 8), op_w[:3], width_w)


def test_arch_of_picks_the_heaviest_allowed_choice() -> None:
    sp = SPACES["digits"]
    for arch in ARCHS.values():
        assert arch_of(sp, *one_hot(sp, arch)) == arch
    op_logits = torch.zeros(6, 7)
    op_logits[:, 6] = 5.0  # skip preferred everywhere: first blocks cannot take it and fall back to op 0
    assert arch_of(sp, op_logits, torch.zeros(3, 3)).ops == (0, 6, 0, 6, 0, 6)
