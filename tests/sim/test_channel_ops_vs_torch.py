"""Channel layout ops (slices ``x[:, a:b]``, chunk/split along channels, channel shuffle by view,
transpose/permute and view back) against torch: the float graph in the reference simulator
equals the torch module's outputs (to float rounding of the conv before them), and the int8
graph's gathers move the int8 values of their input unchanged, in the order torch's view and
transpose define (checked by hand for the shuffle). Refusals name what is allowed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn as nn

from dian.errors import UnsupportedOpError
from dian.frontend import lower
from dian.frontend.trace import trace
from dian.ir import SelectChannels
from dian.sim.reference import run_graph

SHAPE = (2, 3, 5, 4)


class Around(nn.Module):
    """A conv to 12 channels, ``f`` on its output, and the result (or results) returned."""

    def __init__(self, f: Callable[[torch.Tensor], torch.Tensor | tuple[torch.Tensor, ...]]) -> None:
        super().__init__()
        self.f, self.c = f, nn.Conv2d(3, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return self.f(self.c(x))


def _shuffle(y: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = y.size()
    return torch.transpose(y.view(n, groups, c // groups, h, w), 1, 2).contiguous().view(n, c, h, w)


CASES: dict[str, Callable[[torch.Tensor], torch.Tensor | tuple[torch.Tensor, ...]]] = {
    "slice": lambda y: y[:, 3:9],
    "slice-step": lambda y: y[:, 1:11:3],
    "slice-ellipsis": lambda y: y[:, 4:, ...],
    "chunk": lambda y: y.chunk(3, dim=1),
    "chunk-uneven": lambda y: torch.chunk(y, 5, 1),
    "split-int": lambda y: torch.split(y, 5, dim=1),
    "split-list": lambda y: y.split([2, 7, 3], 1),
    "shuffle-3": lambda y: _shuffle(y, 3),
    "shuffle-2": lambda y: _shuffle(y, 2),
    "permute": lambda y: y.reshape(y.shape[0], 2, 6, 5, 4).permute(0, 2, 1, 3, 4).reshape(y.shape),
    "three-groups": lambda y: y.view(2, 2, 3, 2, 5, 4).permute(0, 3, 1, 2, 4, 5).flatten(1, 3),
    "flat-slice": lambda y: y.flatten(1)[:, 7:100],
    "shuffle-identity": lambda y: y.view(2, 1, 12, 5, 4).transpose(1, 2).reshape(2, 12, 5, 4),
}


@pytest.mark.parametrize("case", list(CASES))
def test_float_graph_equals_torch(case: str) -> None:
    torch.manual_seed(0)
    m = Around(CASES[case]).eval()
    g = trace(m, SHAPE, case)
    x = torch.randn(SHAPE)
    want = m(x)
    want = want if isinstance(want, tuple) else (want,)
    got = run_graph(g, {g.inputs[0]: x.numpy()})
    assert len(g.outputs) == len(want)
    for name, w in zip(g.outputs, want, strict=True):
        assert got[name].shape == w.shape and np.allclose(got[name], w.detach().numpy(), atol=1e-5), name
    n_select = sum(isinstance(op, SelectChannels) for op in g.ops)
    assert (n_select == 0) == (case == "shuffle-identity")  # a view back to the same order is no op


@pytest.mark.parametrize("case", ["shuffle-3", "split-list", "flat-slice"])
def test_int8_gathers_move_values_unchanged(case: str) -> None:
    torch.manual_seed(1)
    m = Around(CASES[case]).eval()
    calib = np.random.default_rng(1).standard_normal((8, *SHAPE[1:])).astype(np.float32)
    g = lower(m, SHAPE, calib, case)[1]
    x = np.random.default_rng(2).integers(-128, 128, SHAPE).astype(np.int8)
    acts = run_graph(g, {g.inputs[0]: x}, keep_all=True)
    for op in g.ops:
        if isinstance(op, SelectChannels):
            src = acts[op.inputs[0]]
            assert g.tensors[op.output].quant == g.tensors[op.inputs[0]].quant
            assert np.array_equal(acts[op.output], src[:, list(op.channels)])
            if case == "shuffle-3":  # channel j of the shuffle is channel (j % 3) * 4 + j // 3 of its input
                assert list(op.channels) == [(j % 3) * 4 + j // 3 for j in range(12)]


REFUSED: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor | tuple[torch.Tensor, ...]], str]] = {
    "chunk-H": (lambda y: y.chunk(2, dim=2)[0], r"chunk along dimension 2 .*dian chunks channels \(dim 1\)"),
    "slice-H": (lambda y: y[:, :, 1:3], r"dian indexes channels only, as x\[:, a:b\]"),
    "index-int": (lambda y: y[:, 3], r"dian indexes channels only"),
    "transpose-HW": (lambda y: y.transpose(2, 3), r"dian permutes channel groups only"),
    "permute-groups-with-H": (
        lambda y: y.view(2, 3, 4, 5, 4).permute(0, 3, 1, 2, 4).reshape(2, 60, 4),
        r"dian moves only the channel-group dimensions",
    ),
    "view-groups-elsewhere": (
        lambda y: y.view(2, 3, 4, 5, 4).transpose(1, 2).reshape(2, 4, 60),
        r"reshaping channel groups \[4, 3\] to \[2, 4, 60\]",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_unsupported_layouts_say_what_is_allowed(case: str) -> None:
    f, pattern = REFUSED[case]
    with pytest.raises(UnsupportedOpError, match=pattern):
        trace(Around(f).eval(), SHAPE, case)
