"""Fusion stage P2 (``AccelConfig.fuse_expand``; docs/accelerator.md, "Fusion buffer") in the Verilator
model of ``tiny`` with a 2 KiB FBUF (512 words: narrower addresses than its 1024-word IBUF): blocks
fused from the 1x1 expand GEMM, which writes the depthwise input's rows into FBUF at the region's odd
pitch (``ofb`` at the ABUF strides, not dense), and the depthwise conv reading its windows there
(DW ``sfb``, both IBUF-like banks). Each run must give sim/reference's outputs bit for bit,
sim/machine's DRAM, cycles and counters and the exact cost model's on the ideal memory, and the same
DRAM on a random AXI memory (rtl_check.rtl_mismatches). In the slow tier also on ``small`` (8x8, 4
banks), whose 3x3 tap groups read two FBUF banks at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from rtl_check import rtl_mismatches
from test_accel_fbuf import mobilenet_like
from test_machine_fusion import block_net, three_blocks
from test_machine_fusion_p2 import p2_chooser
from tool_helpers import needs

from dian.hwgen.accel_config import AccelConfig, BufferConfig, validate
from dian.hwgen.isa import Dw, Gemm
from dian.hwgen.lower.fusion import TilingChooser
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph

#: tiny with a 2 KiB FBUF and stage P2: the test_accel_fbuf.py config with ``fuse_expand``.
TINY_P2 = validate(dataclasses.replace(PRESETS["tiny"], name="tiny-fb-p2", fbuf=BufferConfig(2048), fuse_expand=True))


@pytest.fixture(scope="module")
def p2_harness(accel_harness: Callable[..., Path]) -> Path:
    return accel_harness(TINY_P2)


def _chooser(g: Graph, cfg: AccelConfig, shape: str) -> TilingChooser | None:
    """``shape``'s P2 tiling chooser for ``g`` (test_machine_fusion_p2's), or None for "timed": the
    lowering's timed choice."""
    return None if shape == "timed" else p2_chooser(g, cfg, shape == "pipelined", shape != "short")


def check_p2(exe: Path, cfg: AccelConfig, g: Graph, shape: str, want: list[tuple[bool, bool]], banks: bool) -> None:
    """Lower ``g`` for ``cfg`` with ``shape``'s tiling, check the program is what the case is for (the
    blocks fused as ``want``: (from the expand?, with the add?); a DW reading several FBUF banks at
    once iff ``banks``; an expand GEMM writing at a pitch wider than its row), then run it on ``exe``."""
    tiling = _chooser(g, cfg, shape)
    low = lower_graph(g, cfg, tiling=tiling)
    assert [(b.expand is not None, b.add is not None) for b, _ in low.fused] == want
    cmp = [i for c in low.program.chunks for i in c.cmp]
    assert any(isinstance(i, Dw) and i.sfb for i in cmp)
    assert any(isinstance(i, Dw) and i.sfb and i.n_gy > 1 for i in cmp) == banks
    # an expand GEMM whose rows land at the region's pitch, not densely: a dense write would misplace them
    assert any(isinstance(i, Gemm) and i.ofb and i.lo != i.hi and i.n_oy > 1 and i.d_oy != i.n_ox * i.d_ox for i in cmp)
    problems, counters = rtl_mismatches(exe, cfg, g, seed=3, random_memories=(7,), tiling=tiling)
    assert not problems, "\n".join(problems)
    assert counters["perf_cycles"] > 0


CASES: dict[str, tuple[Callable[[], Graph], str, list[tuple[bool, bool]]]] = {
    # name: (graph, tiling, the blocks fused as (from the expand?, with the add?))
    "residual": (lambda: block_net(8, 8, 8, 8, 1), "tall", [(True, True)]),
    "stride2": (lambda: block_net(8, 12, 9, 9, 2), "tall", [(True, False)]),
    "kernel5_short_bands": (lambda: block_net(8, 8, 9, 7, 1, 6, 5), "short", [(True, True)]),
    "pipelined": (lambda: block_net(8, 12, 7, 8, 1, 4, 3), "pipelined", [(True, False)]),
    # a 2x2 depthwise kernel: tap groups of two kernel rows, so each DW reads both FBUF banks at once
    # (tiny's 3x3 and 5x5 groups take one kernel row: 4 PE rows)
    "kernel2_both_banks": (lambda: block_net(8, 12, 8, 8, 1, 6, 2), "short", [(True, False)]),
    "mobilenet_like": (mobilenet_like, "tall", [(True, True), (True, False), (True, True), (True, False)]),
    # the timed choice among unfused, P1 and P2 (at 2 KiB: one P1 block, one P2 block)
    "mobilenet_like_timed": (mobilenet_like, "timed", [(False, False), (True, False)]),
}


@needs("verilator")
@pytest.mark.parametrize("case", list(CASES))
def test_blocks_fused_from_the_expand_in_verilator(p2_harness: Path, case: str) -> None:
    make, shape, want = CASES[case]
    check_p2(p2_harness, TINY_P2, make(), shape, want, "banks" in case)


#: small (8x8 PEs, 4 IBUF banks) with an 8 KiB FBUF (1024 words, half its IBUF) and stage P2: its 3x3
#: tap groups take two kernel rows, so MobileNetV2's own depthwise convs read two FBUF banks at once.
SMALL_P2 = validate(
    dataclasses.replace(PRESETS["small"], name="small-fb-p2", fbuf=BufferConfig(8192), fuse_expand=True)
)


@pytest.mark.slow
@needs("verilator")
@pytest.mark.parametrize(
    ("make", "shape", "want"),
    [
        (lambda: block_net(16, 16, 12, 12, 1), "tall", [(True, True)]),
        (three_blocks, "timed", [(False, True), (True, False), (False, True)]),  # P1, P2, P1
    ],
    ids=["residual", "three_blocks_timed"],
)
def test_blocks_fused_from_the_expand_on_small_in_verilator(
    accel_harness: Callable[..., Path], make: Callable[[], Graph], shape: str, want: list[tuple[bool, bool]]
) -> None:
    check_p2(accel_harness(SMALL_P2), SMALL_P2, make(), shape, want, True)
