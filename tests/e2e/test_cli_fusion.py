"""A config with a fusion buffer end to end, in subprocesses: `dian compile --accel fb.json
--no-rtl` fuses MobileNetV2's blocks (fewer activation slots, fewer DRAM bytes written),
`dian simulate` is bit-exact against sim/reference and the schedules (a fused block's prediction
on its depthwise layer) predict its counters exactly; with the RTL (slow tier, fusion stages P1 and
P2), `dian compile` writes rtl/, `dian simulate --rtl` is exact on the ideal memory and bit-exact on a
random one, and `dian synth --no-pnr` maps as many block RAMs as search/resources.py counts."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_cli import dian

from dian.hwgen.accel_config import BufferConfig, validate
from dian.hwgen.presets import PRESETS


def test_compile_and_simulate_with_fbuf(tmp_path: Path) -> None:
    cfg = validate(dataclasses.replace(PRESETS["default"], name="default-fb", fbuf=BufferConfig(32768)))
    (tmp_path / "fb.json").write_text(cfg.to_json())
    model, shape = "zoo:mobilenetv2", "1,3,64,64"
    out = tmp_path / "fused"
    dian("compile", model, "--input-shape", shape, "--out", out, "--accel", tmp_path / "fb.json", "--no-rtl")
    plain = tmp_path / "plain"
    dian("compile", model, "--input-shape", shape, "--out", plain, "--accel", "default", "--no-rtl")
    slots = {n: len(json.loads((d / "image.json").read_text())["tensors"]) for n, d in (("f", out), ("p", plain))}
    assert slots["p"] - slots["f"] == 17 + 10  # the DW outputs and the residual blocks' projections
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    proc = dian("simulate", out, "--input", tmp_path / "x.npy")
    assert "bit-exact: every byte" in proc.stdout
    assert "exact: the schedules predicted the cycles and DRAM bytes the machine simulator counts" in proc.stdout
    header = (out / "schedules" / "features_3_conv_1_0.txt").read_text().splitlines()[1]
    assert header.startswith("  fused block features_3_conv_1_0+features_3_conv_2+add through FBUF")
    # The compile summary's total utilization is the one sim/machine measures (a fused block's MACs
    # counted once, not on its depthwise row and again on its members' rows).
    measured = re.search(r"^MACs / \(cycles x PEs\) +[\d,]+ MACs +([\d.]+)% +([\d.]+)%", proc.stdout, re.M)
    assert measured is not None, proc.stdout
    summary = (out / "summary.txt").read_text()
    total = re.search(r"^total +[\d,]+ +([\d.]+)%", summary, re.M)
    assert total is not None and total.group(1) == measured.group(2), summary
    assert re.search(r"^features_3_conv_2 .* 0 +fused +", summary, re.M), summary


@pytest.mark.slow
@pytest.mark.parametrize(
    ("nbytes", "p2", "cycles"),
    [(2048, False, 1_812_688), (4096, True, 1_790_160)],
    ids=["p1", "p2"],
)
def test_mobilenetv2_with_fbuf_on_the_rtl(tmp_path: Path, nbytes: int, p2: bool, cycles: int) -> None:
    """MobileNetV2 at 32x32 on tiny with an FBUF: compile with RTL, co-simulate, synthesize (~2 min in
    all). P1 at 2 KiB (the timed choice fuses 9 of its 17 blocks, 5 with their residual add); P2 at
    4 KiB, as large as tiny's IBUF (``fuse_expand``: 15 blocks, 3 of them from the expand GEMM; at 2 KiB
    P2 wins none). The RTL's cycles equal sim/machine's and the schedules' prediction, ``cycles``."""
    from dian.search.resources import bram_blocks

    name = f"tiny-fb{'-p2' if p2 else ''}"
    cfg = validate(dataclasses.replace(PRESETS["tiny"], name=name, fbuf=BufferConfig(nbytes), fuse_expand=p2))
    (tmp_path / "fb.json").write_text(cfg.to_json())
    out = tmp_path / "mb"
    dian("compile", "zoo:mobilenetv2", "--input-shape", "1,3,32,32", "--out", out, "--accel", tmp_path / "fb.json")
    assert (out / "rtl" / "dian_accel.v").is_file()
    fused = [
        p.read_text() for p in (out / "schedules").iterdir() if p.suffix == ".txt" and "through FBUF" in p.read_text()
    ]
    assert len(fused) >= 5
    from_expand = [t for t in fused if re.search(r"fused block features_\d+_conv_0_0\+features_\d+_conv_1_0\+", t)]
    assert len(from_expand) == (3 if p2 else 0)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32))
    run = dian("simulate", out, "--input", tmp_path / "x.npy", "--rtl").stdout
    assert "the RTL's counters equal the machine simulator's" in run, run
    assert "exact: the schedules predicted the cycles and DRAM bytes the machine simulator counts" in run, run
    assert re.search(rf"^cycles +{cycles:,} +{cycles:,} +{cycles:,}$", run, re.M), run  # schedules, machine, RTL
    rand = dian("simulate", out, "--input", tmp_path / "x.npy", "--rtl", "--memory", "random:5").stdout
    assert "bit-exact: every byte" in rand and "DRAM bytes read and written equal" in rand, rand
    synth = dian("synth", out, "--target", "ecp5-25k", "--no-pnr").stdout
    report = json.loads((out / "synth/ecp5-25k/report.json").read_text())
    assert report["brams"] == bram_blocks(cfg), synth  # 26 on tiny + 2 or 4 KiB: IBUF-like FBUF banks, one DP16KD each
    assert re.search(r"^  BRAMs +26$", synth, re.M), synth


def test_explore_prices_a_config_file_with_fbuf(tmp_path: Path) -> None:
    """`dian explore --price fb.json`: the file's design (tiny with an FBUF) is priced beside the
    trials and competes with them (the RTL builds its FBUF)."""
    cfg = validate(dataclasses.replace(PRESETS["tiny"], name="tiny-fb", fbuf=BufferConfig(2048)))
    (tmp_path / "fb.json").write_text(cfg.to_json())
    out = tmp_path / "ex"
    args = ("--input-shape", "1,1,8,8", "--target", "ecp5-25k", "--trials", "6", "--seed", "1", "--calib-samples", "8")
    dian("explore", "zoo:lenet", *args, "--no-rtl", "--price", tmp_path / "fb.json", "--out", out)
    designs = json.loads((out / "explore" / "designs.json").read_text())
    given = designs[-1]
    assert given["config"]["name"] == "tiny-fb" and given["fits"] and given["cycles"] > 0
    chosen = json.loads((out / "accel.json").read_text())["name"]
    assert chosen in [d["config"]["name"] for d in designs if d["fits"]]
    assert "Priced, not chosen" not in (out / "explore" / "pareto.md").read_text()
