"""Test helpers: single-layer dian graphs built by hand, float and integer.

Independent of the frontend's quantizer on purpose: the requant multipliers
here come from ``math.frexp`` in a few lines, so a bug in the frontend's own
scale arithmetic cannot hide behind a matching bug in the test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dian.ir import (
    Add,
    AvgPool2d,
    Clamp,
    Conv2d,
    DType,
    GlobalAvgPool,
    Graph,
    Linear,
    MaxPool2d,
    Op,
    QuantParams,
    Requant,
    Tensor,
    verify,
)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``real ~= M / 2**shift`` with M normalized into [2**30, 2**31)."""
    frac, exp = math.frexp(real)  # real = frac * 2**exp, frac in [0.5, 1)
    m = round(frac * 2**31)
    if m == 2**31:  # frac rounded up to 1.0
        m //= 2
        exp += 1
    shift = 31 - exp
    assert 2**30 <= m < 2**31 and 0 <= shift <= 62, (real, m, shift)
    return m, shift


def requant_per_channel(reals: list[float]) -> Requant:
    ms, ss = zip(*(quantize_multiplier(r) for r in reals), strict=True)
    return Requant(tuple(ms), tuple(ss))


def requant_shared_shift(reals: list[float]) -> Requant:
    """Multipliers for several inputs with one shift (the Add rule): the largest
    ratio sets the shift, the others are rounded at that shift."""
    _, shift = quantize_multiplier(max(reals))
    return Requant(tuple(round(r * 2.0**shift) for r in reals), (shift,))


def act(name: str, shape: tuple[int, ...], scale: float | None) -> Tensor:
    """An activation tensor: int8 with a per-tensor scale, or float32 when scale is None."""
    if scale is None:
        return Tensor(name, tuple(shape), DType.FLOAT32)
    return Tensor(name, tuple(shape), DType.INT8, QuantParams.per_tensor(scale))


def single_op_graph(op: Op, tensors: list[Tensor], constants: dict[str, np.ndarray], name: str = "g") -> Graph:
    """A verified Graph holding one op; inputs are the op's inputs."""
    g = Graph.build(name, tensors, constants, [op], list(op.inputs), [op.output])
    return verify(g)


@dataclass
class MacParams:
    """Random integer parameters of one conv/linear layer and their float twins."""

    w_int: np.ndarray  # int8, [K, ...]
    w_scale: np.ndarray  # float64 [K]
    b_int: np.ndarray  # int32 [K]
    in_scale: float
    out_scale: float

    @property
    def w_float(self) -> np.ndarray:
        return (self.w_int.astype(np.float64) * self.w_scale.reshape((-1,) + (1,) * (self.w_int.ndim - 1))).astype(
            np.float32
        )

    @property
    def b_float(self) -> np.ndarray:
        """The real bias: ``b_int * s_in * s_w[k]`` (float64, exactly what b_int encodes)."""
        return self.b_int.astype(np.float64) * self.in_scale * self.w_scale

    @property
    def ratios(self) -> list[float]:
        return list(self.in_scale * self.w_scale / self.out_scale)


def random_mac_params(rng: np.random.Generator, w_shape: tuple[int, ...], with_bias: bool = True) -> MacParams:
    """int8 weights (full range, some channels small), per-channel scales, int32 bias,
    and an output scale that puts typical outputs near |50| so both rounding and
    saturation occur."""
    k = w_shape[0]
    fan_in = int(np.prod(w_shape[1:]))
    amp = rng.integers(8, 128, size=(k,) + (1,) * (len(w_shape) - 1))
    w = np.clip(np.round(rng.uniform(-1, 1, size=w_shape) * amp), -128, 127).astype(np.int8)
    w_scale = rng.uniform(0.002, 0.05, size=k)
    in_scale = float(rng.uniform(0.01, 0.1))
    acc_std = math.sqrt(fan_in) * 74.0 * float(np.abs(w).astype(np.float64).mean() + 1.0)
    b = (rng.normal(0, acc_std, size=k) if with_bias else np.zeros(k)).astype(np.int32)
    out_scale = float(in_scale * float(w_scale.mean()) * acc_std / 50.0 * rng.uniform(0.5, 2.0))
    return MacParams(w, w_scale, b, in_scale, out_scale)


def random_int8(rng: np.random.Generator, shape: tuple[int, ...], low: int = -128, high: int = 127) -> np.ndarray:
    return rng.integers(low, high + 1, size=shape).astype(np.int8)


# -- single-layer graphs --------------------------------------------------------


@dataclass(frozen=True)
class ConvSpec:
    n: int
    c: int
    k: int
    h: int
    w: int
    fy: int
    fx: int
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    relu: bool = False

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.c, self.h, self.w)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.k, self.c // self.groups, self.fy, self.fx)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        oy = (self.h + 2 * self.padding[0] - self.dilation[0] * (self.fy - 1) - 1) // self.stride[0] + 1
        ox = (self.w + 2 * self.padding[1] - self.dilation[1] * (self.fx - 1) - 1) // self.stride[1] + 1
        return (self.n, self.k, oy, ox)


def _weight_tensors(p: MacParams, integer: bool) -> tuple[list[Tensor], dict[str, np.ndarray]]:
    k = p.w_int.shape[0]
    if integer:
        q = QuantParams(tuple(float(s) for s in p.w_scale), 0)  # per output channel, also when k == 1
        return (
            [Tensor("w", p.w_int.shape, DType.INT8, q), Tensor("b", (k,), DType.INT32)],
            {"w": p.w_int, "b": p.b_int},
        )
    return (
        [Tensor("w", p.w_int.shape, DType.FLOAT32), Tensor("b", (k,), DType.FLOAT32)],
        {"w": p.w_float, "b": p.b_float.astype(np.float32)},
    )


def _mac_graph(make_op, p: MacParams, x_shape, out_shape, relu: bool, integer: bool) -> Graph:
    """Conv/linear graph. The integer form fuses ReLU as out_min=0; the float form
    follows the layer with a Clamp op."""
    wt, consts = _weight_tensors(p, integer)
    if integer:
        op = make_op(requant=requant_per_channel(p.ratios), out_min=0 if relu else -128, out_max=127)
        return single_op_graph(op, [act("x", x_shape, p.in_scale), act("y", out_shape, p.out_scale), *wt], consts)
    ops = [make_op(output="acc" if relu else "y")]
    tensors = [act("x", x_shape, None), act("y", out_shape, None), *wt]
    if relu:
        ops.append(Clamp("relu", ("acc",), "y", min_value=0.0))
        tensors.append(act("acc", out_shape, None))
    return verify(Graph.build("g", tensors, consts, ops, ["x"], ["y"]))


def conv_graph(spec: ConvSpec, p: MacParams, integer: bool = True) -> Graph:
    def make(output: str = "y", **kw) -> Conv2d:
        return Conv2d(
            "conv",
            ("x",),
            output,
            weight="w",
            bias="b",
            stride=spec.stride,
            padding=spec.padding,
            dilation=spec.dilation,
            groups=spec.groups,
            **kw,
        )

    return _mac_graph(make, p, spec.x_shape, spec.out_shape, spec.relu, integer)


def linear_graph(n: int, fin: int, fout: int, p: MacParams, relu: bool = False, integer: bool = True) -> Graph:
    def make(output: str = "y", **kw) -> Linear:
        return Linear("fc", ("x",), output, weight="w", bias="b", **kw)

    return _mac_graph(make, p, (n, fin), (n, fout), relu, integer)


def add_graph(
    shape: tuple[int, ...], sa: float | None, sb: float | None, so: float | None, relu: bool = False
) -> Graph:
    """``y = a + b`` (then ReLU). Integer when scales are given: one shared shift."""
    integer = so is not None
    tensors = [act("a", shape, sa), act("b", shape, sb), act("y", shape, so)]
    if integer:
        op = Add(
            "add",
            ("a", "b"),
            "y",
            requant=requant_shared_shift([sa / so, sb / so]),  # type: ignore[operator]
            out_min=0 if relu else -128,
            out_max=127,
        )
        return single_op_graph(op, tensors, {})
    ops: list[Op] = [Add("add", ("a", "b"), "s" if relu else "y")]
    if relu:
        ops.append(Clamp("relu", ("s",), "y", min_value=0.0))
        tensors.append(act("s", shape, None))
    return verify(Graph.build("g", tensors, {}, ops, ["a", "b"], ["y"]))


def pool_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def pool_graph(
    kind: str,
    x_shape: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    scale: float | None,
) -> Graph:
    """maxpool / avgpool with output scale == input scale (torch.ao keeps the input's
    qparams for pooling), so the avgpool requant is ``1 / window``."""
    n, c, h, w = x_shape
    out = (n, c, pool_out(h, kernel[0], stride[0], padding[0]), pool_out(w, kernel[1], stride[1], padding[1]))
    if kind == "max":
        op: Op = MaxPool2d("pool", ("x",), "y", kernel=kernel, stride=stride, padding=padding)
    else:
        rq = None if scale is None else requant_per_channel([1.0 / (kernel[0] * kernel[1])])
        op = AvgPool2d("pool", ("x",), "y", kernel=kernel, stride=stride, padding=padding, requant=rq)
    return single_op_graph(op, [act("x", x_shape, scale), act("y", out, scale)], {})


def global_avgpool_graph(
    x_shape: tuple[int, int, int, int], scale: float | None, out_scale: float | None = None
) -> Graph:
    n, c, h, w = x_shape
    out_scale = scale if out_scale is None else out_scale
    rq = None if scale is None else requant_per_channel([scale / (out_scale * h * w)])  # type: ignore[operator]
    op = GlobalAvgPool("gap", ("x",), "y", requant=rq)
    return single_op_graph(op, [act("x", x_shape, scale), act("y", (n, c, 1, 1), out_scale)], {})


def relu_graph(
    shape: tuple[int, ...], scale: float | None, lo: float | int = 0, hi: float | int | None = None
) -> Graph:
    op = Clamp("relu", ("x",), "y", min_value=lo, max_value=hi)
    return single_op_graph(op, [act("x", shape, scale), act("y", shape, scale)], {})
