"""The cost model on configs with a fusion buffer (search/fused_cost.py, cost_model.network_cost,
mapper.map_graph) against sim/machine, on programs whose outputs sim/reference confirms bit for
bit: every counter of fused MobileNetV2-style nets, random block shapes and tilings and FBUF sizes,
and the mapper's predictions summing to the machine's cycles."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from machine_cases import CRAMPED
from test_machine_fusion import check_fused, fused_cases, mobilenetv2, three_blocks, with_fbuf

from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig, BufferConfig, validate
from dian.hwgen.lower.fusion import FusedTiling, choose_tiling, fits
from dian.hwgen.lower.layout import blocks
from dian.hwgen.lower.scheduler import plan_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph
from dian.search.cost_model import NetworkCost, network_cost
from dian.search.mapper import map_graph
from dian.sim.machine.engines import Counters

FIELDS = ("cycles", "dram_read", "dram_write", "busy_pe", "instructions", "chunks")


def _machine(c: Counters) -> tuple[int, ...]:
    return c.cycles, c.dram_bytes_read, c.dram_bytes_written, c.busy_pe_cycles, c.instructions, c.chunks


def _model(nc: NetworkCost) -> tuple[int, ...]:
    return tuple(int(getattr(nc, f)) for f in FIELDS)


def _run_exact(g: Graph, cfg: AccelConfig, plans, tiling=None):  # type: ignore[no-untyped-def]
    """Lower ``g`` with ``plans``, run it on sim/machine, assert every tensor that reaches DRAM equals
    sim/reference's; the lowering and the counters."""
    return check_fused(g, cfg, tiling, seed=1, plans=plans)


def _cramped_fbuf() -> AccelConfig:
    unit = CRAMPED.word_bytes * CRAMPED.ibuf_banks
    return validate(dataclasses.replace(CRAMPED, fbuf=BufferConfig(unit * (CRAMPED.ibuf.bytes // unit))))


@pytest.mark.parametrize(
    ("preset", "nbytes"), [("tiny", 4096), ("small", 8192), ("small", 16384), ("default", 32768), ("cramped", 0)]
)
def test_network_cost_of_fused_blocks_equals_the_machine(preset: str, nbytes: int) -> None:
    """Three inverted residual blocks (two with the add), mapped, lowered with the timed fusion
    choice and run: the cost model's counters are the machine's, and it fuses the same blocks."""
    g = three_blocks()
    cfg = _cramped_fbuf() if preset == "cramped" else with_fbuf(preset, nbytes)
    plans = map_graph(g, cfg)
    low, counters = _run_exact(g, cfg, plans)
    nc = network_cost(g, cfg, plans)
    assert _model(nc) == _machine(counters)
    assert nc.fused == tuple(b.name for b, _ in low.fused)
    if preset in ("small", "default"):
        assert len(nc.fused) == 3  # these configs fuse every block (the machine's cycles fall)


def test_mobilenetv2_96_on_default_with_fbuf() -> None:
    """MobileNetV2 at 96: 17 fused blocks, bit-exact, every counter as the machine's, and cheaper than
    the same plans without the fusion buffer by the cost model's own reckoning of both."""
    g = mobilenetv2(96)
    cfg = with_fbuf("default", 32768)
    plans = map_graph(g, cfg)
    _, counters = _run_exact(g, cfg, plans)
    nc = network_cost(g, cfg, plans)
    assert _model(nc) == _machine(counters)
    assert len(nc.fused) > 10
    assert nc.cycles < network_cost(g, PRESETS["default"], map_graph(g, PRESETS["default"])).cycles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fused_cases())
def test_random_blocks_tilings_and_fbuf_sizes(case) -> None:  # type: ignore[no-untyped-def]
    """A random block (shape, stride, expansion, 3x3 or 5x5), preset, FBUF size and a random legal
    fused tiling: the cost model's counters are the machine's on a program sim/reference confirms."""
    g, cfg, frac = case

    def pick(dw, pw, add, cfg_):  # type: ignore[no-untyped-def]
        L = cfg_.lanes
        kbe, kbo = blocks(dw.k, L), blocks(pw.k, L)
        r, ct, kt, pct = (1 + int(f * (n - 1)) for f, n in zip(frac, (dw.oy, kbe, min(kbo, 16), kbe), strict=False))
        t = FusedTiling(r, ct, kt, pct, pipelined=frac[4] > 0)
        return t if fits(dw, pw, add, t, cfg_) else choose_tiling(dw, pw, add, cfg_)

    plans = plan_graph(g, cfg)
    low, counters = _run_exact(g, cfg, plans, pick)
    nc = network_cost(g, cfg, plans, tiling=pick)
    assert _model(nc) == _machine(counters)
    assert len(nc.fused) == len(low.fused)


@pytest.mark.parametrize(("preset", "nbytes"), [("small", 8192), ("default", 32768)])
def test_mapper_predictions_sum_to_the_machine(preset: str, nbytes: int) -> None:
    """The mapper's plans predict a fused block's exact share on its depthwise layer and nothing on
    its projection and add: with boot and done, they sum to the machine's cycles and DRAM bytes."""
    g = three_blocks()
    cfg = with_fbuf(preset, nbytes)
    plans = map_graph(g, cfg)
    low, c = _run_exact(g, cfg, plans)
    assert low.fused, "the case should fuse a block"
    preds = [p.schedule.prediction for p in plans]
    assert all(p is not None for p in preds)
    cycles = sum(p.cycles for p in preds if p is not None) + timing.boot_cycles(cfg) + timing.done_cycles(cfg)
    read = sum(p.dram_bytes_read for p in preds if p is not None) + timing.boot_bytes(cfg)
    written = sum(p.dram_bytes_written for p in preds if p is not None)
    assert (cycles, read, written) == (c.cycles, c.dram_bytes_read, c.dram_bytes_written)
    inside = {w.op.name for b, _ in low.fused for w in (b.project, b.add) if w is not None}
    assert inside and all(p.schedule.prediction.cycles == 0 for p in plans if p.work.op.name in inside)  # type: ignore[union-attr]


def _fbuf_bytes_by_hand(g: Graph, cfg: AccelConfig, nc: NetworkCost) -> dict[str, int]:
    """Each fused block's FBUF traffic from its shapes: the depthwise output written once and read by
    every projection output block, and with an add the projection's output written and read once."""
    L = cfg.lanes
    out = {}
    for name in nc.fused:
        dw_name, pw_name = name.split("+")[:2]
        dw = g.tensors[next(op.output for op in g.ops if op.name == dw_name)]
        pw = g.tensors[next(op.output for op in g.ops if op.name == pw_name)]
        _, ke, oy, ox = dw.shape
        ko = pw.shape[1]
        band = blocks(ke, L) * L * oy * ox
        out[dw_name] = band + blocks(ko, L) * band + (2 * blocks(ko, L) * L * oy * ox if name.count("+") == 2 else 0)
    return out


@pytest.mark.parametrize(("preset", "nbytes"), [("small", 8192), ("default", 32768)])
def test_energy_charges_fbuf_traffic_and_less_dram(preset: str, nbytes: int) -> None:
    """A fused block's energy counts its FBUF bytes (as hand-counted from the block's shapes) and the
    network's energy falls with its DRAM traffic."""
    g = three_blocks()
    cfg = with_fbuf(preset, nbytes)
    nc = network_cost(g, cfg, map_graph(g, cfg))
    want = _fbuf_bytes_by_hand(g, cfg, nc)
    got = {n: int(c.sram_bytes["fbuf"][0]) for n, c in nc.layers.items() if n in want}
    assert got == want
    plain = network_cost(g, PRESETS[preset], map_graph(g, PRESETS[preset]))
    assert nc.dram_read + nc.dram_write < plain.dram_read + plain.dram_write
    assert nc.energy_pj < plain.energy_pj


def test_without_fbuf_nothing_is_priced_fused() -> None:
    g = three_blocks()
    plans = map_graph(g, PRESETS["default"])
    nc = network_cost(g, PRESETS["default"], plans)
    assert nc.fused == () and all("fbuf" not in c.sram_bytes for c in nc.layers.values())
    assert [p.schedule for p in plans] == [p.schedule for p in plan_graph(g, PRESETS["default"], _mapper(g))]


def _mapper(g: Graph):  # type: ignore[no-untyped-def]
    from dian.search.mapper import Mapper

    return Mapper(g, PRESETS["default"])


def test_explore_prices_a_given_fbuf_config_and_may_choose_it() -> None:
    """The drawn configs have no FBUF; a given one is priced exactly (the machine's cycles on the
    program its mapping lowers to), faster than without its FBUF, and competes: the RTL builds it."""
    from dian.hwgen.targets import Target
    from dian.search.explore import choose, evaluate, explore

    g = three_blocks()
    cfg = with_fbuf("small", 8192)
    designs = explore(g, Target.ECP5_85K, "latency", trials=3, seed=0, extra=[cfg])
    assert [d.trial for d in designs] == [0, 1, 2, 3]
    assert all(d.cfg.fbuf.bytes == 0 for d in designs[:3])
    given = designs[-1]
    assert (given.cfg, given.fits, given.why) == (cfg, True, "")
    _, counters = _run_exact(g, cfg, map_graph(g, cfg, "latency", top_k=16))
    assert given.cycles == counters.cycles
    assert given.cycles < evaluate(g, PRESETS["small"], 9, "latency").cycles
    assert choose([given, evaluate(g, PRESETS["small"], 9, "latency")], "latency") is given


def test_dian_explore_prices_a_config_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`dian explore --price FILE`: the file's design (tiny with an FBUF, which fits ecp5-25k) is
    listed and priced, and competes with the trials."""
    import json

    from dian.explore import explore_model

    path = tmp_path / "fused.json"
    path.write_text(with_fbuf("tiny", 2048).to_json())
    out = tmp_path / "ex"
    res = explore_model(
        "zoo:lenet", (1, 1, 8, 8), out, "ecp5-25k", trials=6, seed=1, calib_samples=8, rtl=False, price=(str(path),)
    )
    docs = json.loads((out / "explore/designs.json").read_text())
    assert len(docs) == 7 and docs[-1]["config"]["fbuf"] == {"bytes": 2048} and docs[-1]["fits"]
    assert docs[-1]["cycles"] > 0 and res.chosen.cfg.name in [d["config"]["name"] for d in docs if d["fits"]]
    assert "Priced, not chosen" not in (out / "explore/pareto.md").read_text()


def test_the_co_search_tables_refuse_an_fbuf_config() -> None:
    from dian.errors import AccelConfigError
    from dian.nas.costs import graph_costs

    with pytest.raises(AccelConfigError, match="fusion buffer"):
        graph_costs([three_blocks()], with_fbuf("small", 8192))
