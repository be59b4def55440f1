"""The default scheduler: legal tilings for random layers on every preset,
tiling of layers that do not fit, the readable loop nest, and ScheduleError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from int_layers import ConvSpec, conv_graph, pool_graph, random_mac_params
from layer_cases import random_conv_spec
from machine_cases import CRAMPED

from dian.errors import ScheduleError
from dian.hwgen.accel_config import Dataflow
from dian.hwgen.lower.layout import blocks
from dian.hwgen.lower.scheduler import plan_graph, plan_op, schedule_graph
from dian.hwgen.lower.tile_search import halves, in_extent
from dian.hwgen.lower.workload import WorkKind
from dian.hwgen.presets import PRESETS
from dian.ir.schedule import Dim, Schedule

CONFIGS = [PRESETS["tiny"], PRESETS["small"], PRESETS["default"], CRAMPED]


def _assert_fits(plan, cfg) -> None:
    """Recompute every buffer need of the chosen tiling from the layer (independent of tile_search)."""
    w, t, L, h = plan.work, plan.tiling, cfg.lanes, halves(cfg)
    out_words = t.kt * t.ty * t.tx
    assert out_words <= h["obuf"]
    if w.kind is WorkKind.GEMM:
        assert 1 <= t.kt <= blocks(w.k, L) and 1 <= t.ct <= blocks(w.c, L)
        assert (
            t.ct
            * in_extent(t.ty, w.stride[0], t.fyt, w.dilation[0])
            * in_extent(t.tx, w.stride[1], t.fxt, w.dilation[1])
            <= h["ibuf"]
        )
        assert t.kt * t.ct * t.fyt * t.fxt * L <= h["wbuf"] and out_words <= h["abuf"] and t.kt <= h["pbuf"]
    assert 1 <= t.ty <= w.oy and 1 <= t.tx <= w.ox


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.name for c in CONFIGS])
def test_random_conv_layers_always_get_a_legal_schedule(cfg) -> None:
    @settings(max_examples=40, deadline=None)
    @given(seed=st.integers(0, 2**31))
    def check(seed: int) -> None:
        rng = np.random.default_rng(seed)
        spec = random_conv_spec(rng)
        if rng.random() < 0.3:  # and some big ones
            spec = ConvSpec(
                1,
                int(rng.integers(1, 300)),
                int(rng.integers(1, 300)),
                int(rng.integers(7, 60)),
                int(rng.integers(7, 60)),
                3,
                3,
                padding=(1, 1),
            )
        g = conv_graph(spec, random_mac_params(rng, spec.w_shape))
        plan = plan_op(g, g.ops[0], cfg)
        _assert_fits(plan, cfg)
        assert plan.schedule.prediction is not None and plan.schedule.prediction.cycles > 0

    check()


def test_layer_that_does_not_fit_is_tiled_along_rows_and_channels() -> None:
    spec = ConvSpec(1, 64, 64, 56, 56, 3, 3, padding=(1, 1))
    g = conv_graph(spec, random_mac_params(np.random.default_rng(0), spec.w_shape))
    plan = plan_op(g, g.ops[0], PRESETS["tiny"])
    m = plan.schedule.mapping
    tiles = -(-56 // m.tile(Dim.OY)) * -(-56 // m.tile(Dim.OX)) * -(-16 // m.tile(Dim.K))
    assert tiles > 8
    text = plan.schedule.format()
    assert text.startswith("conv  K=64 C=64 OY=56 OX=56 FY=3 FX=3  stride 1  array 4x4  dataflow gemm")
    assert "parfor c in 0..4 | k in 0..4" in text and "predicted" in text and "utilization" in text


def test_whole_kernel_too_big_for_wbuf_splits_the_taps() -> None:
    spec = ConvSpec(1, 3, 4, 13, 13, 7, 7, stride=(2, 2), padding=(3, 3))
    g = conv_graph(spec, random_mac_params(np.random.default_rng(0), spec.w_shape))
    t = plan_op(g, g.ops[0], CRAMPED).tiling  # WBUF half: 16 words = 4 blocks < 49 taps
    assert t.fyt * t.fxt * 4 <= halves(CRAMPED)["wbuf"] and (t.fyt, t.fxt) != (7, 7)


def test_small_layer_fits_in_one_tile() -> None:
    spec = ConvSpec(1, 16, 16, 8, 8, 3, 3, padding=(1, 1))
    g = conv_graph(spec, random_mac_params(np.random.default_rng(0), spec.w_shape))
    m = plan_op(g, g.ops[0], PRESETS["default"]).schedule.mapping
    assert (m.tile(Dim.K), m.tile(Dim.C), m.tile(Dim.OY), m.tile(Dim.OX)) == (1, 1, 8, 8)


def test_depthwise_uses_its_dataflow_or_falls_back_to_gemm() -> None:
    import dataclasses

    spec = ConvSpec(1, 8, 8, 9, 9, 3, 3, padding=(1, 1), groups=8)
    g = conv_graph(spec, random_mac_params(np.random.default_rng(0), spec.w_shape))
    assert plan_op(g, g.ops[0], PRESETS["tiny"]).schedule.mapping.dataflow == "depthwise"
    gemm_only = dataclasses.replace(PRESETS["tiny"], dataflows=(Dataflow.GEMM,))
    assert plan_op(g, g.ops[0], gemm_only).schedule.mapping.dataflow == "gemm"


def test_unschedulable_pooling_window_names_layer_needs_and_sizes() -> None:
    g = pool_graph("max", (1, 4, 40, 40), (30, 30), (1, 1), (0, 0), 0.05)
    with pytest.raises(ScheduleError) as e:
        plan_graph(g, PRESETS["tiny"])
    msg = str(e.value)
    assert "layer 'pool'" in msg and "needs 900 IBUF words" in msg and "IBUF half holds 512 words" in msg


def test_schedules_round_trip_through_json() -> None:
    spec = ConvSpec(2, 9, 6, 13, 7, 5, 3, stride=(3, 2), padding=(2, 1), dilation=(2, 1), groups=3)
    g = conv_graph(spec, random_mac_params(np.random.default_rng(0), spec.w_shape))
    for s in schedule_graph(g, PRESETS["small"]):
        assert Schedule.from_json(s.to_json()) == s
