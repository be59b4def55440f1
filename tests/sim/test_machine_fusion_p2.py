"""Fusion stage P2 (``AccelConfig.fuse_expand``; hwgen/lower/expand_steps.py; docs/accelerator.md,
"Fusion buffer"): the block starts at the 1x1 expand GEMM, whose output goes to FBUF and is read there
by the depthwise conv (DW ``sfb``). On sim/machine, every tensor that reaches DRAM equals
sim/reference's (independent arithmetic), for stride 1 and 2, 3x3 and 5x5 kernels, with and without
the residual add; the cost model's counters equal the machine's; the expanded tensor never reaches
DRAM; and the RTL builds such a config (tests/hwgen/rtl/test_accel_fbuf_p2.py runs it)."""

from __future__ import annotations

import dataclasses

import pytest
from test_machine_fusion import block_net, check_fused, three_blocks

from dian.hwgen.accel_config import AccelConfig, AccelConfigError, BufferConfig, rtl_misfit, validate
from dian.hwgen.isa import Dw, Gemm
from dian.hwgen.lower.fusion import FusedTiling, fits
from dian.hwgen.lower.layout import blocks
from dian.hwgen.lower.scheduler import plan_graph
from dian.hwgen.lower.workload import Work
from dian.hwgen.presets import PRESETS
from dian.ir import Graph
from dian.search.cost_model import network_cost


def p2(name: str, nbytes: int) -> AccelConfig:
    return validate(dataclasses.replace(PRESETS[name], fbuf=BufferConfig(nbytes), fuse_expand=True))


def p2_chooser(g: Graph, cfg: AccelConfig, pipelined: bool = False, most_rows: bool = True):  # type: ignore[no-untyped-def]
    """A tiling chooser that fits stage P2: the tallest (or shortest) band, two groups or one."""
    works = {p.work.op.output: p.work for p in plan_graph(g, cfg)}

    def pick(dw: Work, pw: Work, add: Work | None, cfg_: AccelConfig) -> FusedTiling | None:
        ex = works.get(dw.op.inputs[0])
        order = range(dw.oy, 0, -1) if most_rows else range(1, dw.oy + 1)
        for rows in order:
            for ct in (2, 1):
                t = FusedTiling(rows, ct, 1, 1, pipelined)
                if fits(dw, pw, add, t, cfg_, ex):
                    return t
        return None

    return pick


def run_exact(g: Graph, cfg: AccelConfig, tiling=None):  # type: ignore[no-untyped-def]
    """Every DRAM tensor bit-exact against sim/reference, blocks by ``tiling`` (None: the timed choice)."""
    return check_fused(g, cfg, tiling, seed=1)


def _assert_from_expand(g: Graph, low) -> None:  # type: ignore[no-untyped-def]
    """One block, fused from the expand: its name starts with the expand conv, the expanded and the
    depthwise tensors have no DRAM slot, and its DWs read FBUF."""
    ((block, _),) = low.fused
    assert block.expand is not None and block.name.startswith(block.expand.op.name + "+")
    assert {block.expand.op.output, block.dw.op.output} <= {op.output for op in g.ops} - set(low.slots)
    cmp = [i for c in low.program.chunks for i in c.cmp]
    assert any(isinstance(i, Dw) and i.sfb for i in cmp) and not any(isinstance(i, Dw) and not i.sfb for i in cmp)
    assert any(isinstance(i, Gemm) and i.ofb and i.lo == i.hi == 0 for i in cmp)  # the padding clears


CASES = [  # (c, k, h, w, stride, t, kernel): with the residual add when stride 1 and c == k
    (16, 16, 12, 12, 1, 6, 3),
    (16, 24, 12, 11, 2, 6, 3),
    (8, 8, 9, 7, 1, 6, 5),
    (8, 16, 10, 9, 2, 3, 5),
    (8, 12, 7, 8, 1, 4, 3),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("preset", "nbytes"), [("tiny", 4096), ("default", 32768)])
@pytest.mark.parametrize("shape", ["tall", "short", "pipelined"])
def test_blocks_fused_from_the_expand_are_exact(case: tuple[int, ...], preset: str, nbytes: int, shape: str) -> None:
    g = block_net(*case)
    cfg = p2(preset, nbytes)
    low, counters = run_exact(g, cfg, p2_chooser(g, cfg, shape == "pipelined", shape != "short"))
    _assert_from_expand(g, low)
    nc = network_cost(g, cfg, list(low.plans), p2_chooser(g, cfg, shape == "pipelined", shape != "short"))
    assert (int(nc.cycles), int(nc.dram_read), int(nc.dram_write)) == (
        counters.cycles,
        counters.dram_bytes_read,
        counters.dram_bytes_written,
    )
    assert int(nc.busy_pe) == counters.busy_pe_cycles and int(nc.instructions) == counters.instructions


@pytest.mark.parametrize("case", CASES)
def test_expand_rows_in_chunks_when_abuf_is_short(case: tuple[int, ...]) -> None:
    """tiny with a 1 KiB ABUF (32 words a half): an expand GEMM or a clear covers only the region rows
    whose sums fit beside the depthwise ones, so a band's rows take several; exact, model = machine."""
    g = block_net(*case)
    cfg = validate(dataclasses.replace(p2("tiny", 4096), abuf=BufferConfig(1024)))
    low, counters = run_exact(g, cfg, p2_chooser(g, cfg))
    _assert_from_expand(g, low)
    ((block, _),) = low.fused
    expands = [i for c in low.program.chunks for i in c.cmp if isinstance(i, Gemm) and i.ofb and i.lo != i.hi]
    assert len(expands) > blocks(block.dw.k, cfg.lanes) * -(-block.dw.oy // block.tiling.rows)  # chunked
    nc = network_cost(g, cfg, list(low.plans), p2_chooser(g, cfg))
    assert (int(nc.cycles), int(nc.dram_read), int(nc.dram_write)) == (
        counters.cycles,
        counters.dram_bytes_read,
        counters.dram_bytes_written,
    )


@pytest.mark.parametrize(("preset", "nbytes"), [("small", 8192), ("default", 32768)])
def test_the_timed_choice_weighs_p2_and_the_cost_model_agrees(preset: str, nbytes: int) -> None:
    """Three blocks with the timed choice among unfused, P1 and P2: exact, never slower than P1, the
    cost model's counters the machine's, the same blocks fused."""
    g = three_blocks()
    cfg = p2(preset, nbytes)
    low, counters = run_exact(g, cfg)
    _, c1 = run_exact(g, dataclasses.replace(cfg, fuse_expand=False))
    assert counters.cycles <= c1.cycles
    nc = network_cost(g, cfg, list(low.plans))
    assert (int(nc.cycles), int(nc.dram_read), int(nc.dram_write)) == (
        counters.cycles,
        counters.dram_bytes_read,
        counters.dram_bytes_written,
    )
    assert nc.fused == tuple(b.name for b, _ in low.fused)
    if preset == "default":  # memory-bound: every expand fuses, and the DRAM traffic falls
        assert all(b.expand is not None for b, _ in low.fused) and len(low.fused) == 3
        assert counters.dram_bytes_written < c1.dram_bytes_written


def test_fuse_expand_needs_an_fbuf_and_the_rtl_builds_it() -> None:
    with pytest.raises(AccelConfigError, match="fuse_expand"):
        validate(dataclasses.replace(PRESETS["default"], fuse_expand=True))
    assert rtl_misfit(p2("tiny", 2048)) == ""
    assert rtl_misfit(with_p1 := validate(dataclasses.replace(PRESETS["tiny"], fbuf=BufferConfig(2048)))) == ""
    assert "fuse_expand" not in with_p1.to_json() and '"fuse_expand": true' in p2("tiny", 2048).to_json()
