"""AccelConfig.fbuf, the fusion buffer: off by default (no config's identity moves), validated with
an error naming the field, and built by the RTL (IBUF-like banks; none without one)."""

from __future__ import annotations

import dataclasses

import pytest

from dian.errors import AccelConfigError
from dian.hwgen.accel_config import BufferConfig, Dataflow, accel_config_from_json, config_hash, rtl_misfit, validate
from dian.hwgen.presets import PRESETS


def _with_fbuf(name: str, nbytes: int):  # type: ignore[no-untyped-def]
    return validate(dataclasses.replace(PRESETS[name], fbuf=BufferConfig(nbytes)))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_no_preset_has_a_fusion_buffer_and_its_json_does_not_mention_one(name: str) -> None:
    cfg = PRESETS[name]
    assert cfg.fbuf.bytes == 0 and rtl_misfit(cfg) == ""
    assert "fbuf" not in cfg.to_json()


def test_fbuf_is_part_of_the_identity_and_round_trips() -> None:
    cfg = _with_fbuf("default", 32768)
    assert cfg.words("fbuf") == 32768 // 16
    assert config_hash(cfg) != config_hash(PRESETS["default"])
    assert config_hash(cfg) != config_hash(_with_fbuf("default", 65536))
    assert accel_config_from_json(cfg.to_json()) == cfg
    assert '"fbuf": {\n  "bytes": 32768\n }' in cfg.to_json()
    assert cfg.on_chip_bytes == PRESETS["default"].on_chip_bytes + 32768


@pytest.mark.parametrize(
    ("nbytes", "why"),
    [
        (16 * 4 + 16, "multiple of 64 bytes"),  # default: 16-byte words, 4 banks
        (-64, "multiple of 64 bytes"),
        (2 * 65536, "up to the IBUF's 65536 bytes"),
    ],
)
def test_a_bad_fbuf_is_an_error_naming_the_field(nbytes: int, why: str) -> None:
    with pytest.raises(AccelConfigError, match=rf"fbuf\.bytes = {nbytes} is not allowed.*{why}"):
        _with_fbuf("default", nbytes)


def test_fbuf_needs_the_depthwise_dataflow() -> None:
    cfg = dataclasses.replace(PRESETS["default"], dataflows=(Dataflow.GEMM,), fbuf=BufferConfig(4096))
    with pytest.raises(AccelConfigError, match=r"fbuf\.bytes = 4096.*'depthwise' dataflow"):
        validate(cfg)


def test_the_rtl_builds_the_fusion_buffer_only_when_the_config_has_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dian.hwgen.rtl.emit import emit_verilog

    cfg = _with_fbuf("tiny", 1024)
    assert rtl_misfit(cfg) == ""
    (fb,) = emit_verilog(cfg, tmp_path / "fb")
    (plain,) = emit_verilog(PRESETS["tiny"], tmp_path / "plain")
    text = fb.read_text()
    # tiny's 2 IBUF banks: FBUF is two memories of 1024 / 4 / 2 = 128 words, written and read by the CMP engine
    assert "module \\dian_accel.core.fbuf (" in text and "fbuf_w_en" in text and "fbuf_r_data" in text
    assert text.count("reg [31:0] bank0 [127:0]") + text.count("reg [31:0] bank1 [127:0]") == 2
    assert "fbuf" not in plain.read_text()


def test_block_ram_estimate_counts_the_fusion_buffer_as_ibuf_like_banks() -> None:
    from dian.search.resources import block_rams

    base = block_rams(PRESETS["default"])
    assert "fbuf" not in base  # every report of a config without one is unchanged
    # 32 KiB on default: 4 banks of 512 words x 128 bits; a DP16KD holds 512 x 36, so 4 blocks a bank.
    fb = block_rams(_with_fbuf("default", 32768))
    assert fb.pop("fbuf") == 16 and fb == base
