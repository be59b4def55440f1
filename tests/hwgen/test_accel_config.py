"""AccelConfig: presets, JSON round trip, and one clear error per broken rule."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from dian.errors import AccelConfigError
from dian.hwgen.accel_config import AccelConfig, BufferConfig, Dataflow, accel_config_from_json, validate
from dian.hwgen.presets import PRESETS, load_accel_config
from dian.hwgen.targets import Target


def test_presets_are_the_documented_sizes() -> None:
    assert {n: (c.pe_rows, c.pe_cols) for n, c in PRESETS.items()} == {
        "nano": (2, 2),
        "tiny": (4, 4),
        "small": (8, 8),
        "default": (16, 16),
    }


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip_is_exact(name: str) -> None:
    cfg = PRESETS[name]
    text = cfg.to_json()
    assert accel_config_from_json(text) == cfg
    assert accel_config_from_json(text).to_json() == text


def test_derived_sizes_by_hand() -> None:
    tiny = PRESETS["tiny"]  # 4 lanes: int8 words of 4 bytes, int32 accumulator words of 16 bytes
    assert (tiny.word_bytes, tiny.acc_word_bytes, tiny.bus_bytes) == (4, 16, 4)
    assert tiny.words("ibuf") == 4096 // 4 and tiny.words("abuf") == 4096 // 16


def test_load_preset_and_file(tmp_path: Path) -> None:
    assert load_accel_config("small") is PRESETS["small"]
    p = tmp_path / "mine.json"
    p.write_text(dataclasses.replace(PRESETS["tiny"], name="mine", dram_latency=3).to_json())
    assert load_accel_config(str(p)).dram_latency == 3


def _mutated(**changes: object) -> AccelConfig:
    return dataclasses.replace(PRESETS["tiny"], **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"pe_cols": 8}, "pe_cols"),
        ({"pe_rows": 3, "pe_cols": 3}, "pe_rows"),
        ({"pe_rows": 128, "pe_cols": 128}, "pe_rows"),
        ({"dataflows": (Dataflow.DEPTHWISE,)}, "dataflows"),
        ({"dataflows": (Dataflow.GEMM, Dataflow.GEMM)}, "dataflows"),
        ({"operand_bits": 4}, "operand_bits"),
        ({"acc_bits": 40}, "acc_bits"),
        ({"dram_bus_bits": 64}, "dram_bus_bits"),  # wider than a 4-lane word (32 bits)
        ({"dram_bus_bits": 24}, "dram_bus_bits"),
        ({"dram_latency": 0}, "dram_latency"),
        ({"clock_mhz": 0.5}, "clock_mhz"),
        ({"imem_instructions": 100}, "imem_instructions"),
        ({"ibuf": BufferConfig(4084)}, "ibuf.bytes"),  # 4084 = 510.5 x (2 halves x 4 bytes)
        ({"abuf": BufferConfig(64)}, "abuf.bytes"),  # fewer than 4 words per half
        ({"ibuf": BufferConfig(1 << 20), "target": Target.ECP5_25K}, "target"),  # 1 MiB > 126 KiB of EBR
        ({"ppu_rate": 3}, "ppu_rate"),
        ({"ppu_rate": 4}, "ppu_rate"),  # 4 lanes: the requantizer would serve one lane a cycle
    ],
)
def test_each_rule_has_an_error_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(AccelConfigError, match=rf"{field.replace('.', '[.]')} = .* is not allowed; "):
        validate(_mutated(**changes))


def test_ppu_rate_1_keeps_the_config_identity() -> None:
    """A config at the word-a-cycle requantizer has the JSON (and so the hash) it had before the
    field; another rate is part of it and round-trips."""
    assert "ppu_rate" not in PRESETS["tiny"].to_json()
    half = validate(_mutated(ppu_rate=2))
    assert '"ppu_rate": 2' in half.to_json() and accel_config_from_json(half.to_json()) == half


def test_generic_target_has_no_ram_budget() -> None:
    assert validate(_mutated(ibuf=BufferConfig(1 << 20), target=Target.GENERIC)).ibuf.bytes == 1 << 20


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("pe_rows"), "missing fields \\['pe_rows'\\]"),
        (lambda d: d.__setitem__("pe_rowz", 4), "unknown fields \\['pe_rowz'\\]"),
        (lambda d: d.__setitem__("target", "virtex"), "allowed values are .*ecp5-85k"),
        (lambda d: d.__setitem__("dataflows", ["systolic"]), "allowed values are .*depthwise"),
        (lambda d: d.__setitem__("pe_rows", "4"), "pe_rows = '4' is not allowed; it must be int"),
        (lambda d: d.__setitem__("ibuf", 4096), "ibuf = 4096 is not allowed"),
        (lambda d: d.__setitem__("version", 7), "not a dian accelerator config of version 2"),
        (lambda d: d["ibuf"].__setitem__("bytes", "4096"), 'ibuf = .* is not allowed; it must be \\{"bytes": int\\}'),
    ],
)
def test_malformed_json_files(edit, message: str) -> None:
    doc = json.loads(PRESETS["tiny"].to_json())
    edit(doc)
    with pytest.raises(AccelConfigError, match=message):
        accel_config_from_json(json.dumps(doc))


def test_a_version_1_file_with_banks_says_how_to_fix_it() -> None:
    """dian wrote version 1 files with a "banks" count in every buffer, which the RTL never honoured."""
    doc = json.loads(PRESETS["tiny"].to_json())
    v1 = {
        **doc,
        "version": 1,
        **{b: {**doc[b], "banks": 4 if b == "ibuf" else 1} for b in ("ibuf", "wbuf", "abuf", "obuf")},
    }
    with pytest.raises(AccelConfigError) as e:
        accel_config_from_json(json.dumps(v1), "old.json")
    msg = str(e.value)
    assert msg.startswith("old.json follows version 1") and "\n" not in msg
    assert 'delete the "banks" entry of ibuf, wbuf, abuf, obuf and set "version" to 2' in msg
    banks_only = {**doc, "ibuf": {"bytes": 4096, "banks": 4}}  # a version 2 file with a "banks" left in it
    with pytest.raises(AccelConfigError, match='To use the file, delete the "banks" entry of ibuf; nothing else'):
        accel_config_from_json(json.dumps(banks_only))
    with pytest.raises(AccelConfigError, match='To use the file, set "version" to 2; nothing else'):
        accel_config_from_json(json.dumps({**doc, "version": 1}))
    # Doing what the message says gives the config back.
    fixed = {**v1, "version": 2, **{b: {"bytes": v1[b]["bytes"]} for b in ("ibuf", "wbuf", "abuf", "obuf")}}
    assert accel_config_from_json(json.dumps(fixed)) == PRESETS["tiny"]


def test_unknown_preset_or_missing_file() -> None:
    with pytest.raises(AccelConfigError, match="neither a preset \\(nano, tiny, small, default\\)"):
        load_accel_config("huge")
    with pytest.raises(AccelConfigError, match="neither a preset"):
        load_accel_config("/nonexistent/cfg.json")


def test_target_without_enough_logic_is_an_error() -> None:
    """A 64 x 64 array's int8 PEs alone (4,096 x ~136 LUT4) outgrow the ECP5-25k's 24,288 LUT4
    once its 28 DSPs are spent; on the iCE40 UP5K (8 DSPs, 5,280 LUT4) even tiny's LUT products
    (its 16 requant partial products alone are ~8,000 LUT4) do not fit; generic has no limit."""
    big = _mutated(
        pe_rows=64,
        pe_cols=64,
        dram_bus_bits=32,
        ibuf=BufferConfig(8192),
        wbuf=BufferConfig(8192),
        abuf=BufferConfig(8192),
        obuf=BufferConfig(4096),
    )
    with pytest.raises(AccelConfigError, match=r"target = 'ecp5-25k' is not allowed; it has 28 DSPs and 24,288 LUT4s"):
        validate(big)
    assert validate(dataclasses.replace(big, target=Target.GENERIC)).pe_rows == 64
    with pytest.raises(AccelConfigError, match=r"it has 8 DSPs and 5,280 LUT4s, but 4x4 PEs"):
        PRESETS["tiny"].with_target("ice40-up5k")
