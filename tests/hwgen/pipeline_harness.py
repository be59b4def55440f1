"""Drive a pipelined Amaranth component with a stream of input vectors and
collect what comes out, with the cycle each result appeared (amaranth.sim,
async testbench; Amaranth 0.5 API)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from amaranth.sim import Simulator


@dataclass
class Result:
    cycle: int  # index of the clock edge after which the output was seen
    values: dict[str, Any]


def to_py(value: Any) -> Any:
    """An ArrayLayout const (possibly nested) as nested lists of ints; ints as is."""
    if isinstance(value, int):
        return value
    try:
        return [to_py(v) for v in value]
    except TypeError:
        return int(value)


def run_stream(
    dut: Any,
    vectors: Sequence[dict[str, Any]],
    outputs: Sequence[str],
    *,
    valid_in: str = "in_valid",
    valid_out: str = "out_valid",
    gap_seed: int | None = None,
    drain: int = 12,
    idle: dict[str, Any] | None = None,
) -> tuple[list[Result], list[int]]:
    """Feed ``vectors`` (port name -> value) one per cycle with ``valid_in`` high
    unless the vector sets it to 0 (with random idle cycles, which set the
    ``idle`` values, in between when ``gap_seed`` is given), then ``drain``
    idle cycles. Returns the outputs seen while ``valid_out`` was high
    and the edge index at which each vector was sampled."""
    rng = random.Random(gap_seed)
    results: list[Result] = []
    issued: list[int] = []

    async def testbench(ctx) -> None:
        edge = 0
        pending = list(vectors)
        while pending or drain_left[0] > 0:
            if pending and (gap_seed is None or rng.random() < 0.75):
                vector = {valid_in: 1, **pending.pop(0)}
                for name, value in vector.items():
                    ctx.set(getattr(dut, name), value)
                if vector[valid_in]:
                    issued.append(edge)
            else:
                for name, value in (idle or {}).items():
                    ctx.set(getattr(dut, name), value)
                ctx.set(getattr(dut, valid_in), 0)
                if not pending:
                    drain_left[0] -= 1
            await ctx.tick()
            if ctx.get(getattr(dut, valid_out)):
                results.append(Result(edge, {n: to_py(ctx.get(getattr(dut, n))) for n in outputs}))
            edge += 1

    drain_left = [drain]
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return results, issued


def check_latency(results: list[Result], issued: list[int], latency: int) -> None:
    """One result per vector, each ``latency`` edges after its vector was sampled."""
    assert len(results) == len(issued), f"{len(issued)} vectors in, {len(results)} results out"
    got = [r.cycle - i + 1 for r, i in zip(results, issued, strict=True)]
    assert set(got) == {latency}, f"latencies seen {sorted(set(got))}, LATENCY says {latency}"


def signed_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def edge_biased(rng: random.Random, lo: int, hi: int, edges: Callable[[], list[int]] | None = None) -> int:
    """A random integer in [lo, hi], one time in four an extreme or near-extreme."""
    if rng.random() < 0.25:
        return rng.choice([lo, lo + 1, hi - 1, hi, 0, -1 if lo < 0 else 1] + (edges() if edges else []))
    return rng.randint(lo, hi)


def assert_param_error(cls: Any, kwargs: dict[str, Any], message: str) -> None:
    """``cls(**kwargs)`` raises ValueError/TypeError matching ``message``; the
    half-built component's UnusedElaboratable warning is swallowed."""
    import gc
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cls(**kwargs)
        except (ValueError, TypeError) as e:
            assert re.search(message, str(e)), f"{e!s} does not match {message!r}"
        else:
            raise AssertionError(f"{cls.__name__}(**{kwargs}) did not raise")
        gc.collect()
