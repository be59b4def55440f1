"""The block-RAM part of the resource estimate (search/resources.py), by hand from the buffer
shapes and ECP5's DP16KD aspect ratios (16384x1 ... 512x36)."""

from __future__ import annotations

import dataclasses

import pytest

from dian.hwgen.presets import PRESETS
from dian.search.resources import bram_blocks


def test_lbuf_takes_a_block_per_lane() -> None:
    # LBUF is one byte-wide memory per lane, 2 halves x lut_tables x 256 entries deep: with one
    # table 512 x 8, one DP16KD (2048 x 9) each; Yosys measured on tiny: 24 blocks with it, 20 without
    for name in ("tiny", "small", "default"):
        cfg = PRESETS[name]
        assert cfg.lut_tables == 1 and cfg.lbuf_entries == 512
        without = dataclasses.replace(cfg, lut_tables=0)
        assert bram_blocks(cfg) - bram_blocks(without) == cfg.lanes
    four = dataclasses.replace(PRESETS["tiny"], lut_tables=4)  # 2048 x 8: still one 2048 x 9 block a lane
    assert bram_blocks(four) == bram_blocks(PRESETS["tiny"])


def test_a_config_without_an_encoding_counts_the_whole_word() -> None:
    # 2 lanes, 16 KiB IBUF/WBUF/ABUF: a GEMM needs 260 bits of the 256-bit word (explore rejects the
    # config for its encoding; its estimate must not fail first). IMEM, 512 x 256 bits, two copies of
    # 512 x 36 DP16KD: 2 x 8 blocks.
    from dian.errors import ProgramError
    from dian.hwgen.accel_config import BufferConfig
    from dian.hwgen.encoding import Encoding
    from dian.search.resources import block_rams

    big = BufferConfig(16384)
    cfg = dataclasses.replace(
        PRESETS["nano"],
        ibuf=big,
        wbuf=big,
        abuf=BufferConfig(16380 - 16380 % 12),
        obuf=BufferConfig(1024),
        imem_instructions=512,
    )
    with pytest.raises(ProgramError, match=r"needs 2[0-9][0-9] bits"):
        Encoding(cfg)
    rams = block_rams(cfg)
    assert rams["imem (MEM engine)"] == rams["imem (CMP engine)"] == 8


def test_ibuf_banks_block_ram_on_the_presets() -> None:
    # tiny: IBUF 1024 x 32 bits, one memory = 2 DP16KD (1024 x 18: 2 wide); as 2 banks of 512 x 32,
    # 2 x 1 (512 x 36). small: 2048 x 64 = 8 (2048 x 9: 8 wide); as 4 banks of 512 x 64, 4 x 2.
    # default: 4096 x 128 = 30 (2048 x 9: 15 wide, 2 deep); as 4 banks of 1024 x 128, 4 x 8 (1024 x 18).
    from dian.hwgen.accel_config import Dataflow
    from dian.search.resources import block_rams

    for name, banks, more in (("tiny", 2, 0), ("small", 4, 0), ("default", 4, 2)):
        cfg = PRESETS[name]
        gemm_only = dataclasses.replace(cfg, dataflows=(Dataflow.GEMM,))
        assert (cfg.ibuf_banks, gemm_only.ibuf_banks) == (banks, 1)
        assert block_rams(cfg)["ibuf"] - block_rams(gemm_only)["ibuf"] == more
