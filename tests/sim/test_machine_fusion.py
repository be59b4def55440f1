"""Fused MobileNetV2 blocks (hwgen/lower/fusion.py, fused_steps.py; docs/accelerator.md, "Fusion
buffer") on sim/machine, bit for bit against sim/reference: the depthwise output (and the
projection's before a residual add) stays in FBUF and never reaches DRAM, every tensor that does
reach DRAM equals the reference's; random block shapes, band and group sizes and FBUF sizes."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np
import pytest
import torch.nn as nn
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from machine_cases import CRAMPED, check_machine, random_inputs, zoo_graph

from dian.frontend import lower
from dian.frontend.zoo.mobilenetv2 import Conv2dNormActivation, InvertedResidual
from dian.frontend.zoo.seeding import batchnorm_from_data, seeded
from dian.hwgen import timing
from dian.hwgen.accel_config import AccelConfig, BufferConfig, validate
from dian.hwgen.isa import AddI, Dw, Gemm
from dian.hwgen.lower.fusion import FusedTiling, TilingChooser, candidate_tilings, choose_tiling, fits
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.lower.layout import blocks
from dian.hwgen.lower.program_timing import program_cycles
from dian.hwgen.lower.workload import WorkKind
from dian.hwgen.presets import PRESETS
from dian.ir import Graph
from dian.sim.machine import run_lowered
from dian.sim.reference import run_graph


def with_fbuf(name: str, nbytes: int) -> AccelConfig:
    return validate(dataclasses.replace(PRESETS[name], fbuf=BufferConfig(nbytes))) if nbytes else PRESETS[name]


class _Block(nn.Module):
    """An inverted residual block with a ``kernel`` x ``kernel`` depthwise conv (MobileNetV2's is 3,
    EfficientNet's and MobileNetV3's also 5): expand 1x1, depthwise, project 1x1, residual add."""

    def __init__(self, c: int, k: int, stride: int, t: int, kernel: int) -> None:
        super().__init__()
        e = c * t
        layers: list[nn.Module] = [Conv2dNormActivation(c, e, kernel_size=1)] if t > 1 else []
        layers += [
            nn.Conv2d(e, e, kernel, stride, kernel // 2, groups=e, bias=False),
            nn.BatchNorm2d(e),
            nn.ReLU6(),
            nn.Conv2d(e, k, 1, bias=False),
            nn.BatchNorm2d(k),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and c == k

    def forward(self, x):  # type: ignore[no-untyped-def]
        return x + self.conv(x) if self.residual else self.conv(x)


def stem_and_blocks(
    stem: int, make_blocks: Callable[[], list[nn.Module]], h: int, w: int, seed: int, name: str
) -> Graph:
    """A stem conv (3 -> ``stem``) and the blocks ``make_blocks`` builds, seeded, with MobileNetV2's
    conv initialisation and batch-norm statistics from data, through dian's frontend."""
    with seeded(seed):
        blocks = make_blocks()
        m = nn.Sequential(Conv2dNormActivation(3, stem), *blocks)
        for mod in m.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out")
        m = batchnorm_from_data(m, (8, 3, h, w)).eval()
    calib = np.random.default_rng(seed).standard_normal((8, 3, h, w)).astype(np.float32)
    return lower(m, (1, 3, h, w), calib, name)[1]


@functools.cache
def block_net(c: int, k: int, h: int, w: int, stride: int, t: int = 6, kernel: int = 3, seed: int = 0) -> Graph:
    """A stem conv (3 -> c) and one inverted residual block (c -> k, expansion ``t``, a ``kernel``
    wide depthwise conv), through dian's frontend: the residual add when stride 1 and c == k."""

    def block() -> list[nn.Module]:
        return [InvertedResidual(c, k, stride, t) if kernel == 3 else _Block(c, k, stride, t, kernel)]

    return stem_and_blocks(c, block, h, w, seed, f"block{c}x{k}s{stride}k{kernel}")


@functools.cache
def three_blocks() -> Graph:
    """Stem, then blocks with a residual (16 -> 16), a stride 2 (16 -> 24) and a residual (24 -> 24)."""

    def blocks() -> list[nn.Module]:
        return [InvertedResidual(16, 16, 1, 6), InvertedResidual(16, 24, 2, 6), InvertedResidual(24, 24, 1, 6)]

    return stem_and_blocks(16, blocks, 20, 20, 0, "three_blocks")


def _depthwise_outputs(g: Graph) -> set[str]:
    return {op.output for op in g.ops if getattr(op, "groups", 1) > 1}


def check_fused(  # type: ignore[no-untyped-def]
    g: Graph, cfg: AccelConfig, tiling: TilingChooser | None = choose_tiling, seed: int = 0, plans=None
):
    """Lower ``g`` (with ``plans``, else the scheduler's) with every block fused by ``tiling`` (None:
    the timed choice), run it and assert every tensor that reaches DRAM equals sim/reference's; the
    lowering and the counters."""
    x = random_inputs(g, seed)
    low = lower_graph(g, cfg, plans, tiling=tiling)
    res = run_lowered(low, x)
    ref = run_graph(g, x, keep_all=True)
    for op in g.ops:
        if op.output in low.slots:
            got, want = low.read_tensor(res.dram, op.output), ref[op.output]
            assert np.array_equal(got, want), f"{op.name}: {int((got != want).sum())} of {got.size} differ"
    return low, res.counters


@pytest.mark.parametrize(("preset", "nbytes"), [("tiny", 4096), ("small", 8192), ("default", 32768)])
def test_three_blocks_fused_are_exact(preset: str, nbytes: int) -> None:
    g = three_blocks()
    low, counters = check_fused(g, with_fbuf(preset, nbytes))
    hidden = {op.output for op in g.ops} - set(low.slots)
    dw = _depthwise_outputs(g)
    assert dw <= hidden  # every depthwise output stayed on chip
    assert len(hidden) == 5  # and the two residual blocks' projections: 3 DW outputs + 2
    instrs = [i for c in low.program.chunks for i in c.cmp]
    assert sum(isinstance(i, Dw) and i.ofb == 1 for i in instrs) > 0
    assert sum(isinstance(i, Gemm) and i.sfb == 1 for i in instrs) > 0
    assert sum(isinstance(i, AddI) and i.bfb == 1 for i in instrs) > 0
    # Less DRAM traffic than the same program without fusion: the inner tensors never cross it.
    plain = check_machine(g, PRESETS[preset])
    assert counters.dram_bytes_written < plain.counters.dram_bytes_written


@pytest.mark.parametrize(("preset", "nbytes"), [("tiny", 4096), ("small", 8192), ("default", 32768)])
def test_the_timed_choice_fuses_only_what_gets_faster(preset: str, nbytes: int) -> None:
    """Each block runs fused only when its timed fused form beats its layers unfused, so the network
    is never slower than without FBUF; on default (memory-bound DW) every block fuses and gains."""
    g = three_blocks()
    low, counters = check_fused(g, with_fbuf(preset, nbytes), tiling=None)
    plain = check_machine(g, PRESETS[preset]).counters
    assert counters.cycles <= plain.cycles
    if preset == "default":
        assert _depthwise_outputs(g) <= {op.output for op in g.ops} - set(low.slots)
        assert counters.cycles < plain.cycles


def test_without_fbuf_or_with_fuse_off_nothing_is_fused() -> None:
    g = three_blocks()
    for low in (lower_graph(g, PRESETS["small"]), lower_graph(g, with_fbuf("small", 8192), fuse=False)):
        assert {op.output for op in g.ops} <= set(low.slots)
        assert not any(getattr(i, "ofb", 0) for c in low.program.chunks for i in c.cmp)
    a, b = lower_graph(g, PRESETS["small"]), lower_graph(g, with_fbuf("small", 8192), fuse=False)
    assert a.program == b.program  # the same instructions: FBUF changes nothing unless used


def test_an_fbuf_too_small_for_one_band_leaves_the_block_unfused() -> None:
    g = block_net(16, 16, 12, 12, 1)  # 96 expanded channels: 24 blocks x 12 columns a row on tiny
    low, _ = check_fused(g, with_fbuf("tiny", 512))  # 128 words < 24 x 12
    assert {op.output for op in g.ops} <= set(low.slots)


@st.composite
def fused_cases(draw: st.DrawFn) -> tuple[Graph, AccelConfig, tuple[float, ...]]:
    base = draw(st.sampled_from([PRESETS["tiny"], PRESETS["small"], PRESETS["default"], CRAMPED]))
    stride = draw(st.sampled_from([1, 2]))
    c = draw(st.sampled_from([4, 8, 12, 16, 24]))
    residual = stride == 1 and draw(st.sampled_from([True, True, False]))
    k = c if residual else draw(st.sampled_from([4, 8, 16, 20, 32]))
    h, w = draw(st.integers(3, 12)), draw(st.integers(3, 12))
    t = draw(st.sampled_from([1, 2, 3, 6]))
    kernel = draw(st.sampled_from([3, 3, 5]))  # 5x5: several tap groups on the small arrays
    unit = base.word_bytes * base.ibuf_banks
    n = base.ibuf.bytes // unit
    nbytes = unit * draw(st.one_of(st.integers(1, n), st.integers(max(1, n // 2), n)))  # large ones fuse more
    frac = (*(draw(st.floats(0, 1)) for _ in range(4)), float(draw(st.booleans())))
    cfg = validate(dataclasses.replace(base, fbuf=BufferConfig(nbytes)))
    return block_net(c, k, h, w, stride, t, kernel), cfg, frac  # type: ignore[return-value]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fused_cases())
def test_random_blocks_bands_groups_and_fbuf_sizes_are_exact(case) -> None:  # type: ignore[no-untyped-def]
    """A random block on a random preset (or the cramped config: IMEM of 32, ppu_rate 2), FBUF size
    and a random legal tiling (rows, ct, kt, pct drawn as fractions of
    their ranges, the chooser's pick when the draw does not fit): machine == reference."""
    g, cfg, frac = case
    picked: list[str] = []

    def pick(dw, pw, add, cfg_):  # type: ignore[no-untyped-def]
        L = cfg_.lanes
        kbe, kbo = blocks(dw.k, L), blocks(pw.k, L)
        r, ct, kt, pct = (1 + int(f * (n - 1)) for f, n in zip(frac, (dw.oy, kbe, min(kbo, 16), kbe), strict=False))
        t = FusedTiling(r, ct, kt, pct, pipelined=frac[4] > 0)
        if fits(dw, pw, add, t, cfg_):
            picked.append("drawn tiling" + " with add" * (add is not None) + " pipelined" * t.pipelined)
            return t
        best = choose_tiling(dw, pw, add, cfg_)
        picked.append("unfused" if best is None else "chosen tiling" + " with add" * (add is not None))
        return best

    x = random_inputs(g, 1)
    low = lower_graph(g, cfg, tiling=pick)
    if not picked:  # the depthwise layer's plan fell back to GEMM (a small IMEM): nothing to fuse
        assert not any(p.work.kind is WorkKind.DW for p in low.plans)
        picked.append("unfused")
    event(picked[-1])
    assert (picked[-1] == "unfused") == (_depthwise_outputs(g) <= set(low.slots))
    res = run_lowered(low, x)
    ref = run_graph(g, x, keep_all=True)
    for op in g.ops:
        if op.output in low.slots:
            assert np.array_equal(low.read_tensor(res.dram, op.output), ref[op.output]), op.name


@functools.cache
def mobilenetv2(size: int) -> Graph:
    from dian.frontend import calibration_samples, load_model

    m = load_model("zoo:mobilenetv2")
    shape = (1, 3, size, size)
    return lower(m.module, shape, calibration_samples(m, shape, num_samples=4), f"mobilenetv2_{size}")[1]


@pytest.mark.parametrize("size", [96, pytest.param(224, marks=pytest.mark.slow)])
def test_mobilenetv2_fused_on_default_is_exact_and_faster(size: int) -> None:
    g = mobilenetv2(size)
    cfg = with_fbuf("default", 32768)
    low, forced = check_fused(g, cfg)  # every block fused
    hidden = {op.output for op in g.ops} - set(low.slots)
    assert _depthwise_outputs(g) <= hidden and len(_depthwise_outputs(g)) == 17
    assert len(hidden) == 17 + 10  # and the 10 residual blocks' projections
    _, timed = check_fused(g, cfg, tiling=None)  # the blocks that gain, with their fastest tiling
    plain = check_machine(g, PRESETS["default"]).counters
    assert timed.dram_bytes_written < plain.dram_bytes_written
    assert timed.cycles < plain.cycles and timed.cycles <= forced.cycles


@pytest.mark.parametrize(("preset", "nbytes"), [("tiny", 0), ("tiny", 4096), ("default", 32768), ("default", 0)])
def test_program_timing_equals_the_machine(preset: str, nbytes: int) -> None:
    """The lowering's data-free timing of a program (what times fused candidates) is sim/machine's
    cycle count, boot and done added, on fused and unfused programs alike."""
    g = three_blocks()
    cfg = with_fbuf(preset, nbytes)
    low, counters = check_fused(g, cfg)
    end, settled = program_cycles(low.program, cfg, timing.boot_cycles(cfg))
    assert max(end + timing.DONE_CYCLES, settled + 1) == counters.cycles


@pytest.mark.parametrize(("preset", "nbytes"), [("tiny", 4096), ("small", 16384), ("default", 65536)])
def test_pipelined_bands_are_exact_and_alternate_fbuf_halves(preset: str, nbytes: int) -> None:
    """Pipelined, band b + 1's depthwise steps run between band b's projection tiles, into the other
    of two FBUF band regions; the same tiling unpipelined keeps one region."""
    g = block_net(16, 16, 12, 12, 1)  # one fused block, with its residual add
    cfg = with_fbuf(preset, nbytes)
    chosen: list[FusedTiling] = []

    def first(pipelined: bool) -> TilingChooser:
        def pick(dw, pw, add, cfg_):  # type: ignore[no-untyped-def]
            t = next(
                t for t in candidate_tilings(dw, pw, add, cfg_) if t.pipelined and len(range(0, dw.oy, t.rows)) > 1
            )
            chosen.append(t)
            return t if pipelined else dataclasses.replace(t, pipelined=False)

        return pick

    tops = []
    for pipelined in (True, False):
        low, _ = check_fused(g, cfg, tiling=first(pipelined))
        assert _depthwise_outputs(g) <= {op.output for op in g.ops} - set(low.slots)
        tops.append(max(i.odst for c in low.program.chunks for i in c.cmp if isinstance(i, Dw) and i.ofb))
    t = chosen[0]
    region = blocks(96, cfg.lanes) * t.rows * 12  # the band: 96 expanded channels, 12 columns
    assert tops[0] >= region > tops[1]


@pytest.mark.parametrize(("preset", "nbytes"), [("tiny", 4096), ("default", 32768)])
@pytest.mark.parametrize("stride", [1, 2])
def test_a_5x5_block_with_several_tap_groups_is_exact(preset: str, nbytes: int, stride: int) -> None:
    """A 5x5 depthwise conv takes several DW instructions a channel block (tap groups): only the
    last requantizes into FBUF."""
    g = block_net(8, 8, 11, 9, stride, 3, kernel=5)
    low, _ = check_fused(g, with_fbuf(preset, nbytes))
    assert _depthwise_outputs(g) <= {op.output for op in g.ops} - set(low.slots)
    dws = [i for c in low.program.chunks for i in c.cmp if isinstance(i, Dw)]
    assert any(not i.ofb for i in dws) and all(i.ofb == i.rq for i in dws)


@pytest.mark.parametrize(
    ("name", "fused"), [("mobilenet_small", 7), ("mobilenetv3_small", 2), ("shufflenetv2_x0_5", 19)]
)
def test_zoo_nets_fuse_exactly_and_never_slower(name: str, fused: int) -> None:
    """Other nets' depthwise -> 1x1 blocks: ShuffleNetV2's branches fuse (no residual add; a channel
    shuffle after), MobileNetV3's only where neither a squeeze-excite nor a lookup table sits between
    (the DW output has one reader and no LUT stage)."""
    g = zoo_graph(name)
    cfg = with_fbuf("default", 32768)
    res = check_machine(g, cfg)
    assert len(lower_graph(g, cfg).fused) == fused
    assert res.counters.cycles < check_machine(g, PRESETS["default"]).counters.cycles
