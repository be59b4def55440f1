"""Versioned JSON form of a Graph.

The file is self-contained: constants are stored as base64 of their
little-endian bytes beside dtype and shape. Keys are sorted and floats are
written with ``repr`` precision, so the same Graph always gives the same bytes
and a load returns an equal Graph.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import typing
from pathlib import Path
from typing import Any

import numpy as np

from dian.artifact_io import MAX_JSON_BYTES, Node, parse_json, read_bytes
from dian.errors import IRFormatError, IRValidationError

from .field_types import conforms, describe
from .graph import Graph
from .ops import OP_CLASSES, Op, OpKind, Requant
from .tensor import DType, QuantParams, Tensor

FORMAT = "dian.ir"
VERSION = 1
#: The largest IR file dian reads.
MAX_IR_BYTES = MAX_JSON_BYTES


def _quant_to_json(q: QuantParams | None) -> dict[str, Any] | None:
    return None if q is None else {"scale": list(q.scale), "axis": q.axis}


def _op_to_json(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": op.kind.value}
    for f in dataclasses.fields(op):
        v = getattr(op, f.name)
        if isinstance(v, Requant):
            v = {"multiplier": list(v.multiplier), "shift": list(v.shift)}
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def graph_to_json(graph: Graph) -> str:
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "name": graph.name,
        "metadata": dict(graph.metadata),
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "tensors": [
            {"name": t.name, "shape": list(t.shape), "dtype": t.dtype.value, "quant": _quant_to_json(t.quant)}
            for t in graph.tensors.values()
        ],
        "constants": {
            name: base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")
            for name, a in graph.constants.items()
        },
        "ops": [_op_to_json(op) for op in graph.ops],
    }
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


#: Limits of a loaded IR file: names are printable, at most this long, and never hold '/' or '\\'
#: (a layer's name becomes a file name under schedules/); shapes have at most MAX_RANK positive
#: dims and MAX_ELEMENTS elements; every integer field of an op fits int32.
MAX_NAME_CHARS = 128
MAX_RANK = 8
MAX_ELEMENTS = 2**31 - 1
_INT_FIELD = (-(2**31), 2**31 - 1)
_HINT = "; an IR file is the JSON that `dian compile` writes as model.ir.json"


def _name(node: Node) -> str:
    """A tensor, op or graph name (see MAX_NAME_CHARS)."""
    v = node.value
    if not (isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS and v.isprintable() and not {"/", "\\"} & set(v)):
        node.fail(f"a name of 1 to {MAX_NAME_CHARS} printable characters without '/' or '\\'")
    return str(v)


def _ints_in_range(v: Any) -> bool:
    if isinstance(v, list):
        return all(_ints_in_range(x) for x in v)
    return not isinstance(v, int) or isinstance(v, bool) or _INT_FIELD[0] <= v <= _INT_FIELD[1]


def _op_from_json(node: Node) -> Op:
    d = node.as_dict()
    kind = d["kind"].value if "kind" in d else None
    if not isinstance(kind, str) or kind not in {k.value for k in OpKind}:
        allowed = ", ".join(k.value for k in OpKind)
        raise IRFormatError(
            f"{node.source}: op {d['name'].value if 'name' in d else '?'!r} has kind {kind!r}; "
            f"known kinds are {allowed}."
        )
    missing = {"name", "inputs", "output"} - set(d)
    if missing:
        node.fail(f"an op with name, inputs and output (it has no {', '.join(sorted(missing))})")
    name = _name(d["name"])
    cls = OP_CLASSES[OpKind(kind)]
    kwargs: dict[str, Any] = {}
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names) - {"kind"}
    if unknown:
        raise IRFormatError(
            f"{node.source}: {kind} op {name!r} has unknown fields {sorted(unknown)}; its fields are {sorted(names)}."
        )
    hints = typing.get_type_hints(cls)
    for field, child in d.items():
        v = child.value
        if field == "kind":
            continue
        if field in ("inputs", "output", "weight", "bias"):
            refs = child.as_list(1, 64) if field == "inputs" else [child]
            if field == "bias" and v is None:
                kwargs[field] = None
                continue
            names_ = tuple(_name(r) for r in refs)
            kwargs[field] = names_ if field == "inputs" else names_[0]
            continue
        if field == "requant" and v is not None:
            if not (
                isinstance(v, dict)
                and set(v) == {"multiplier", "shift"}
                and conforms(v["multiplier"], tuple[int, ...])
                and conforms(v["shift"], tuple[int, ...])
            ):
                child.fail('{"multiplier": [int, ...], "shift": [int, ...]} or null')
            m, sh = v["multiplier"], v["shift"]
            if not _ints_in_range(m) or not _ints_in_range(sh):  # the verifier checks the contract's ranges
                child.fail(f"a requant whose integers are in [{_INT_FIELD[0]}, {_INT_FIELD[1]}]")
            v = Requant(tuple(m), tuple(sh))
        elif field != "name":
            if not conforms(v, hints[field]):
                child.fail(describe(hints[field]))
            if not _ints_in_range(v):
                child.fail(f"{describe(hints[field])} with integers in [{_INT_FIELD[0]}, {_INT_FIELD[1]}]")
            if isinstance(v, list):
                v = tuple(v)
        kwargs[field] = v
    kwargs["name"] = name
    return cls(**kwargs)


def _tensor_from_json(node: Node) -> Tensor:
    shape = tuple(d.as_int(1, MAX_ELEMENTS) for d in node["shape"].as_list(1, MAX_RANK))
    if math.prod(shape) > MAX_ELEMENTS:
        node["shape"].fail(f"a shape of at most {MAX_ELEMENTS:,} elements")
    dtype = DType(node["dtype"].as_str(16, tuple(t.value for t in DType)))
    quant = None
    if (q := node.get("quant")) is not None:
        axis = q.get("axis")
        quant = QuantParams(
            tuple(s.as_float() for s in q["scale"].as_list(1, MAX_ELEMENTS)),
            None if axis is None else axis.as_int(0, len(shape) - 1),
        )
    unknown = set(node.as_dict()) - {"name", "shape", "dtype", "quant"}
    if unknown:
        node.fail(f"a tensor of name, shape, dtype and quant (not {sorted(unknown)})")
    return Tensor(_name(node["name"]), shape, dtype, quant)


def _constant(node: Node, t: Tensor) -> np.ndarray:
    dt = np.dtype(t.dtype.value).newbyteorder("<")
    try:
        raw = base64.b64decode(node.as_str(4 * MAX_ELEMENTS), validate=True)
    except ValueError:
        node.fail("base64 text")
    if len(raw) != t.numel * dt.itemsize:
        node.fail(f"the base64 of {t.numel * dt.itemsize:,} bytes ({t.dtype.value} {list(t.shape)})")
    return np.frombuffer(raw, dtype=dt).astype(t.dtype.value).reshape(t.shape)


def graph_from_json(text: str | bytes, source: str = "<string>") -> Graph:
    """Parse a Graph; raise :class:`IRFormatError` naming ``source`` and the field on bad input.

    The document is read under dian's artifact rules (:mod:`dian.artifact_io`: UTF-8, nesting,
    no NaN or repeated key), every field is checked for its type and range (names, shapes, an
    op's fields as its dataclass declares them, requantization within the arithmetic contract),
    and the result must pass the IR verifier."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    doc = Node(parse_json(data, source, IRFormatError, hint=_HINT), source, IRFormatError, "", _HINT)
    top = doc.value if isinstance(doc.value, dict) else {}
    if top.get("format") != FORMAT:
        raise IRFormatError(
            f"{source} is not a dian IR file (its 'format' field is {top.get('format')!r}, expected {FORMAT!r})."
        )
    if top.get("version") != VERSION:
        raise IRFormatError(
            f"{source} has IR format version {top.get('version')!r}; this dian reads version {VERSION}."
        )
    tensors = [_tensor_from_json(t) for t in doc["tensors"].as_list(1)]
    by_name: dict[str, Tensor] = {}
    for t, node in zip(tensors, doc["tensors"].as_list(), strict=True):
        if t.name in by_name:
            node["name"].fail(f"a name no other tensor has ('{t.name}' is declared twice)")
        by_name[t.name] = t
    constants = {}
    for name, b64 in doc["constants"].as_dict().items():
        if name not in by_name:
            b64.fail(f"the data of a declared tensor (no tensor is named '{name}')")
        constants[name] = _constant(b64, by_name[name])
    ops = [_op_from_json(o) for o in doc["ops"].as_list()]
    inputs = [_name(n) for n in doc["inputs"].as_list(1, 64)]
    outputs = [_name(n) for n in doc["outputs"].as_list(1, 64)]
    for n, role in [*((i, "inputs") for i in inputs), *((o, "outputs") for o in outputs)]:
        if n not in by_name:
            doc[role].fail(f"a list of declared tensors ('{n}' is not one)")
    metadata = {}
    if (meta := doc.get("metadata")) is not None:
        metadata = {k: v.as_str() for k, v in meta.as_dict().items()}
    graph = Graph.build(_name(doc["name"]), by_name, constants, ops, inputs, outputs, metadata)
    from .verify import verify

    try:
        return verify(graph)
    except IRValidationError as e:
        raise IRFormatError(f"{source} parses but is not a valid graph: {e}") from None


def save_graph(graph: Graph, path: str | Path) -> None:
    Path(path).write_text(graph_to_json(graph))


def load_graph(path: str | Path) -> Graph:
    """The Graph in the IR file ``path`` (at most MAX_IR_BYTES), or :class:`IRFormatError`."""
    p = Path(path)
    return graph_from_json(read_bytes(p, IRFormatError, limit=MAX_IR_BYTES, hint=_HINT), str(p))
