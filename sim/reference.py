"""The golden model: executes a Graph exactly.

For the integer graph this *is* dian's arithmetic contract (ir/ops.py): every
later model of the hardware — the machine simulator, the RTL — must match it
bit for bit. For the float graph it is a plain float32 interpreter, used for
calibration and to check the frontend against PyTorch.

Integer execution: conv/linear accumulate exactly (see windows.py for why
float64 is exact here) into int64, the bias is added, every accumulator is
checked against the ``acc_bits`` range, then requantized with
``round_shift(acc * M, s)`` (round half up) and clamped; a pointwise function
is a lookup in its int8 table. The host-side steps
— quantizing the float input and dequantizing the output — are
:func:`quantize_input` and :func:`dequantize_output`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from dian.errors import InputShapeError, IRValidationError
from dian.ir import (
    DEFAULT_ACC_BITS,
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    GlobalAvgPool,
    Graph,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    Pointwise,
    Requant,
    Reshape,
    SelectChannels,
    Upsample,
)
from dian.ir.pointwise import evaluate

from . import windows

INT8_MIN, INT8_MAX = -128, 127


def quantize_input(x: np.ndarray, scale: float) -> np.ndarray:
    """Host-side input quantization: ``clip(round_half_even(x / scale), -128, 127)``
    as int8 (the same rounding as ``torch.quantize_per_tensor``)."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) / scale), INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize_output(q: np.ndarray, scale: float) -> np.ndarray:
    """Host-side output dequantization: ``q * scale`` as float32."""
    return (q.astype(np.float64) * scale).astype(np.float32)


def round_shift(x: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """``floor((x + 2**(s-1)) / 2**s)`` for s > 0, ``x`` for s == 0 (int64, arithmetic shift)."""
    s = np.asarray(shift, dtype=np.int64)
    half = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    return np.right_shift(x + half, s)


def requantize(acc: np.ndarray, rq: Requant, channel_axis: int, lo: int, hi: int) -> np.ndarray:
    """``clamp(round_shift(acc * M, s), lo, hi)`` with M, s per channel along ``channel_axis``
    (or per tensor when ``rq`` has one entry); int64 in, int8 out."""
    shape = [1] * acc.ndim
    if len(rq) > 1:
        shape[channel_axis] = len(rq)
    m = np.asarray(rq.multiplier, dtype=np.int64).reshape(shape)
    s = np.asarray(rq.shift, dtype=np.int64).reshape(shape)
    return np.clip(round_shift(acc.astype(np.int64) * m, s), lo, hi).astype(np.int8)


def _check_acc(op: Op, acc: np.ndarray, acc_bits: int) -> None:
    limit = 2 ** (acc_bits - 1)
    worst = int(np.abs(acc).max(initial=0))
    if worst >= limit:
        raise IRValidationError(
            f"{op.kind.value} op '{op.name}': an accumulator reached {worst} on this input; "
            f"the {acc_bits}-bit accumulator holds magnitudes below {limit}."
        )


class ReferenceInterpreter:
    """Walks a Graph in order, one method per op kind (the torch.fx Interpreter pattern)."""

    def __init__(self, graph: Graph, acc_bits: int = DEFAULT_ACC_BITS) -> None:
        self.graph = graph
        self.integer = graph.is_quantized
        self.acc_bits = acc_bits
        self._compute = np.float64 if self.integer else np.float32
        self._dispatch: dict[type[Op], Callable[..., np.ndarray]] = {
            Conv2d: self._conv2d,
            Linear: self._linear,
            Add: self._add,
            Clamp: self._clamp,
            MaxPool2d: self._maxpool,
            AvgPool2d: self._avgpool,
            GlobalAvgPool: self._global_avgpool,
            Reshape: self._reshape,
            Concat: self._concat,
            Pointwise: self._pointwise,
            Mul: self._mul,
            Upsample: self._upsample,
            SelectChannels: self._select_channels,
            Interleave: self._interleave,
        }

    def run(self, inputs: Mapping[str, np.ndarray], keep_all: bool = False) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = {}
        want = np.int8 if self.integer else np.float32
        for name in self.graph.inputs:
            if name not in inputs:
                raise InputShapeError(f"graph '{self.graph.name}' needs input '{name}'; given {sorted(inputs)}.")
            x = np.asarray(inputs[name])
            spec = self.graph.tensors[name]
            if tuple(x.shape) != spec.shape:
                raise InputShapeError(
                    f"input '{name}' has shape {list(x.shape)}; the graph was compiled for {list(spec.shape)}."
                )
            if self.integer and x.dtype != np.int8:
                raise InputShapeError(
                    f"input '{name}' is {x.dtype}; the integer graph takes int8 "
                    f"(quantize float data with quantize_input first)."
                )
            env[name] = x.astype(want, copy=False)
        for op in self.graph.ops:
            env[op.output] = self._dispatch[type(op)](op, *[env[i] for i in op.inputs])
        if keep_all:
            return env
        return {n: env[n] for n in self.graph.outputs}

    # -- helpers -------------------------------------------------------------
    def _const(self, name: str) -> np.ndarray:
        return self.graph.constants[name].astype(self._compute)

    def _finish_mac(self, op: Conv2d | Linear, acc: np.ndarray, biased: bool = False) -> np.ndarray:
        """Bias (unless ``biased``: already added), then float32 out or the integer requantization."""
        channel_axis = 1
        if op.bias is not None and not biased:
            b = self._const(op.bias)
            acc = acc + b.reshape((1, -1) + (1,) * (acc.ndim - 2))
        if not self.integer:
            return acc.astype(np.float32, copy=False)
        acc = acc.astype(np.int64)
        _check_acc(op, acc, self.acc_bits)
        return requantize(acc, op.requant, channel_axis, op.out_min, op.out_max)  # type: ignore[arg-type]

    # -- op kinds -------------------------------------------------------------
    def _conv2d(self, op: Conv2d, x: np.ndarray) -> np.ndarray:
        bias = None if op.bias is None else self._const(op.bias)
        acc = windows.conv2d(
            x.astype(self._compute, copy=False),
            self._const(op.weight),
            op.stride,
            op.padding,
            op.dilation,
            op.groups,
            bias,
        )
        return self._finish_mac(op, acc, biased=True)

    def _linear(self, op: Linear, x: np.ndarray) -> np.ndarray:
        return self._finish_mac(op, x.astype(self._compute) @ self._const(op.weight).T)

    def _add(self, op: Add, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        sign = -1 if op.subtract else 1
        if not self.integer:
            return a + sign * b
        ma, mb = op.requant.multiplier  # type: ignore[union-attr]
        acc = a.astype(np.int64) * ma + sign * (b.astype(np.int64) * mb)
        return np.clip(round_shift(acc, op.requant.shift[0]), op.out_min, op.out_max).astype(np.int8)  # type: ignore[union-attr]

    def _mul(self, op: Mul, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``a * b`` (``b`` an [N, C, 1, 1] gate broadcasts over the plane); integer: the int16
        product rescaled with one rounding, then clamped."""
        if not self.integer:
            return (a * b).astype(np.float32)
        return requantize(a.astype(np.int64) * b.astype(np.int64), op.requant, 1, op.out_min, op.out_max)  # type: ignore[arg-type]

    def _clamp(self, op: Clamp, x: np.ndarray) -> np.ndarray:
        lo = -np.inf if op.min_value is None else op.min_value
        hi = np.inf if op.max_value is None else op.max_value
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def _maxpool(self, op: MaxPool2d, x: np.ndarray) -> np.ndarray:
        pad = INT8_MIN if self.integer else -np.inf
        if op.ceil_mode:  # the windows hanging past the bottom and right edges see padding there
            out = self.graph.tensors[op.output].shape[2:]
            extra = [
                max(0, (o - 1) * s + k - (n + 2 * p))
                for o, s, k, n, p in zip(out, op.stride, op.kernel, x.shape[2:], op.padding, strict=True)
            ]
            x = np.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])), constant_values=pad)
        return windows.window_reduce(x, op.kernel, op.stride, op.padding, pad, "max")

    def _pool_sum_finish(self, op: AvgPool2d | GlobalAvgPool, total: np.ndarray, window: int) -> np.ndarray:
        if not self.integer:
            return (total / window).astype(np.float32)
        return requantize(total.astype(np.int64), op.requant, 1, INT8_MIN, INT8_MAX)  # type: ignore[arg-type]

    def _avgpool(self, op: AvgPool2d, x: np.ndarray) -> np.ndarray:
        total = windows.window_reduce(x.astype(self._compute), op.kernel, op.stride, op.padding, 0, "sum")
        return self._pool_sum_finish(op, total, op.kernel[0] * op.kernel[1])

    def _global_avgpool(self, op: GlobalAvgPool, x: np.ndarray) -> np.ndarray:
        total = x.astype(self._compute).sum(axis=(2, 3), keepdims=True)
        return self._pool_sum_finish(op, total, x.shape[2] * x.shape[3])

    def _upsample(self, op: Upsample, x: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(x, op.scale[0], axis=2), op.scale[1], axis=3)

    def _select_channels(self, op: SelectChannels, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x[:, list(op.channels)])

    def _reshape(self, op: Reshape, x: np.ndarray) -> np.ndarray:
        return x.reshape(op.shape)

    def _rescaled(self, op: Concat | Interleave, xs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """Each input at the output scale: ``clamp(round_shift(x * M_i, s_i))`` (integer graph)."""
        if not self.integer:
            return xs
        rq: Requant = op.requant  # type: ignore[assignment]
        return tuple(
            np.clip(round_shift(x.astype(np.int64) * m, s), INT8_MIN, INT8_MAX).astype(np.int8)
            for x, m, s in zip(xs, rq.multiplier, rq.shift, strict=True)
        )

    def _concat(self, op: Concat, *xs: np.ndarray) -> np.ndarray:
        return np.concatenate(self._rescaled(op, xs), axis=op.axis)

    def _interleave(self, op: Interleave, *xs: np.ndarray) -> np.ndarray:
        f0, f1 = op.factor
        parts = self._rescaled(op, xs)
        n, c = parts[0].shape[:2]
        h, w = sum(parts[a * f1].shape[2] for a in range(f0)), sum(parts[b].shape[3] for b in range(f1))
        y = np.zeros((n, c, h, w), parts[0].dtype)
        for i, x in enumerate(parts):
            y[:, :, i // f1 :: f0, i % f1 :: f1] = x
        return y

    def _pointwise(self, op: Pointwise, x: np.ndarray) -> np.ndarray:
        if not self.integer:
            return evaluate(op.fn, op.params, x).astype(np.float32)
        table = self.graph.constants[op.table]  # type: ignore[index]
        index = x.astype(np.int16) - INT8_MIN
        if table.shape[0] == 1:
            return table[0][index]
        rows = np.arange(table.shape[0]).reshape((1, -1) + (1,) * (x.ndim - 2))  # one row per channel
        return table[rows, index]


def run_graph(
    graph: Graph, inputs: Mapping[str, np.ndarray], keep_all: bool = False, acc_bits: int = DEFAULT_ACC_BITS
) -> dict[str, np.ndarray]:
    """Execute ``graph`` on ``inputs`` (by input name). Returns the graph outputs by
    name, or every activation tensor when ``keep_all`` (for calibration and for
    locating the first differing layer when another model disagrees)."""
    return ReferenceInterpreter(graph, acc_bits).run(inputs, keep_all)
