"""dian's layer IR: plain, typed data with no dependency on torch or amaranth.

See ``ops.py`` for the op kinds and the integer rounding rule, ``verify.py``
for the invariants, ``serialize.py`` for the JSON form.
"""

from .graph import Graph
from .ops import (
    OP_CLASSES,
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    OpKind,
    Pointwise,
    Requant,
    Reshape,
    SelectChannels,
    Upsample,
)
from .printer import format_graph
from .serialize import graph_from_json, graph_to_json, load_graph, save_graph
from .shapes import infer_shape
from .stats import graph_macs, graph_params, op_macs, op_params
from .tensor import DType, QuantParams, Tensor
from .verify import DEFAULT_ACC_BITS, verify

__all__ = [
    "DEFAULT_ACC_BITS",
    "OP_CLASSES",
    "Add",
    "AvgPool2d",
    "Clamp",
    "Concat",
    "Conv2d",
    "DType",
    "GlobalAvgPool",
    "Graph",
    "Interleave",
    "Linear",
    "MaxPool2d",
    "Mul",
    "Op",
    "OpKind",
    "Pointwise",
    "QuantParams",
    "Requant",
    "Reshape",
    "SelectChannels",
    "Tensor",
    "Upsample",
    "format_graph",
    "graph_from_json",
    "graph_macs",
    "graph_params",
    "graph_to_json",
    "infer_shape",
    "load_graph",
    "op_macs",
    "op_params",
    "save_graph",
    "verify",
]
