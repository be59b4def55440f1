"""The mapper's plans (search/mapper.py map_graph, not the default scheduler's) in the Verilator
model of the ``small`` preset: a seeded random sample of the zoo nets' layers, each cut out as its
own graph and mapped, and the three small nets whole. Each run must give sim/reference's outputs
bit for bit, sim/machine's DRAM, cycles and counters, the exact cost model's counters
(rtl_check.rtl_mismatches) and the cycles the mapper's plans predict. The machine simulator and
the cost model share hwgen/timing.py; the RTL does not, so this is what anchors the mapper's
timing. Slow tier: about 2 minutes on this shared 2-core machine, most of it the Verilator build
of ``small`` (68 layers, 58 of them mapped differently from the default scheduler, ~1.8 M cycles;
then the three nets whole)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from machine_cases import zoo_graph
from rtl_check import rtl_mismatches
from tool_helpers import needs

from dian.hwgen import timing
from dian.hwgen.lower.scheduler import LayerPlan, plan_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph, Op, Reshape, verify
from dian.search.mapper import map_graph

SMALL = PRESETS["small"]
#: zoo nets and the input size they are traced at (None: the model's default input).
NETS = {"lenet": None, "resnet_small": None, "mobilenet_small": None, "resnet18": 64, "mobilenetv2": 64}
PER_NET = 16
SEED = 2027


@functools.cache
def _net(name: str) -> Graph:
    size = NETS[name]
    if size is None:
        return zoo_graph(name)
    from dian.frontend import calibration_samples, load_model, lower

    m = load_model(f"zoo:{name}")
    shape = (1, 3, size, size)
    return lower(m.module, shape, calibration_samples(m, shape, 8, 0), name)[1]


def _alone(g: Graph, op: Op) -> Graph:
    """``op`` as its own graph: its inputs the graph's inputs, its output the graph's output."""
    consts = {n: g.constants[n] for n in op.constants}
    ins = list(dict.fromkeys(op.inputs))
    names = [*dict.fromkeys([*ins, op.output]), *consts]
    return verify(Graph.build(op.name, [g.tensors[n] for n in names], consts, [op], ins, [op.output]))


def _sample(name: str) -> list[Op]:
    g = _net(name)
    ops = [op for op in g.ops if not isinstance(op, Reshape)]
    rng = np.random.default_rng([SEED, list(NETS).index(name)])
    picked = set(rng.choice(len(ops), size=min(PER_NET, len(ops)), replace=False).tolist())
    return [op for i, op in enumerate(ops) if i in picked]


def _key(p: LayerPlan) -> tuple:
    t = p.tiling
    return (p.work.kind, t.kt, t.ct, t.ty, t.tx, t.fyt, t.fxt, t.order)


def _problems(exe, g: Graph, plans: list[LayerPlan], seed: int) -> list[str]:  # type: ignore[no-untyped-def]
    problems, counters = rtl_mismatches(exe, SMALL, g, seed, plans)
    predicted = sum(p.schedule.prediction.cycles for p in plans) + timing.boot_cycles(SMALL) + timing.done_cycles(SMALL)
    if counters and counters["perf_cycles"] != predicted:
        problems.append(f"perf_cycles: RTL {counters['perf_cycles']} != the mapper's plans {predicted}")
    return [f"{g.name}: {p}" for p in problems]


@pytest.mark.slow
@needs("verilator")
@pytest.mark.parametrize("net", list(NETS))
def test_mapped_layers_in_verilator(accel_harness, net: str) -> None:  # type: ignore[no-untyped-def]
    exe = accel_harness(SMALL)
    problems, differ = [], 0
    for i, op in enumerate(_sample(net)):
        g = _alone(_net(net), op)
        plans = map_graph(g, SMALL)
        differ += [_key(p) for p in plans] != [_key(p) for p in plan_graph(g, SMALL)]
        problems += _problems(exe, g, plans, seed=i)
    assert not problems, f"{net} on small, mapped: " + "; ".join(problems)
    assert differ > 0, "no sampled layer is mapped differently from the default scheduler: a weak sample"


@pytest.mark.slow
@needs("verilator")
@pytest.mark.parametrize("net", ["lenet", "resnet_small", "mobilenet_small"])
def test_mapped_net_whole_in_verilator(accel_harness, net: str) -> None:  # type: ignore[no-untyped-def]
    """Every layer at its real chunk position: the mapper's per-layer predictions add up."""
    g = _net(net)
    problems = _problems(accel_harness(SMALL), g, map_graph(g, SMALL), seed=7)
    assert not problems, f"{net} on small, mapped: " + "; ".join(problems)
