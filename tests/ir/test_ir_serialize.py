"""JSON form of the IR: exact round trips, and IRFormatError for every kind of bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ir_samples import every_op_graph

from dian.errors import IRFormatError
from dian.ir import Graph, OpKind, graph_from_json, graph_to_json, load_graph, save_graph, verify


@pytest.fixture(params=[False, True], ids=["float", "int"])
def graph(request) -> Graph:
    return verify(every_op_graph(integer=request.param))


def assert_same_graph(a: Graph, b: Graph) -> None:
    assert a.name == b.name and a.inputs == b.inputs and a.outputs == b.outputs
    assert dict(a.metadata) == dict(b.metadata)
    assert list(a.tensors) == list(b.tensors) and dict(a.tensors) == dict(b.tensors)
    assert a.ops == b.ops  # frozen dataclasses: field-by-field equality, including Requant tuples
    assert sorted(a.constants) == sorted(b.constants)
    for name, arr in a.constants.items():
        other = b.constants[name]
        assert other.dtype == arr.dtype and other.shape == arr.shape, name
        assert np.array_equal(other, arr), name
        assert not other.flags.writeable


def test_every_op_kind_is_covered(graph: Graph) -> None:
    assert {op.kind for op in graph.ops} == set(OpKind)


def test_round_trip_equal_bytes_and_constants(graph: Graph) -> None:
    text = graph_to_json(graph)
    back = graph_from_json(text)
    assert graph_to_json(back) == text
    assert_same_graph(graph, back)


def test_serialization_is_deterministic(graph: Graph) -> None:
    # a graph built again from the same seed gives the same bytes
    again = every_op_graph(integer=graph.is_quantized)
    assert graph_to_json(again) == graph_to_json(graph)
    doc = json.loads(graph_to_json(graph))
    assert doc["format"] == "dian.ir" and doc["version"] == 1


def test_floats_survive_exactly() -> None:
    g = every_op_graph(integer=True)
    back = graph_from_json(graph_to_json(g))
    for name, t in g.tensors.items():
        if t.quant is not None:
            assert back.tensors[name].quant.scale == t.quant.scale  # bit-equal doubles (repr precision)


def test_save_and_load_file(graph: Graph, tmp_path: Path) -> None:
    path = tmp_path / "model.ir.json"
    save_graph(graph, path)
    assert_same_graph(graph, load_graph(path))
    assert path.read_text() == graph_to_json(graph)


# -- bad files ------------------------------------------------------------------------------


def _doc() -> dict:
    return json.loads(graph_to_json(every_op_graph(integer=True)))


def _load(doc_or_text: dict | str) -> Graph:
    text = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    return graph_from_json(text, source="model.ir.json")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"model\.ir\.json is not valid JSON"),
        ("{", "not valid JSON.*line 1"),
        ("not json at all", "not valid JSON"),
        ("[1, 2]", r"not a dian IR file .*'format'"),
        ("null", "not a dian IR file"),
        ('{"format": "onnx", "version": 1}', r"'onnx', expected 'dian.ir'"),
        ('{"version": 1}', "format' field is None"),
    ],
)
def test_not_an_ir_file(text: str, message: str) -> None:
    with pytest.raises(IRFormatError, match=message):
        _load(text)


def test_truncated_file() -> None:
    text = graph_to_json(every_op_graph(integer=True))
    for cut in (1, len(text) // 3, len(text) // 2, len(text) - 3):
        with pytest.raises(IRFormatError, match="not valid JSON"):
            _load(text[:cut])


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_wrong_version(version) -> None:
    doc = _doc()
    doc["version"] = version
    with pytest.raises(IRFormatError, match=f"version {version!r}; this dian reads version 1"):
        _load(doc)


def test_missing_version() -> None:
    doc = _doc()
    del doc["version"]
    with pytest.raises(IRFormatError, match="version None"):
        _load(doc)


def test_unknown_op_kind_lists_known_kinds() -> None:
    doc = _doc()
    doc["ops"][1]["kind"] = "gelu"
    with pytest.raises(IRFormatError, match=r"op 'relu1' has kind 'gelu'; known kinds are conv2d, linear, .*concat"):
        _load(doc)


def test_unknown_op_field() -> None:
    doc = _doc()
    doc["ops"][0]["bias_scale"] = 3
    with pytest.raises(IRFormatError, match=r"conv2d op 'conv1' has unknown fields \['bias_scale'\]"):
        _load(doc)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("ops"), "the document has no 'ops'"),
        (lambda d: d.pop("tensors"), "the document has no 'tensors'"),
        (lambda d: d["tensors"][0].pop("dtype"), r"field 'tensors\[0\]' has no 'dtype'"),
        (lambda d: d["tensors"][0].__setitem__("dtype", "int4"), r"'tensors\[0\].dtype' must be one of .*got 'int4'"),
        (lambda d: d["constants"].__setitem__("w1", "@@@"), "field 'constants.w1' must be base64 text"),
        (lambda d: d["constants"].__setitem__("w1", d["constants"]["w1"][:8]), r"base64 of 216 bytes"),
        (lambda d: d["constants"].__setitem__("zz", "AAAA"), "no tensor is named 'zz'"),
        (lambda d: d["ops"][0].__setitem__("requant", {"multiplier": [1]}), r"'ops\[0\].requant' must be"),
        (lambda d: d["ops"].__setitem__(0, 7), r"'ops\[0\]' must be an object, got 7"),
    ],
    ids=[
        "no-ops",
        "no-tensors",
        "no-dtype",
        "bad-dtype",
        "bad-base64",
        "short-constant",
        "undeclared-constant",
        "requant-no-shift",
        "op-not-object",
    ],
)
def test_malformed_documents(mutate, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(IRFormatError, match=message):
        _load(doc)


def test_parses_but_invalid_graph_names_the_op() -> None:
    doc = _doc()
    doc["ops"][3]["groups"] = 3
    with pytest.raises(
        IRFormatError, match=r"model\.ir\.json parses but is not a valid graph: conv2d op 'dw': groups=3"
    ):
        _load(doc)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IRFormatError, match=r"nope\.json does not exist"):
        load_graph(tmp_path / "nope.json")


# Wrong JSON *types* in op fields must be format errors naming the field, not
# a TypeError from shape inference ("anything else escaping is a bug in dian").
@pytest.mark.parametrize(
    "op_index, field, value",
    [
        (0, "stride", 3),
        (0, "stride", "ab"),
        (3, "groups", "8"),
        (14, "shape", "1,12"),
        (9, "axis", "1"),
        (12, "scale", "2"),
        (12, "scale", [2, 1.5]),
        (11, "factor", "1,1"),
        (10, "channels", "0,1"),
        (10, "channels", [0, 1.5]),
        (5, "fn", 3),
        (5, "params", [0.25, "x"]),
        (5, "table", 7),
        (0, "out_min", "0"),
        (0, "inputs", 5),
    ],
)
def test_wrongly_typed_op_fields_are_format_errors(op_index: int, field: str, value) -> None:
    doc = _doc()
    doc["ops"][op_index][field] = value
    with pytest.raises(IRFormatError, match=rf"field 'ops\[{op_index}\]\.{field}' must be "):
        _load(doc)
