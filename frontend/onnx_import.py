"""ONNX graph -> dian's float Graph, the same IR the torch.fx frontend builds.

Pipeline: the one float input gets the requested shape and ``onnx.shape_inference`` gives every
value a concrete shape -> constants are found (initializers, ``Constant`` nodes, ``Shape`` of a
value whose shape is known, and the shape arithmetic on them, evaluated by onnx's reference
operators) -> multi-node activations are recognized (onnx_patterns.py) -> each remaining node
gets a stand-in fx node in a scratch graph (name, inferred shape, activation inputs as args) and
is lowered by its rule (onnx_rules.py) -> ``dian.ir.verify``.

A node dian cannot lower does not stop the walk: every such node is collected and one
:class:`~dian.errors.UnsupportedOpError` lists them all, each with its name, op type and reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnx
import torch.fx as fx
from onnx import numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from dian.errors import InputShapeError, UnsupportedOpError
from dian.ir import Graph, verify

from .blockers import listing
from .builder import Builder
from .onnx_file import OnnxModel
from .onnx_patterns import Fused, find_fused
from .onnx_rules import RULES, OnnxNode, supported_summary
from .pointwise_rules import lower_pointwise

#: Ops evaluated when all their inputs are constants: the shape arithmetic exporters leave behind.
FOLDABLE = frozenset(
    [
        "Constant",
        "Identity",
        "Cast",
        "Shape",
        "Gather",
        "Unsqueeze",
        "Squeeze",
        "Concat",
        "Reshape",
        "Slice",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Neg",
        "Sqrt",
        "Reciprocal",
        "Transpose",
        "ConstantOfShape",
        "Range",
        "Expand",
        "Floor",
        "Ceil",
        "Equal",
        "Where",
        "Tile",
    ]
)
MAX_LISTED = 40


def input_of(model: OnnxModel) -> tuple[str, tuple[int | None, ...]]:
    """The model's one float input: its name and declared dims (None where symbolic)."""
    g = model.proto.graph
    inits = {t.name for t in g.initializer}
    inputs = [v for v in g.input if v.name not in inits]
    if len(inputs) != 1 or inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        listing = ", ".join(
            f"{v.name} ({onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)})" for v in inputs
        )
        raise UnsupportedOpError(
            f"ONNX model '{model.path}' has inputs {listing or '(none)'}; dian lowers models with one "
            f"float32 input tensor."
        )
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim)
    return inputs[0].name, dims


def default_input_shape(model: OnnxModel) -> tuple[int, ...] | None:
    """The declared input shape when every dimension is a number."""
    dims = input_of(model)[1]
    return tuple(int(d or 0) for d in dims) if dims and all(dims) else None


def import_onnx(model: OnnxModel, input_shape: tuple[int, ...], name: str) -> Graph:
    """Lower ``model`` to a verified float32 Graph for inputs of exactly ``input_shape``."""
    in_name, declared = input_of(model)
    if len(declared) != len(input_shape) or any(d and d != s for d, s in zip(declared, input_shape, strict=False)):
        shown = ",".join(str(d) if d else "?" for d in declared)
        raise InputShapeError(
            f"ONNX model '{model.path}' takes input '{in_name}' of shape [{shown}]; --input-shape "
            f"{','.join(map(str, input_shape))} does not fit it (give the declared numbers, any value where "
            f"it shows ?)."
        )
    shapes = _infer_shapes(model, in_name, input_shape)
    nodes = list(model.proto.graph.node)
    consts = _fold_constants(model, nodes, shapes)
    fused = find_fused(nodes, consts)
    inner = {i for f in fused.values() for i in f.inner}
    scratch = fx.Graph()
    values: dict[str, fx.Node] = {in_name: scratch.placeholder(_ident(in_name))}
    todo: list[tuple[onnx.NodeProto, fx.Node, Fused | None]] = []
    for i, node in enumerate(nodes):
        if i in inner or (node.output and all(o in consts for o in node.output if o)):
            continue
        ins = [fused[i].x] if i in fused else list(node.input)
        stand_in = scratch.create_node("call_method", node.op_type, tuple(values.get(v) for v in ins), name=_stem(node))
        out = node.output[0]
        if out in shapes:
            stand_in.meta["tensor_meta"] = SimpleNamespace(shape=shapes[out])
        stand_in.meta["where"] = f"ONNX node `{node.name or out}` ({node.op_type})"
        values[out] = stand_in
        todo.append((node, stand_in, fused.get(i)))
    outputs = [o.name for o in model.proto.graph.output]
    scratch.output(tuple(values.get(o) for o in outputs))
    b = Builder({}, {n.name for n in scratch.nodes})
    b.env[values[in_name]] = b.declare(values[in_name].name, input_shape)
    problems = _lower_all(b, todo, consts)
    for o in outputs:
        if o not in values and o not in problems:
            problems[o] = f"graph output `{o}`: it is a constant, not computed from the input; dian compiles networks"
    if problems:
        raise listing(f"ONNX model '{model.path}'", list(problems.values()), supported_summary(), MAX_LISTED)
    graph = Graph.build(
        name,
        b.tensors,
        b.constants,
        b.ops,
        [values[in_name].name],
        [b.env[values[o]] for o in outputs],
        metadata={"frontend": "onnx", "onnx_opset": str(model.opset), "producer": model.proto.producer_name},
    )
    return verify(graph)


def _lower_all(
    b: Builder, todo: list[tuple[onnx.NodeProto, fx.Node, Fused | None]], consts: Mapping[str, np.ndarray]
) -> dict[str, str]:
    """Lower every stand-in in order; the problems found, keyed by node."""
    problems: dict[str, str] = {}
    failed: set[fx.Node] = set()
    for node, stand_in, fused in todo:
        where = stand_in.meta["where"]
        rule = RULES.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if rule is None and fused is None:
            problems[where] = f"{where}: no lowering for {node.domain + '.' if node.domain else ''}{node.op_type}"
        elif failed.intersection(a for a in stand_in.args if a is not None):
            pass  # its input already failed: only its op type is checked
        elif "tensor_meta" not in stand_in.meta:
            problems[where] = f"{where}: ONNX shape inference gave its output no shape"
        else:
            try:
                if fused is not None:
                    b.env[stand_in] = lower_pointwise(b, stand_in, stand_in.args[0], fused.fn, *fused.params)
                else:
                    b.env[stand_in] = rule(b, OnnxNode(node, stand_in, consts))  # type: ignore[misc]
                continue
            except UnsupportedOpError as e:
                problems[where] = str(e).rstrip(".")
        failed.add(stand_in)
    return problems


def _infer_shapes(model: OnnxModel, in_name: str, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Every value's static shape for the input ``shape`` (values ONNX cannot size are left out)."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    g = proto.graph
    del g.value_info[:]
    for v in g.input:
        if v.name == in_name:
            for d, n in zip(v.type.tensor_type.shape.dim, shape, strict=True):
                d.Clear()
                d.dim_value = n
    for v in g.output:
        v.type.tensor_type.ClearField("shape")
    try:
        inferred = shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    except Exception as e:
        raise InputShapeError(
            f"ONNX model '{model.path}' does not accept input shape {list(shape)}: shape inference failed with "
            f"{str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__}."
        ) from None
    shapes: dict[str, tuple[int, ...]] = {}
    for v in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        t = v.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[v.name] = tuple(int(d.dim_value) for d in t.shape.dim)
    return shapes


def _fold_constants(
    model: OnnxModel, nodes: list[onnx.NodeProto], shapes: Mapping[str, tuple[int, ...]]
) -> dict[str, np.ndarray]:
    consts = {t.name: numpy_helper.to_array(t) for t in model.proto.graph.initializer}
    for node in nodes:
        present = [v for v in node.input if v]
        if node.op_type == "Shape" and node.domain in ("", "ai.onnx") and node.input[0] in shapes:
            dims = np.array(shapes[node.input[0]], dtype=np.int64)
            start, end = _attr(node, "start", 0), _attr(node, "end", len(dims))
            consts[node.output[0]] = dims[start:end]
        elif node.op_type in FOLDABLE and node.domain in ("", "ai.onnx") and all(v in consts for v in present):
            try:
                results = ReferenceEvaluator(node).run(None, {v: consts[v] for v in present})
            except Exception:
                continue  # left to its rule, which names the node
            consts.update({o: np.asarray(r) for o, r in zip(node.output, results, strict=False) if o})
    return consts


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return s if s and not s[0].isdigit() else f"t_{s}"


def _stem(node: onnx.NodeProto) -> str:
    """A readable op name: the node's name (the legacy exporter's ``/layer1/conv/Conv``) or its output's."""
    return _ident(node.name or node.output[0])
