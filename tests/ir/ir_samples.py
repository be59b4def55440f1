"""A small graph that uses every op kind, in float and integer form, built by hand.

x [1,3,9,11] -conv1 3x3 p1-> c1 [1,8,9,11] -relu-> r1 -maxpool k3 s2 p1-> p1 [1,8,5,6]
p1 -dw 3x3 p1 g8 (no bias)-> d1 [1,8,5,6];  p1 + d1 -add-> a1 [1,8,5,6] -prelu (8 slopes)-> a2
a2 * d1 -mul-> m1 [1,8,5,6]
m1 -avgpool k2 s1-> ap [1,8,4,5] -pw 1x1 8->4-> e1 [1,4,4,5]
concat(ap, e1) -> cat [1,12,4,5] -select channels (a shuffle)-> cs [1,12,4,5]
cs -interleave (one phase)-> cw -upsample x2-> u1 [1,12,8,10] -gap-> g1 [1,12,1,1]
g1 -reshape-> f1 [1,12] -fc-> y [1,5]
"""

from __future__ import annotations

import math

import numpy as np

from dian.ir import (
    Add,
    AvgPool2d,
    Clamp,
    Concat,
    Conv2d,
    DType,
    GlobalAvgPool,
    Graph,
    Interleave,
    Linear,
    MaxPool2d,
    Mul,
    Op,
    Pointwise,
    QuantParams,
    Requant,
    Reshape,
    SelectChannels,
    Tensor,
    Upsample,
)
from dian.ir.pointwise import build_table

ACT_SHAPES = {
    "x": (1, 3, 9, 11),
    "c1": (1, 8, 9, 11),
    "r1": (1, 8, 9, 11),
    "p1": (1, 8, 5, 6),
    "d1": (1, 8, 5, 6),
    "a1": (1, 8, 5, 6),
    "a2": (1, 8, 5, 6),
    "m1": (1, 8, 5, 6),
    "ap": (1, 8, 4, 5),
    "e1": (1, 4, 4, 5),
    "cat": (1, 12, 4, 5),
    "cs": (1, 12, 4, 5),
    "cw": (1, 12, 4, 5),
    "u1": (1, 12, 8, 10),
    "g1": (1, 12, 1, 1),
    "f1": (1, 12),
    "y": (1, 5),
}
ACT_SCALES = {
    "x": 0.05,
    "c1": 0.1,
    "r1": 0.1,
    "p1": 0.1,
    "d1": 0.08,
    "a1": 0.15,
    "a2": 0.11,
    "m1": 0.06,
    "ap": 0.12,
    "e1": 0.07,
    "cat": 0.13,
    "cs": 0.13,
    "cw": 0.13,
    "u1": 0.13,
    "g1": 0.09,
    "f1": 0.09,
    "y": 0.2,
}
WEIGHT_SHAPES = {"w1": (8, 3, 3, 3), "w2": (8, 1, 3, 3), "w3": (4, 8, 1, 1), "w4": (5, 12)}
BIAS_OF = {"w1": "b1", "w3": "b3", "w4": "b4"}  # the depthwise conv has no bias
SHUFFLE = tuple((j % 3) * 4 + j // 3 for j in range(12))  # 3 groups of 4 channels, interleaved
SLOPES = (0.25, -0.5, 0.0, 1.5, 0.1, 0.01, 2.0, -1.0)  # act1's PReLU, one per channel of a1


def multiplier(real: float) -> tuple[int, int]:
    frac, exp = math.frexp(real)
    m = round(frac * 2**31)
    if m == 2**31:
        m, exp = m // 2, exp + 1
    return m, 31 - exp


def requant(reals: list[float], shared_shift: bool = False) -> Requant:
    if shared_shift:
        _, s = multiplier(max(reals))
        return Requant(tuple(round(r * 2.0**s) for r in reals), (s,))
    ms, ss = zip(*(multiplier(r) for r in reals), strict=True)
    return Requant(tuple(ms), tuple(ss))


def _ops(rq: dict[str, Requant] | None) -> list[Op]:
    """The ops; ``rq`` holds the integer fields by op name (None: float graph)."""
    q = (lambda n: {"requant": rq[n], "out_min": -128, "out_max": 127}) if rq else (lambda n: {})
    pool_rq = (lambda n: {"requant": rq[n]}) if rq else (lambda n: {})
    return [
        Conv2d("conv1", ("x",), "c1", weight="w1", bias="b1", padding=(1, 1), **q("conv1")),
        Clamp("relu1", ("c1",), "r1", min_value=0 if rq else 0.0),
        MaxPool2d("pool1", ("r1",), "p1", kernel=(3, 3), stride=(2, 2), padding=(1, 1)),
        Conv2d("dw", ("p1",), "d1", weight="w2", padding=(1, 1), groups=8, **q("dw")),
        Add("add1", ("p1", "d1"), "a1", **q("add1")),
        Pointwise("act1", ("a1",), "a2", fn="prelu", params=SLOPES, table="t1" if rq else None),
        Mul("mul1", ("a2", "d1"), "m1", **q("mul1")),
        AvgPool2d("avg1", ("m1",), "ap", kernel=(2, 2), stride=(1, 1), **pool_rq("avg1")),
        Conv2d("pw", ("ap",), "e1", weight="w3", bias="b3", **q("pw")),
        Concat("cat1", ("ap", "e1"), "cat", axis=1, **pool_rq("cat1")),
        SelectChannels("shuffle", ("cat",), "cs", channels=SHUFFLE),
        Interleave("weave", ("cs",), "cw", factor=(1, 1), **pool_rq("weave")),
        Upsample("up1", ("cw",), "u1", scale=(2, 2)),
        GlobalAvgPool("gap", ("u1",), "g1", **pool_rq("gap")),
        Reshape("flat", ("g1",), "f1", shape=(1, 12)),
        Linear("fc", ("f1",), "y", weight="w4", bias="b4", **q("fc")),
    ]


def every_op_graph(integer: bool, seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    s = ACT_SCALES
    tensors: list[Tensor] = []
    constants: dict[str, np.ndarray] = {}
    w_scales: dict[str, tuple[float, ...]] = {}
    for name, shape in ACT_SHAPES.items():
        tensors.append(
            Tensor(name, shape, DType.INT8, QuantParams.per_tensor(s[name]))
            if integer
            else Tensor(name, shape, DType.FLOAT32)
        )
    for w, shape in WEIGHT_SHAPES.items():
        k = shape[0]
        if integer:
            w_scales[w] = tuple(float(v) for v in rng.uniform(0.005, 0.02, k))
            tensors.append(Tensor(w, shape, DType.INT8, QuantParams(w_scales[w], 0)))
            constants[w] = rng.integers(-128, 128, shape).astype(np.int8)
        else:
            tensors.append(Tensor(w, shape, DType.FLOAT32))
            constants[w] = rng.standard_normal(shape).astype(np.float32)
        if w in BIAS_OF:
            b = BIAS_OF[w]
            tensors.append(Tensor(b, (k,), DType.INT32 if integer else DType.FLOAT32))
            constants[b] = (
                rng.integers(-5000, 5000, k).astype(np.int32) if integer else rng.standard_normal(k).astype(np.float32)
            )
    rq = None
    if integer:
        constants["t1"] = build_table("prelu", SLOPES, s["a1"], s["a2"])
        tensors.append(Tensor("t1", (8, 256), DType.INT8))

        def mac(x: str, w: str, y: str) -> Requant:
            return requant([s[x] * ws / s[y] for ws in w_scales[w]])

        rq = {
            "conv1": mac("x", "w1", "c1"),
            "dw": mac("p1", "w2", "d1"),
            "pw": mac("ap", "w3", "e1"),
            "fc": mac("f1", "w4", "y"),
            "add1": requant([s["p1"] / s["a1"], s["d1"] / s["a1"]], shared_shift=True),
            "mul1": requant([s["a2"] * s["d1"] / s["m1"]]),
            "avg1": requant([s["m1"] / (s["ap"] * 4)]),
            "cat1": requant([s["ap"] / s["cat"], s["e1"] / s["cat"]]),
            "weave": requant([1.0]),
            "gap": requant([s["u1"] / (s["g1"] * 80)]),
        }
    return Graph.build(
        "every_op_" + ("int" if integer else "float"),
        tensors,
        constants,
        _ops(rq),
        ["x"],
        ["y"],
        {"source": "tests/ir/ir_samples.py"},
    )
