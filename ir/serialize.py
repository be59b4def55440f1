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
import typing
from pathlib import Path
from typing import Any

import numpy as np

from dian.errors import IRFormatError, IRValidationError

from .field_types import conforms, describe
from .graph import Graph
from .ops import OP_CLASSES, Op, OpKind, Requant
from .tensor import DType, QuantParams, Tensor

FORMAT = "dian.ir"
VERSION = 1


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


def _op_from_json(d: dict[str, Any]) -> Op:
    try:
        cls = OP_CLASSES[OpKind(d["kind"])]
    except (KeyError, ValueError):
        allowed = ", ".join(k.value for k in OpKind)
        raise IRFormatError(
            f"op {d.get('name', '?')!r} has kind {d.get('kind')!r}; known kinds are {allowed}."
        ) from None
    kwargs: dict[str, Any] = {}
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names) - {"kind"}
    if unknown:
        raise IRFormatError(
            f"{d['kind']} op {d.get('name', '?')!r} has unknown fields {sorted(unknown)}; "
            f"its fields are {sorted(names)}."
        )
    hints = typing.get_type_hints(cls)
    for name, v in d.items():
        if name == "kind":
            continue
        if name == "requant" and v is not None:
            if not (
                isinstance(v, dict)
                and set(v) == {"multiplier", "shift"}
                and conforms(v["multiplier"], tuple[int, ...])
                and conforms(v["shift"], tuple[int, ...])
            ):
                raise IRFormatError(
                    f"{d['kind']} op {d.get('name', '?')!r} has requant {v!r}; "
                    f'it must be {{"multiplier": [int, ...], "shift": [int, ...]}} or null.'
                )
            v = Requant(tuple(v["multiplier"]), tuple(v["shift"]))
        else:
            if not conforms(v, hints[name]):
                raise IRFormatError(
                    f"{d['kind']} op {d.get('name', '?')!r} has {name} = {v!r}; {name} must be {describe(hints[name])}."
                )
            if isinstance(v, list):
                v = tuple(v)
        kwargs[name] = v
    return cls(**kwargs)


def graph_from_json(text: str, source: str = "<string>") -> Graph:
    """Parse a Graph; raise :class:`IRFormatError` naming ``source`` on bad input."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise IRFormatError(
            f"{source} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}); "
            f"an IR file is the JSON that `dian compile` writes as model.ir.json."
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise IRFormatError(
            f"{source} is not a dian IR file (its 'format' field is "
            f"{doc.get('format') if isinstance(doc, dict) else None!r}, expected {FORMAT!r})."
        )
    if doc.get("version") != VERSION:
        raise IRFormatError(
            f"{source} has IR format version {doc.get('version')!r}; this dian reads version {VERSION}."
        )
    try:
        tensors = [
            Tensor(
                t["name"],
                tuple(int(s) for s in t["shape"]),
                DType(t["dtype"]),
                None
                if t["quant"] is None
                else QuantParams(tuple(float(s) for s in t["quant"]["scale"]), t["quant"]["axis"]),
            )
            for t in doc["tensors"]
        ]
        by_name = {t.name: t for t in tensors}
        constants = {}
        for name, b64 in doc["constants"].items():
            t = by_name[name]
            dt = np.dtype(t.dtype.value).newbyteorder("<")
            constants[name] = (
                np.frombuffer(base64.b64decode(b64, validate=True), dtype=dt).astype(t.dtype.value).reshape(t.shape)
            )
        ops = [_op_from_json(o) for o in doc["ops"]]
        graph = Graph.build(
            doc["name"], tensors, constants, ops, doc["inputs"], doc["outputs"], doc.get("metadata", {})
        )
    except IRFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise IRFormatError(
            f"{source} is malformed ({type(e).__name__}: {e}); "
            f"it must hold tensors, constants, ops, inputs and outputs as `dian compile` writes them."
        ) from None
    from .verify import verify

    try:
        return verify(graph)
    except IRValidationError as e:
        raise IRFormatError(f"{source} parses but is not a valid graph: {e}") from None


def save_graph(graph: Graph, path: str | Path) -> None:
    Path(path).write_text(graph_to_json(graph))


def load_graph(path: str | Path) -> Graph:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise IRFormatError(f"cannot read IR file {p}: {e.strerror}.") from None
    return graph_from_json(text, str(p))
