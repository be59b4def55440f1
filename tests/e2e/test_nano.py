"""The ``nano`` preset, the small end: the zoo's LeNet on 2x2 PEs with 24-bit accumulators and a
16-bit bus, checked against the reference simulator (machine, fast) and in Verilator (RTL, slow),
and its iCE40 block-RAM count against Yosys ``synth_ice40`` (slow)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from tool_helpers import needs

from dian import api
from dian.hwgen.presets import PRESETS
from dian.hwgen.targets import Target
from dian.search.resources import block_rams


@pytest.fixture(scope="module")
def lenet_nano(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nano") / "lenet-nano"
    api.compile_model("zoo:lenet", (1, 1, 8, 8), out, accel="nano", rtl=False)
    return out


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    from dian.frontend.zoo.digits import load_split

    return np.array(load_split().x_test[0], dtype=np.float32).reshape(1, 1, 8, 8)


def test_lenet_on_nano_machine_is_exact(lenet_nano: Path, digit: np.ndarray) -> None:
    run = api.simulate_model(lenet_nano, digit)  # raises on any activation byte unlike sim/reference
    got, want = run.machine.counters, run.predicted
    assert (got.cycles, got.dram_bytes_read, got.dram_bytes_written) == (
        want.cycles,
        want.dram_bytes_read,
        want.dram_bytes_written,
    )
    # 25,408 MACs on 4 PEs: at least 6,352 cycles of array time; the schedules' figure is above it
    assert run.macs == 25_408 and got.cycles > run.macs // 4


def test_nano_block_rams_by_hand() -> None:
    """SB_RAM40_4K reads at most 16 bits: 256 x 16 is its widest shape. nano (2 lanes): IBUF
    512 B = 256 x 16 bits (1), WBUF 128 x 16 (1), ABUF 768 B = 128 x 48 bits (3), OBUF 128 x 16
    (1), PBUF 32 entries x 2 x 72 bits (9). IMEM, 64 deep, one copy per engine: the MEM engine's
    widest instruction is LOAD_ACT, 12 header + 32 dram + 8 dst (IBUF: 256 words) + 7 x 9 counts
    + 2 x 32 strides + 8 pad value = 187 bits (12 blocks); the CMP engine's GEMM, 12 + wgt 7 +
    src 8 + dst 7 + reset 1 + 3 x 9 + 2 x 8 + 5 x 8 + 2 x 7 + rq 1 + odst 7 + prm 5 + lo, hi 16 +
    lut 1 + ltab 1 + n_pix 16 = 179 bits (12). The read FIFO: 16 + 2 + 16 + 2 - 1 = 35 x 16 (1)."""
    blocks = block_rams(dataclasses.replace(PRESETS["nano"], target=Target.ICE40_UP5K))
    assert blocks == {
        "ibuf": 1,
        "wbuf": 1,
        "abuf": 3,
        "obuf": 1,
        "pbuf": 9,
        "imem (MEM engine)": 12,
        "imem (CMP engine)": 12,
        "lbuf": 0,
        "read fifo": 1,
    }
    assert sum(blocks.values()) == 40  # of the UP5K's 30


def test_nano_dp16kd_by_hand() -> None:
    """On its own target, ECP5-25k (DP16KD: 18 Kbit, up to 512 x 36): IBUF 256 x 16 (1 block of
    1024 x 18), WBUF and OBUF 128 x 16 (1 each), ABUF 128 x 48 (2 of 512 x 36), IMEM 64 x 187
    (6) and 64 x 179 (5); PBUF (32 deep) and the read FIFO (35) are LUT RAM: 16, as Yosys counts
    (benchmarks/results/synth_ecp5.md)."""
    assert sum(block_rams(PRESETS["nano"]).values()) == 16


@pytest.mark.slow
@needs("verilator")
def test_lenet_on_nano_rtl_is_exact(digit: np.ndarray, tmp_path: Path) -> None:
    out = tmp_path / "lenet-nano"
    api.compile_model("zoo:lenet", (1, 1, 8, 8), out, accel="nano")
    ideal = api.simulate_model(out, digit, rtl=True)  # raises on any byte or counter unlike the machine's
    assert ideal.rtl is not None and ideal.rtl.counters.cycles == ideal.predicted.cycles
    slow = api.simulate_model(out, digit, rtl=True, memory="random:5")
    assert slow.rtl is not None and slow.rtl.counters.cycles >= ideal.rtl.counters.cycles


@pytest.mark.slow
@needs("yosys")
def test_nano_block_rams_match_yosys(tmp_path: Path) -> None:
    """The block-RAM model against Yosys ``synth_ice40`` (about 2 min): nano on the UP5K needs 40 of
    its 30 SB_RAM40_4K."""
    from dian.hwgen.rtl.emit import TOP_NAME, emit_verilog
    from dian.hwgen.tools.synth import synthesize

    cfg = dataclasses.replace(PRESETS["nano"], target=Target.ICE40_UP5K)
    files = emit_verilog(cfg, tmp_path / "rtl")
    report = synthesize(files, TOP_NAME, "ice40-up5k", cfg.clock_mhz, tmp_path / "synth", place_and_route=False)
    assert report.brams == sum(block_rams(cfg).values())
