"""What the ONNX importer refuses, and how: every unsupported node in one error, damaged files
and external data outside the model's folder named, old opsets refused."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from frontend_helpers import Net
from onnx import TensorProto, helper, numpy_helper
from onnx_helpers import MODELS, export_onnx

from dian.errors import InputShapeError, ModelLoadError, UnsupportedOpError
from dian.frontend import float_graph, load_model


def test_every_unsupported_node_in_one_error(tmp_path: Path) -> None:
    def forward(s: Net, x: torch.Tensor) -> torch.Tensor:
        y = s.conv(x).sum(1, keepdim=True)  # ReduceSum
        return torch.softmax(y, 1) + torch.exp(y)  # Softmax, Exp

    path = export_onnx(Net(forward, conv=torch.nn.Conv2d(3, 4, 3)), (1, 3, 6, 6), tmp_path / "m.onnx", dynamo=False)
    with pytest.raises(UnsupportedOpError) as e:
        float_graph(load_model(str(path)).module, (1, 3, 6, 6), "m")
    text = str(e.value)
    assert "has 3 node(s) dian cannot lower" in text
    for op in ("ReduceSum", "Softmax", "Exp"):
        assert f"({op}): no lowering for {op}" in text
    assert "Conv" in text.splitlines()[-1]  # and what is supported


def test_a_rule_refusal_names_the_node_and_the_reason(tmp_path: Path) -> None:
    m = Net(
        lambda s, x: torch.nn.functional.avg_pool2d(x, 3, padding=1, count_include_pad=False),
    )
    path = export_onnx(m, (1, 2, 6, 6), tmp_path / "avg.onnx", dynamo=False)
    with pytest.raises(UnsupportedOpError, match=r"ONNX node `/AveragePool` \(AveragePool\).*count_include_pad=False"):
        float_graph(load_model(str(path)).module, (1, 2, 6, 6), "avg")


@pytest.fixture
def small_onnx(tmp_path: Path) -> Path:
    return export_onnx(MODELS["upsample_concat"][0](), (1, 3, 8, 8), tmp_path / "small.onnx", dynamo=False)


def test_truncated_file(small_onnx: Path) -> None:
    data = small_onnx.read_bytes()
    small_onnx.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match=r"small\.onnx.*(not a readable ONNX file|not a valid ONNX model)"):
        load_model(str(small_onnx))


def test_not_protobuf(tmp_path: Path) -> None:
    path = tmp_path / "text.onnx"
    path.write_text("def net():\n    return None\n")
    with pytest.raises(ModelLoadError, match=r"text\.onnx"):
        load_model(str(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"nothere\.onnx' does not exist"):
        load_model(str(tmp_path / "nothere.onnx"))


def _external(tmp_path: Path, location: str) -> Path:
    """A one-Conv model whose weight lives in the external file ``location``."""
    w = np.ones((2, 1, 1, 1), np.float32)
    weight = numpy_helper.from_array(w, "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(w.nbytes))):
        weight.external_data.add(key=k, value=v)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 2, 2])],
        [weight],
    )
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    path = model_dir / "ext.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_external_data_beside_the_model_is_read(tmp_path: Path) -> None:
    path = _external(tmp_path, "w.bin")
    (path.parent / "w.bin").write_bytes(np.array([2.0, -1.0], np.float32).tobytes())
    graph = float_graph(load_model(str(path)).module, (1, 1, 2, 2), "ext")
    assert graph.constants[graph.ops[0].weight].reshape(-1).tolist() == [2.0, -1.0]  # type: ignore[attr-defined]


def test_missing_external_data(tmp_path: Path) -> None:
    path = _external(tmp_path, "w.bin")
    with pytest.raises(ModelLoadError, match=r"ext\.onnx.*'w'.*'w\.bin', which is missing"):
        load_model(str(path))


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "link.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, location: str) -> None:
    (tmp_path / "secret.bin").write_bytes(bytes(8))
    path = _external(tmp_path, location)
    os.symlink(tmp_path / "secret.bin", path.parent / "link.bin")
    with pytest.raises(ModelLoadError, match="outside the model's folder"):
        load_model(str(path))


def test_external_data_past_the_end(tmp_path: Path) -> None:
    path = _external(tmp_path, "w.bin")
    (path.parent / "w.bin").write_bytes(bytes(4))
    with pytest.raises(ModelLoadError, match="past the end"):
        load_model(str(path))


def test_old_opset(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    path = tmp_path / "old.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    with pytest.raises(ModelLoadError, match="opset 11; dian reads opset 13 and later"):
        load_model(str(path))


def test_wrong_input_shape(small_onnx: Path) -> None:
    with pytest.raises(InputShapeError, match=r"takes input .* of shape \[1,3,8,8\]"):
        float_graph(load_model(str(small_onnx)).module, (1, 4, 8, 8), "small")
