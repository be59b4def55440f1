"""PPUAdd against the reference simulator: run_graph on hand-built Add graphs,
and sim.reference.round_shift on extreme multipliers and shifts."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pipeline_harness import assert_param_error, check_latency, run_stream

from dian.hwgen.rtl.ppu_add import PPUAdd
from dian.ir import Add, DType, Graph, QuantParams, Requant, Tensor, verify
from dian.sim.reference import round_shift, run_graph

M_MAX = 2**31 - 1


def add_graph(shape: tuple[int, ...], ma: int, mb: int, shift: int, lo: int, hi: int, subtract: bool = False) -> Graph:
    """``y = a + b`` (``a - b``) whose scales make (ma, mb, shift) exactly the requant the verifier wants."""

    def act(name: str, scale: float) -> Tensor:
        return Tensor(name, shape, DType.INT8, QuantParams.per_tensor(scale))

    op = Add("add", ("a", "b"), "y", requant=Requant((ma, mb), (shift,)), out_min=lo, out_max=hi, subtract=subtract)
    tensors = [act("a", ma / 2.0**shift), act("b", mb / 2.0**shift), act("y", 1.0)]
    return verify(Graph.build("g", tensors, {}, [op], ["a", "b"], ["y"]))


def pair_vectors(
    a_words: list[list[int]],
    b_words: list[list[int]],
    ma: int,
    mb: int,
    shift: int,
    lo: int,
    hi: int,
    subtract: bool = False,
) -> list[dict]:
    vecs = []
    for a, b in zip(a_words, b_words, strict=True):
        common = {"shift": shift, "lo": lo, "hi": hi, "subtract": int(subtract)}
        vecs += [dict(x=a, operand=0, mult=ma, **common), dict(x=b, operand=1, mult=mb, **common)]
    return vecs


@pytest.mark.parametrize(
    "lanes, relu, subtract", [(4, False, False), (8, True, False), (16, False, False), (8, False, True)]
)
def test_matches_run_graph(lanes: int, relu: bool, subtract: bool) -> None:
    rng = np.random.default_rng(lanes)
    shape = (1, 2 * lanes, 3, 3)  # two channel blocks of 3x3 pixels
    a = rng.integers(-128, 128, shape).astype(np.int8)
    b = rng.integers(-128, 128, shape).astype(np.int8)
    ma, mb = int(rng.integers(2**29, 2**31)), int(rng.integers(2**28, 2**31))
    shift, lo, hi = 31, (0 if relu else -128), 127
    want = run_graph(add_graph(shape, ma, mb, shift, lo, hi, subtract), {"a": a, "b": b})["y"]

    def words(t: np.ndarray) -> list[list[int]]:  # [N][CB][H][W][L] word order
        blocked = t.reshape(2, lanes, 3, 3).transpose(0, 2, 3, 1).reshape(-1, lanes)
        return [[int(v) for v in w] for w in blocked]

    vecs = pair_vectors(words(a), words(b), ma, mb, shift, lo, hi, subtract)
    results, issued = run_stream(PPUAdd(lanes), vecs, ["out"], gap_seed=lanes)
    check_latency(results, [e for e, v in zip(issued, vecs, strict=True) if v["operand"]], PPUAdd.LATENCY)
    assert [r.values["out"] for r in results] == words(want)
    assert len({v for r in results for v in r.values["out"]}) > 20  # not all saturated


@pytest.mark.parametrize("dsp", [None, 0, 5])
def test_extremes_against_round_shift(dsp: int | None) -> None:
    """Also with every (dsp=0) or some partial products in LUTs (hwgen/rtl/multiplier.py)."""
    rng = random.Random(5)
    lanes, vecs, want = 4, [], []
    for _ in range(200):
        a = [rng.choice([-128, 127, 0, -1, rng.randint(-128, 127)]) for _ in range(lanes)]
        b = [rng.choice([-128, 127, 0, 1, rng.randint(-128, 127)]) for _ in range(lanes)]
        ma, mb = rng.choice([0, 1, M_MAX, 2**30, rng.randint(0, M_MAX)]), rng.choice([0, M_MAX, rng.randint(0, M_MAX)])
        s = rng.choice([0, 1, 30, 31, 32, 38, 39, 62, rng.randint(0, 62)])
        if rng.random() < 0.2:  # exact ties: a*ma + b*mb = odd * 2**(s-1)
            s, mb = rng.randint(1, 20), 0
            a, ma = [2 * rng.randint(-64, 63) + 1 for _ in range(lanes)], 2 ** (s - 1)
        lo, hi = rng.choice([(-128, 127), (0, 127), (0, 6)])
        vecs += pair_vectors([a], [b], ma, mb, s, lo, hi)
        acc = np.asarray(a, np.int64) * ma + np.asarray(b, np.int64) * mb
        want.append([int(v) for v in np.clip(round_shift(acc, s), lo, hi)])
    results, _ = run_stream(PPUAdd(lanes, dsp=dsp), vecs, ["out"])
    assert [r.values["out"] for r in results] == want


def test_idle_cycles_between_operands_and_a_reused() -> None:
    """The pair is the latest a with the next b; idle cycles in between do not matter."""
    vecs = [
        {"x": [3, -3], "operand": 0, "mult": 1, "shift": 1, "lo": -128, "hi": 127},
        {"x": [0, 0], "operand": 0, "mult": 5, "shift": 1, "lo": -128, "hi": 127, "in_valid": 0},
        {"x": [100, 100], "operand": 1, "mult": 2, "shift": 1, "lo": -128, "hi": 127},
        {"x": [-1, 1], "operand": 1, "mult": 1, "shift": 1, "lo": -128, "hi": 127},
    ]
    results, _ = run_stream(PPUAdd(2), vecs, ["out"])
    # round_shift(3 + 200, 1) = 102, round_shift(-3 + 200, 1) = 99 (98.5 rounds up); then a again with b = -1, 1
    assert [r.values["out"] for r in results] == [[102, 99], [1, -1]]


def test_parameter_errors() -> None:
    assert_param_error(PPUAdd, {"lanes": 12}, "lanes must be a power of two from 2 to 64")
    assert_param_error(PPUAdd, {"lanes": 4, "dsp": 9}, "dsp must be None or an integer from 0 to 8")
