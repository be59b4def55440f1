"""Lowering rules of channel layout ops: slices ``x[:, a:b]``, ``chunk``/``split`` along
channels, and channel shuffle (``view`` into channel groups, ``transpose``/``permute`` of the
groups, ``view`` back). Each becomes one :class:`~dian.ir.SelectChannels` gather, so the
accelerator runs them without host work. lower_rules.py merges these tables into its own.

Two kinds of intermediate value never reach the IR:

* :class:`Pieces`: what ``chunk``/``split`` return. Only the pieces the network indexes become
  ops (``a, b = x.chunk(2, dim=1)``), one gather each.
* :class:`ChannelView`: a tensor viewed with its channel dimension split into groups
  (``x.view(n, g, c // g, h, w)``). It records which input channel sits at each position of
  the group dimensions; transposes permute that table, and the view back to one channel
  dimension is one gather (none when the order is unchanged). Any other use of such a view is
  refused by name.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.fx as fx

from dian.ir import Reshape, SelectChannels

from .builder import Builder, Rule, node_arg, unsupported


@dataclass(frozen=True)
class Pieces:
    """The result of chunk/split along channels: ``bounds[i]`` is piece i's channel range of ``source``."""

    source: str
    bounds: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ChannelView:
    """``source`` viewed with its channel dimension split: ``order[g0, g1, ...]`` is the source
    channel at that position of the group dimensions, which sit at dims 1..order.ndim."""

    source: str
    order: np.ndarray
    rest: tuple[int, ...]  # the source's dimensions after the channels (H, W)

    def materialize(self, b: Builder, node: fx.Node) -> str:
        """Used as a tensor (an unsqueeze, or groups no transpose reordered): a Reshape of the source;
        a view whose groups a transpose reordered is used only through a view back."""
        shape = (b.tensors[self.source].shape[0], *self.order.shape, *self.rest)
        if not np.array_equal(self.order.reshape(-1), np.arange(self.order.size)):
            raise unsupported(
                node,
                f"channel groups {list(self.order.shape)} in a transposed order used as a tensor",
                f"after a transpose of channel groups, dian takes a view back to [N, {self.order.size}, ...] "
                "(channel shuffle)",
            )
        return b.emit(Reshape, node, [self.source], out_shape=shape, shape=shape)


def select(b: Builder, node: fx.Node, source: str, channels: tuple[int, ...], name: str | None = None) -> str:
    """``source``'s ``channels`` in order, as an op named after ``node`` (no op for the identity)."""
    shape = b.tensors[source].shape
    if channels == tuple(range(shape[1])):
        return source
    out = (shape[0], len(channels), *shape[2:])
    return b.emit(SelectChannels, node, [source], name=name, out_shape=out, channels=channels)


def _channel_dim(b: Builder, node: fx.Node, name: str, dim: Any, what: str) -> None:
    rank = len(b.tensors[name].shape)
    if not isinstance(dim, int) or rank < 2 or dim % rank != 1:
        raise unsupported(
            node, f"{what} along dimension {dim!r} of a rank-{rank} tensor", f"dian {what}s channels (dim 1)"
        )


def _chunk(b: Builder, node: fx.Node) -> Pieces:
    name = b.tensor(node.args[0], node)
    chunks, dim = node_arg(node, 1, "chunks"), node_arg(node, 2, "dim", 0)
    _channel_dim(b, node, name, dim, "chunk")
    c = b.tensors[name].shape[1]
    step = -(-c // int(chunks))  # torch's rule: pieces of ceil(C / chunks), the last one shorter
    return Pieces(name, tuple((a, min(a + step, c)) for a in range(0, c, step)))


def _split(b: Builder, node: fx.Node) -> Pieces:
    name = b.tensor(node.args[0], node)
    size, dim = node_arg(node, 1, "split_size_or_sections", node.kwargs.get("split_size")), node_arg(node, 2, "dim", 0)
    _channel_dim(b, node, name, dim, "split")
    c = b.tensors[name].shape[1]
    if isinstance(size, int):
        sizes = [min(size, c - a) for a in range(0, c, size)]
    elif isinstance(size, (list, tuple)) and all(isinstance(s, int) for s in size) and sum(size) == c:
        sizes = list(size)
    else:
        raise unsupported(node, f"split sizes {size!r}", "give an int or a list of ints that sums to the channels")
    starts = np.cumsum([0, *sizes[:-1]])
    return Pieces(name, tuple((int(a), int(a) + s) for a, s in zip(starts, sizes, strict=True)))


def _value(b: Builder, arg: Any) -> Any:
    """What ``arg`` lowered to: an IR tensor name, :class:`Pieces`, :class:`ChannelView`, or None."""
    return b.env.get(arg) if isinstance(arg, fx.Node) else None


def _getitem(b: Builder, node: fx.Node) -> str:
    value, index = _value(b, node.args[0]), node.args[1]
    if isinstance(value, Pieces) and isinstance(index, int):
        lo, hi = value.bounds[index]
        return select(b, node, value.source, tuple(range(lo, hi)))
    name = b.tensor(node.args[0], node)
    shape = b.tensors[name].shape
    items = index if isinstance(index, tuple) else (index,)
    full = slice(None, None, None)
    rest = items[2:]
    if (
        len(items) < 2
        or items[0] != full
        or not isinstance(items[1], slice)
        or not all(i == full for i in rest if i is not Ellipsis)
        or any(not isinstance(v, (int, type(None))) for v in (items[1].start, items[1].stop, items[1].step))
    ):
        raise unsupported(
            node,
            f"indexing a {list(shape)} tensor with {index!r}",
            "dian indexes channels only, as x[:, a:b] or x[:, a:b:step] (other dimensions whole)",
        )
    channels = tuple(range(shape[1])[items[1]])
    if not channels:
        raise unsupported(node, f"the channel slice {items[1]} of {shape[1]} channels is empty", "slice at least one")
    return select(b, node, name, channels)


def output_names(b: Builder, node: fx.Node, value: Any) -> list[str]:
    """The IR tensors of one returned value: a chunk/split returned whole is each of its pieces."""
    pieces = b.env.get(value) if isinstance(value, fx.Node) else None
    if isinstance(pieces, Pieces):
        return [
            select(b, node, pieces.source, tuple(range(lo, hi)), name=b.fresh(f"{value.name}_{i}"))
            for i, (lo, hi) in enumerate(pieces.bounds)
        ]
    return [b.tensor(value, node, "output")]


def reshape_view(b: Builder, node: fx.Node, x: Any) -> str | ChannelView | None:
    """The reshape of ``x`` to ``node``'s shape when it splits or merges channel groups; None for
    an ordinary reshape (lower_rules.lower_reshape handles those)."""
    out = b.shape(node)
    value = b.env.get(x) if isinstance(x, fx.Node) else None
    if isinstance(value, ChannelView):
        c = value.order.size
        if out == (b.tensors[value.source].shape[0], c, *value.rest):
            return select(b, node, value.source, tuple(int(v) for v in value.order.reshape(-1)))
        raise unsupported(
            node,
            f"reshaping channel groups {list(value.order.shape)} to {list(out)}",
            "after viewing channels as groups, dian takes transposes of the groups and a view back to "
            f"[N, {c}, ...] (channel shuffle)",
        )
    if not isinstance(value, str):
        return None
    shape = b.tensors[value].shape
    groups = out[1 : len(out) - len(shape) + 2]
    if (
        len(shape) >= 2
        and len(out) > len(shape)
        and out[0] == shape[0]
        and out[len(groups) + 1 :] == shape[2:]
        and math.prod(groups) == shape[1]
    ):
        return ChannelView(value, np.arange(shape[1]).reshape(groups), tuple(shape[2:]))
    return None


def _permutation(b: Builder, node: fx.Node, view: ChannelView, perm: list[int]) -> ChannelView:
    """Apply a permutation of all dims (batch first) to a channel view; only group dims may move."""
    g = view.order.ndim
    rank = 1 + g + len(view.rest)
    perm = [p % rank for p in perm]
    if sorted(perm) != list(range(rank)) or perm[0] != 0 or perm[g + 1 :] != list(range(g + 1, rank)):
        raise unsupported(
            node,
            f"permuting dims {perm} of channel groups {list(view.order.shape)}",
            "dian moves only the channel-group dimensions (channel shuffle: transpose(1, 2) after "
            "view(n, groups, c // groups, h, w))",
        )
    return ChannelView(view.source, view.order.transpose([p - 1 for p in perm[1 : g + 1]]), view.rest)


def _view_of(b: Builder, node: fx.Node) -> ChannelView:
    value = _value(b, node.args[0])
    if isinstance(value, ChannelView):
        return value
    name = b.tensor(node.args[0], node)
    raise unsupported(
        node,
        f"transposing or permuting a {list(b.tensors[name].shape)} tensor",
        "dian permutes channel groups only: view(n, groups, c // groups, h, w), then transpose(1, 2), "
        "then view(n, c, h, w) (channel shuffle)",
    )


def _transpose(b: Builder, node: fx.Node) -> ChannelView:
    view = _view_of(b, node)
    d0, d1 = int(node_arg(node, 1, "dim0")), int(node_arg(node, 2, "dim1"))  # fx keeps them as ints
    rank = 1 + view.order.ndim + len(view.rest)
    perm = list(range(rank))
    perm[d0 % rank], perm[d1 % rank] = perm[d1 % rank], perm[d0 % rank]
    return _permutation(b, node, view, perm)


def _permute(b: Builder, node: fx.Node) -> ChannelView:
    view = _view_of(b, node)
    args: Any = node.args[1:] if len(node.args) > 2 or isinstance(node.args[1], int) else node.args[1]
    dims: Any = args or node.kwargs.get("dims", ())  # x.permute(0, 2, 1), x.permute((0, 2, 1)), dims=...
    return _permutation(b, node, view, [int(d) for d in dims])


def _contiguous(b: Builder, node: fx.Node) -> str | ChannelView:
    value = _value(b, node.args[0])
    return value if isinstance(value, ChannelView) else b.tensor(node.args[0], node)


#: Rules whose result is a tuple of tensors (trace.py lowers them before its one-tensor check).
PIECE_FUNCTION_RULES: dict[Any, tuple[str, Any]] = {
    torch.chunk: ("torch.chunk (channels)", _chunk),
    torch.split: ("torch.split (channels)", _split),
}
PIECE_METHOD_RULES: dict[str, Any] = {"chunk": _chunk, "split": _split}


def piece_rule(node: fx.Node) -> Any:
    """The chunk/split rule of ``node``, or None."""
    if node.op == "call_function":
        entry = PIECE_FUNCTION_RULES.get(node.target)
        return entry[1] if entry else None
    return PIECE_METHOD_RULES.get(node.target) if node.op == "call_method" else None  # type: ignore[arg-type]


FUNCTION_RULES: dict[Any, tuple[str, Rule]] = {
    operator.getitem: ("x[:, a:b] (channel slice)", _getitem),
    torch.transpose: ("torch.transpose (channel shuffle)", _transpose),  # type: ignore[dict-item]
    torch.permute: ("torch.permute (channel shuffle)", _permute),  # type: ignore[dict-item]
}
METHOD_RULES: dict[str, Rule] = {
    "transpose": _transpose,  # type: ignore[dict-item]
    "permute": _permute,  # type: ignore[dict-item]
    "contiguous": _contiguous,  # type: ignore[dict-item]
}
