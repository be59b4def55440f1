"""Hand-written ONNX graphs for what torch's exporters do not write: Gemm's alpha/beta/transB,
MatMul + Add, HardSigmoid with other constants, half-pixel nearest Resize, per-channel constants on
either side, ReduceMean with axes as an input (opset 18). Checked against onnx.reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from frontend_helpers import run_float, sample
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from dian.frontend import float_graph, load_model
from dian.ir import Linear, OpKind


def _model(
    tmp_path: Path, nodes: list[onnx.NodeProto], shape: list[int], inits: dict[str, np.ndarray], out: list[int]
) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()],
    )
    path = tmp_path / "hand.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


def _check(path: Path, shape: tuple[int, ...]) -> list[OpKind]:
    graph = float_graph(load_model(str(path)).module, shape, "hand")
    x = sample(shape, seed=3)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})[0]
    np.testing.assert_allclose(run_float(graph, x)[0], want, rtol=1e-5, atol=1e-6)
    return [op.kind for op in graph.ops]


def test_matrix_products(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    f32 = np.float32
    inits = {
        "w1": rng.standard_normal((6, 5)).astype(f32),  # MatMul: [in, out]
        "b1": rng.standard_normal(5).astype(f32),
        "w2": rng.standard_normal((5, 4)).astype(f32),  # Gemm transB=0: [in, out]
        "c2": rng.standard_normal((1, 4)).astype(f32),
        "k": np.array([0.5, 2.0, -1.0, 4.0], f32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["m"]),
        helper.make_node("Add", ["m", "b1"], ["h"]),
        helper.make_node("HardSigmoid", ["h"], ["s"], alpha=0.2, beta=0.4),
        helper.make_node("Gemm", ["s", "w2", "c2"], ["g"], alpha=0.5, beta=2.0),
        helper.make_node("Div", ["g", "k"], ["d"]),
        helper.make_node("Sub", ["k", "d"], ["y"]),
    ]
    kinds = _check(_model(tmp_path, nodes, [3, 6], inits, [3, 4]), (3, 6))
    # MatMul + Add is one linear; Div and Sub by per-channel constants fold into the Gemm's linear
    assert kinds == [OpKind.LINEAR, OpKind.POINTWISE, OpKind.CLAMP, OpKind.LINEAR]


def test_spatial_ops(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    inits = {
        "w": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
        "scales": np.array([1, 1, 2, 3], np.float32),
        "axes": np.array([2, 3], np.int64),
        "c": rng.standard_normal((4, 1, 1)).astype(np.float32),
        "sq": np.array([2, 3], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["conv"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["conv"], ["r"]),
        helper.make_node("Add", ["r", "c"], ["rc"]),  # per-channel constant after a clamp: a depthwise 1x1
        helper.make_node(
            "Resize", ["rc", "", "scales"], ["up"], mode="nearest", coordinate_transformation_mode="half_pixel"
        ),
        helper.make_node("AveragePool", ["up"], ["avg"], kernel_shape=[2, 3], strides=[2, 3]),
        helper.make_node("ReduceMean", ["avg", "axes"], ["mean"], keepdims=1),
        helper.make_node("Squeeze", ["mean", "sq"], ["y"]),
    ]
    kinds = _check(_model(tmp_path, nodes, [1, 2, 8, 8], inits, [1, 4]), (1, 2, 8, 8))
    assert kinds == [
        OpKind.CONV2D,
        OpKind.CLAMP,
        OpKind.CONV2D,
        OpKind.UPSAMPLE,
        OpKind.AVGPOOL2D,
        OpKind.GLOBAL_AVGPOOL,
        OpKind.RESHAPE,
    ]


def test_a_gemm_bias_in_place_of_the_matmul_add(tmp_path: Path) -> None:
    w = np.eye(3, dtype=np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)]
    graph = float_graph(load_model(str(_model(tmp_path, nodes, [1, 3], {"w": w}, [1, 3]))).module, (1, 3), "g")
    assert isinstance(graph.ops[0], Linear) and graph.ops[0].bias is None
