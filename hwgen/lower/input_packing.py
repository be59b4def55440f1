"""Host-side input packing for shallow first layers (docs/accelerator.md,
"Shallow input layers").

In GEMM mode the array's rows are input channels, so a conv reading the
network's 3-channel image keeps 3 of L rows busy: ResNet-18's 7x7 stem ran
at 18 % on 16x16 PEs and took a quarter of the network's cycles. The host
already writes the input into DRAM (quantize, channel-block); it can as well
write it with the kernel's x taps folded into channels:

    X'[n, c*FX + fx, y, j] = Xpad[n, c, y, j*SX + fx*DX]      (j < OX)

where ``Xpad`` is the input zero-padded by the conv's left/right padding
(the zero point is 0). The conv on ``X'`` has kernel ``FY x 1``, stride
``(SY, 1)``, dilation ``(DY, 1)``, padding ``(PY, 0)`` and weights
``W'[k, c*FX + fx, fy, 0] = W[k, c, fy, fx]``: the same products summed in
another order, so the output is bit-identical (integer sums). Per pixel the
array then takes ``ceil(C*FX/L) * FY`` weight blocks instead of
``ceil(C/L) * FY * FX`` (ResNet-18's stem: 14 instead of 49). ``X'`` has
FX/SX times the pixels of ``X`` in ``ceil(C*FX/L)/ceil(C/L)`` times the
channel blocks: for the stem, 2 blocks x 224 x 112 against 1 x 224 x 224,
the same 802,816 bytes at L = 16.

Only a conv that is the sole reader of a graph input is packed (an
activation produced on chip is not touched: the host never sees it), and
only when it saves blocks. No arithmetic moves to the host: packing is a
gather of int8 bytes, like the channel blocking itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dian.ir import Conv2d, Graph

from ..accel_config import AccelConfig
from .layout import blocks


@dataclass(frozen=True)
class InputPacking:
    """How the host writes graph input ``name`` (int8 ``shape`` = N, C, H, W)."""

    name: str
    shape: tuple[int, int, int, int]
    fx: int
    stride_x: int
    dilation_x: int
    pad_left: int
    out_w: int

    @property
    def packed_shape(self) -> tuple[int, int, int, int]:
        n, c, h, _ = self.shape
        return (n, c * self.fx, h, self.out_w)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``x`` (int8, ``shape``) -> the packed int8 array of ``packed_shape``."""
        _, _, _, w = self.shape
        if tuple(x.shape) != self.shape:
            raise ValueError(f"input '{self.name}' must have shape {list(self.shape)}, not {list(x.shape)}")
        cols = (
            np.arange(self.out_w)[None, :] * self.stride_x
            + np.arange(self.fx)[:, None] * self.dilation_x
            - self.pad_left
        )  # [FX, OX]: the source column of every packed column, maybe in the padding
        taken = x[:, :, :, np.clip(cols, 0, w - 1)]  # [N, C, H, FX, OX]
        taken = np.where(((cols >= 0) & (cols < w))[None, None, None], taken, 0).astype(np.int8)
        return np.ascontiguousarray(taken.transpose(0, 1, 3, 2, 4)).reshape(self.packed_shape)

    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["shape"] = list(self.shape)
        doc["packed_shape"] = list(self.packed_shape)
        return doc

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> InputPacking:
        fields = {f.name for f in dataclasses.fields(InputPacking)}
        args = {k: v for k, v in doc.items() if k in fields}
        args["shape"] = tuple(args["shape"])
        return InputPacking(**args)


def _packable(graph: Graph, op: Conv2d, lanes: int) -> bool:
    x = op.inputs[0]
    if op.groups != 1 or x not in graph.inputs or x in graph.outputs or graph.consumers(x) != [op]:
        return False
    _, c, fy, fx = graph.constants[op.weight].shape
    return bool(fx > 1 and blocks(c * fx, lanes) * fy < blocks(c, lanes) * fy * fx)


def pack_shallow_inputs(graph: Graph, cfg: AccelConfig) -> tuple[Graph, dict[str, InputPacking]]:
    """``graph`` with every packable first conv rewritten onto its packed input,
    and how the host packs each such input; ``graph`` itself when none is."""
    convs = [op for op in graph.ops if isinstance(op, Conv2d) and _packable(graph, op, cfg.lanes)]
    if not convs:
        return graph, {}
    tensors, constants, ops = dict(graph.tensors), dict(graph.constants), list(graph.ops)
    packings: dict[str, InputPacking] = {}
    for op in convs:
        x, wname = op.inputs[0], op.weight
        n, c, h, _ = graph.tensors[x].shape
        k, _, fy, fx = graph.constants[wname].shape
        out_w = graph.tensors[op.output].shape[3]
        p = InputPacking(
            x, (n, c, h, graph.tensors[x].shape[3]), fx, op.stride[1], op.dilation[1], op.padding[1], out_w
        )
        packings[x] = p
        tensors[x] = dataclasses.replace(graph.tensors[x], shape=p.packed_shape)
        w = np.asarray(graph.constants[wname])
        constants[wname] = np.ascontiguousarray(w.transpose(0, 1, 3, 2).reshape(k, c * fx, fy, 1))
        tensors[wname] = dataclasses.replace(graph.tensors[wname], shape=(k, c * fx, fy, 1))
        ops[ops.index(op)] = dataclasses.replace(
            op, stride=(op.stride[0], 1), padding=(op.padding[0], 0), dilation=(op.dilation[0], 1)
        )
    packed = Graph.build(graph.name, tensors, constants, ops, graph.inputs, graph.outputs, graph.metadata)
    return packed, packings
