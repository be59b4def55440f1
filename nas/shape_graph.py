"""Shape-only IR graphs of a search space's pieces, for the cost tables.

The cost of a layer on the accelerator depends only on its op and shapes,
so the co-search does not need to trace, calibrate and quantize a torch
network for each of the hundreds of (block, op, width) options it prices:
it builds the IR ops those options lower to — with zero weights — and
hands them to the same ``layer_works`` and mapper that compile a real
network. What the frontend makes of the derived torch network is checked
against these graphs in tests/nas (same works, layer for layer).

The lowering mirrored here: Conv+BN+ReLU6 is one Conv2d with a clamp, a
depthwise conv is a Conv2d with ``groups == C``, the projection conv has no
clamp, a residual is an Add, the head's pooling a GlobalAvgPool, flatten a
Reshape and the classifier a Linear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dian.ir import Add, Conv2d, DType, GlobalAvgPool, Graph, Linear, Op, Reshape, Tensor

from .space import OPS, Arch, BlockSite, SearchSpace

Shape = tuple[int, ...]


@dataclass
class _Builder:
    """Accumulates ops and tensors of one shape graph; names are ``<prefix><part>``."""

    prefix: str
    tensors: dict[str, Tensor] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)

    def value(self, name: str, shape: Shape) -> str:
        self.tensors[name] = Tensor(name, shape, DType.FLOAT32)
        return name

    def const(self, name: str, shape: Shape) -> str:
        self.tensors[name] = Tensor(name, shape, DType.FLOAT32)
        self.constants[name] = np.zeros(shape, np.float32)
        return name

    def conv(self, part: str, x: str, k: int, kernel: int, stride: int, groups: int = 1, relu6: bool = True) -> str:
        n, c, h, w = self.tensors[x].shape
        pad = kernel // 2
        oh, ow = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
        name = self.prefix + part
        wt = self.const(f"{name}.weight", (k, c // groups, kernel, kernel))
        out = self.value(name, (n, k, oh, ow))
        self.ops.append(
            Conv2d(
                name,
                (x,),
                out,
                wt,
                None,
                (stride, stride),
                (pad, pad),
                (1, 1),
                groups,
                None,
                0 if relu6 else None,
                6 if relu6 else None,
            )
        )
        return out

    def graph(self, name: str, inputs: tuple[str, ...], output: str) -> Graph:
        return Graph.build(name, self.tensors, self.constants, self.ops, inputs, (output,))


def _block(b: _Builder, x: str, site: BlockSite, op_index: int, c_out: int) -> str:
    """The ops of one block reading ``x``; returns the block's output."""
    op = OPS[op_index]
    if op.kind == "skip":
        return x
    c_in = b.tensors[x].shape[1]
    h = b.conv("expand", x, c_in * op.expand, 1, 1) if op.expand > 1 else x
    h = b.conv("dw", h, b.tensors[h].shape[1], op.kernel, site.stride, groups=b.tensors[h].shape[1])
    y = b.conv("project", h, c_out, 1, 1, relu6=False)
    if site.first:  # the first block of a stage changes stride or channels: no residual
        return y
    out = b.value(b.prefix + "add", b.tensors[y].shape)
    b.ops.append(Add(b.prefix + "add", (x, y), out))
    return out


def block_graph(space: SearchSpace, site: BlockSite, op_index: int, c_in: int, c_out: int) -> Graph:
    """One block alone, reading its input as a graph input (no block's first conv is ever
    packed: it is 1x1 or depthwise)."""
    b = _Builder(f"b{site.index}_")
    x = b.value(f"b{site.index}_in", (1, c_in, *site.in_hw))
    return b.graph(f"{space.name}-b{site.index}", (x,), _block(b, x, site, op_index, c_out))


def _head(b: _Builder, x: str, space: SearchSpace) -> str:
    h = b.conv("head", x, space.head_channels, 1, 1)
    pooled = b.value(b.prefix + "pool", (1, space.head_channels, 1, 1))
    b.ops.append(GlobalAvgPool(b.prefix + "pool", (h,), pooled))
    flat = b.value(b.prefix + "flatten", (1, space.head_channels))
    b.ops.append(Reshape(b.prefix + "flatten", (pooled,), flat, (1, space.head_channels)))
    wt = b.const(b.prefix + "fc.weight", (space.classes, space.head_channels))
    out = b.value(b.prefix + "fc", (1, space.classes))
    b.ops.append(Linear(b.prefix + "fc", (flat,), out, wt))
    return out


def head_graph(space: SearchSpace, c_in: int) -> Graph:
    """The fixed head reading ``c_in`` channels at the last stage's resolution."""
    b = _Builder("head_")
    x = b.value("head_in", (1, c_in, *space.sites[-1].out_hw))
    return b.graph(f"{space.name}-head", (x,), _head(b, x, space))


def stem_graph(space: SearchSpace) -> Graph:
    """The stem conv on the network's input (it may be packed, as in the whole network)."""
    b = _Builder("")
    x = b.value("input", space.input_shape)
    return b.graph(f"{space.name}-stem", (x,), b.conv("stem", x, space.stem_channels, 3, space.stem_stride))


def network_graph(space: SearchSpace, arch: Arch) -> Graph:
    """The whole derived network of ``arch``."""
    space.check(arch)
    b = _Builder("")
    x = b.value("input", space.input_shape)
    y = b.conv("stem", x, space.stem_channels, 3, space.stem_stride)
    for site in space.sites:
        b.prefix = f"b{site.index}_"
        y = _block(b, y, site, arch.ops[site.index], space.out_width(arch, site.index))
    b.prefix = "head_"
    return b.graph(f"{space.name}-net", (x,), _head(b, y, space))
