"""The fusion buffer (docs/accelerator.md, "Fusion buffer") in the Verilator model of ``tiny`` with a
2 KiB FBUF: MobileNetV2 inverted-residual blocks (expand 1x1 -> depthwise 3x3 -> project 1x1, with
and without the residual add, stride 1 and 2) that the lowering fuses, so that the depthwise output
(and the projection's before an add) lives only in FBUF: DW and GEMM requantize into it (``ofb``),
GEMM reads its operand from it (``sfb``), ADD its ``b`` words (``bfb``). Each run must give
sim/reference's outputs bit for bit, sim/machine's DRAM, cycles and counters and the exact cost
model's on the ideal memory, and the same DRAM on a random AXI memory (rtl_check.rtl_mismatches).
Also on the cramped config (PPURequant every 2nd cycle) with an FBUF 8 times as deep as its OBUF,
so that ``odst`` and the write address are wider than OBUF's."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import pytest
import torch.nn as nn
from machine_cases import CRAMPED
from rtl_check import rtl_mismatches
from test_machine_fusion import block_net, stem_and_blocks
from tool_helpers import needs

from dian.frontend.zoo.mobilenetv2 import InvertedResidual
from dian.hwgen.accel_config import AccelConfig, BufferConfig, validate
from dian.hwgen.isa import AddI, Dw, Gemm
from dian.hwgen.lower.fusion import FusedTiling, TilingChooser, candidate_tilings, choose_tiling
from dian.hwgen.lower.graph import lower_graph
from dian.hwgen.presets import PRESETS
from dian.ir import Graph

#: tiny (4x4 PEs, 2 IBUF banks of 4-byte words) with a 2 KiB FBUF: half its IBUF, 256 words a bank.
TINY_FB = validate(dataclasses.replace(PRESETS["tiny"], name="tiny-fb", fbuf=BufferConfig(2048)))
#: cramped (ppu_rate 2, a 16-word OBUF) with the largest FBUF it may have: 128 words.
CRAMPED_FB = validate(dataclasses.replace(CRAMPED, name="cramped-fb", fbuf=BufferConfig(512)))


@pytest.fixture(scope="module")
def fbuf_harness(accel_harness: Callable[..., Path]) -> Path:
    return accel_harness(TINY_FB)


@functools.cache
def mobilenet_like(size: int = 12) -> Graph:
    """A stem and four inverted-residual blocks of MobileNetV2's: 8 -> 8 (residual), 8 -> 12 stride 2,
    12 -> 12 (residual), 12 -> 16 (stride 1, no residual)."""

    def blocks() -> list[nn.Module]:
        return [
            InvertedResidual(8, 8, 1, 6),
            InvertedResidual(8, 12, 2, 6),
            InvertedResidual(12, 12, 1, 6),
            InvertedResidual(12, 16, 1, 4),
        ]

    return stem_and_blocks(8, blocks, size, size, 1, f"mobilenet_like_{size}")


def pipelined(dw, pw, add, cfg) -> FusedTiling | None:  # type: ignore[no-untyped-def]
    """The first pipelined candidate with more than one band: two bands in FBUF, interleaved."""
    return next((t for t in candidate_tilings(dw, pw, add, cfg) if t.pipelined and t.rows < dw.oy), None)


def fused_blocks(graph: Graph, cfg: AccelConfig, tiling: TilingChooser | None) -> list[tuple[str, bool]]:
    """The blocks the lowering fuses (each one work: its steps carry one layer name, dw+project(+add))
    and whether each adds its residual; asserts the FBUF bits are in the program and the hidden
    tensors have no DRAM slot."""
    low = lower_graph(graph, cfg, tiling=tiling)
    instrs = [i for c in low.program.chunks for i in c.cmp]
    adds = any(b.add is not None for b, _ in low.fused)
    assert any(isinstance(i, Dw) and i.ofb for i in instrs) == bool(low.fused)
    assert any(isinstance(i, Gemm) and i.sfb for i in instrs) == bool(low.fused)
    assert any(isinstance(i, AddI) and i.bfb for i in instrs) == adds
    for b, _ in low.fused:
        assert not set(b.hidden) & set(low.slots)
    return [(b.name, b.add is not None) for b, _ in low.fused]


CASES = {  # name: (graph, tiling chooser, blocks fused (with add?))
    "residual": (lambda: block_net(8, 8, 8, 8, 1), choose_tiling, [True]),
    "projection_only": (lambda: block_net(8, 12, 8, 8, 1), choose_tiling, [False]),
    "stride2": (lambda: block_net(8, 12, 9, 9, 2), choose_tiling, [False]),
    "pipelined_residual": (lambda: block_net(8, 8, 8, 8, 1), pipelined, [True]),
    "mobilenet_like": (mobilenet_like, choose_tiling, [True, False, True, False]),
    "mobilenet_like_timed": (mobilenet_like, None, None),  # the lowering's timed choice: what gains
}


@needs("verilator")
@pytest.mark.parametrize("case", list(CASES))
def test_fused_blocks_in_verilator(fbuf_harness: Path, case: str) -> None:
    make, tiling, want = CASES[case]
    g = make()
    blocks = fused_blocks(g, TINY_FB, tiling)
    if want is not None:
        assert [add for _, add in blocks] == want, blocks
        assert all(name.count("+") == 1 + add for name, add in blocks)
    problems, counters = rtl_mismatches(fbuf_harness, TINY_FB, g, seed=3, random_memories=(7,), tiling=tiling)
    assert not problems, "\n".join(problems)
    assert counters["perf_cycles"] > 0


@needs("verilator")
@pytest.mark.parametrize(("c", "k"), [(4, 4), (4, 8)])
def test_fused_blocks_on_the_cramped_config_in_verilator(accel_harness: Callable[..., Path], c: int, k: int) -> None:
    g = block_net(c, k, 6, 6, 1, 2)
    assert [add for _, add in fused_blocks(g, CRAMPED_FB, choose_tiling)] == [c == k]
    exe = accel_harness(CRAMPED_FB)
    problems, _ = rtl_mismatches(exe, CRAMPED_FB, g, seed=3, random_memories=(7,), tiling=choose_tiling)
    assert not problems, "\n".join(problems)
