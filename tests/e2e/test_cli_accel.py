"""`dian compile --accel`, `dian simulate` and `dian synth` end to end, in subprocesses, on the
trained digits LeNet and the `tiny` preset.

Independent checks: the simulated output against `dian run` (the reference simulator), the
printed predicted cycles against the schedules' JSON, a hand-corrupted program.bin against
the mismatch error; errors exit 2 with one message and no traceback.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_cli import MODEL, SHAPE, SHAPE_ARG, dian, user_error

from dian import api


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e-accel") / "lenet-tiny"
    proc = dian("compile", MODEL, "--input-shape", SHAPE_ARG, "--out", out, "--accel", "tiny")
    assert re.search(r"^conv1 +conv2d +gemm ", proc.stdout, re.M) and re.search(r"^total +[\d,]+ ", proc.stdout, re.M)
    assert f"wrote {out}/" in proc.stdout and "schedules/ (12 files)" in proc.stdout
    return out


@pytest.fixture(scope="module")
def digit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dian.frontend.zoo.digits import load_split

    path = tmp_path_factory.mktemp("e2e-digit") / "x.npy"
    np.save(path, np.array(load_split().x_test[0], dtype=np.float32).reshape(SHAPE))
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_folder(compiled: Path) -> None:
    files = set(_tree(compiled))
    layers = ["conv1", "pool", "conv2", "pool_1", "fc1", "fc2"]  # flatten moves no data: no schedule
    assert {
        "accel.json",
        "program.bin",
        "image.json",
        *(f"schedules/{n}.{e}" for n in layers for e in ("json", "txt")),
    } <= files
    assert any(f.startswith("rtl/") and f.endswith(".v") for f in files)
    m = json.loads((compiled / "manifest.json").read_text())
    assert set(m["files"]) == files - {"manifest.json"} and m["accel"]["spec"] == "tiny"
    assert [e["layer"] for e in m["accel"]["layers"]] == layers
    text = (compiled / "schedules/conv2.txt").read_text()
    assert text.startswith("conv2  K=16 C=8 OY=4 OX=4 FY=3 FX=3") and "parfor" in text
    assert re.search(r"^predicted [\d,]+ cycles  utilization [\d.]+%  DRAM [\d,]+ KiB$", text, re.M)
    assert "accel " in dian("info", compiled).stdout


def test_simulate_is_bit_exact_and_reports_the_schedules(compiled: Path, digit: Path, tmp_path: Path) -> None:
    proc = dian("simulate", compiled, "--input", digit, "--output", tmp_path / "y.npy")
    out = proc.stdout
    assert "bit-exact: every byte of the 8 activation tensors the machine simulator left in DRAM equals" in out
    cycles = re.search(r"^cycles +([\d,]+) +([\d,]+)$", out, re.M)
    assert cycles, out
    predicted = sum(json.loads(p.read_text())["prediction"]["cycles"] for p in (compiled / "schedules").glob("*.json"))
    predicted += json.loads((compiled / "manifest.json").read_text())["accel"]["mapping"]["boot_and_done_cycles"]
    # The schedules' predictions are exact: they equal the machine simulator's count.
    assert int(cycles[1].replace(",", "")) == predicted == int(cycles[2].replace(",", ""))
    assert "exact: the schedules predicted the cycles and DRAM bytes the machine simulator counts" in out
    dian("run", compiled, "--input", digit, "--output", tmp_path / "ref.npy")  # the reference simulator
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "ref.npy"))
    assert f"argmax {int(np.load(tmp_path / 'ref.npy').argmax())}" in out


def test_folder_is_deterministic(compiled: Path, tmp_path: Path) -> None:
    again = api.compile_model(MODEL, SHAPE, tmp_path / "again", accel="tiny").out_dir
    assert _tree(again) == _tree(compiled)


def test_corrupted_program_names_the_layer(compiled: Path, digit: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name, data in _tree(compiled).items():
        (broken / name).parent.mkdir(parents=True, exist_ok=True)
        (broken / name).write_bytes(data)
    image = json.loads((broken / "image.json").read_text())
    weights = next(r for r in image["regions"] if r["name"] == "weights and parameters")
    data = bytearray((broken / "program.bin").read_bytes())
    for i in range(weights["addr"], weights["addr"] + 64):  # conv1's, the first layer's
        data[i] ^= 0x01
    (broken / "program.bin").write_bytes(bytes(data))
    err = user_error("simulate", broken, "--input", digit)
    assert "machine and reference disagree" in err and "layer 'conv1' (conv2d)" in err and "element [0, " in err
    assert "program.bin was modified since compile" in err


# -- user errors: exit 2, one message naming the problem, no traceback --------------------------------


def test_accel_errors(tmp_path: Path) -> None:
    err = user_error("compile", MODEL, "--input-shape", SHAPE_ARG, "--out", tmp_path / "o", "--accel", "huge")
    assert "'huge' is neither a preset (nano, tiny, small, default)" in err
    (tmp_path / "bad.json").write_text('{"pe_rows": 4, ')
    err = user_error(
        "compile", MODEL, "--input-shape", SHAPE_ARG, "--out", tmp_path / "o", "--accel", tmp_path / "bad.json"
    )
    assert "bad.json is not valid JSON" in err
    from dian.hwgen.presets import PRESETS

    doc = json.loads(PRESETS["small"].to_json())
    doc["target"] = "ice40-up5k"
    doc["ibuf"] = {"bytes": 262144}
    (tmp_path / "big.json").write_text(json.dumps(doc))
    err = user_error(
        "compile", MODEL, "--input-shape", SHAPE_ARG, "--out", tmp_path / "o", "--accel", tmp_path / "big.json"
    )
    assert "target = 'ice40-up5k' is not allowed; its on-chip RAM holds" in err
    doc = json.loads(PRESETS["small"].to_json())  # as dian wrote it before the banks count went
    doc.update(version=1, ibuf={"bytes": doc["ibuf"]["bytes"], "banks": 4})
    (tmp_path / "v1.json").write_text(json.dumps(doc))
    err = user_error(
        "compile", MODEL, "--input-shape", SHAPE_ARG, "--out", tmp_path / "o", "--accel", tmp_path / "v1.json"
    )
    assert 'delete the "banks" entry of ibuf and set "version" to 2' in err
    assert not (tmp_path / "o").exists()


def test_simulate_errors(compiled: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 9, 9), np.float32))
    err = user_error("simulate", compiled, "--input", tmp_path / "x.npy")
    assert "[1, 1, 9, 9]" in err and "[1, 1, 8, 8]" in err
    err = user_error("simulate", tmp_path / "nowhere", "--input", tmp_path / "x.npy")
    assert "nowhere" in err
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    err = user_error("simulate", compiled, "--input", tmp_path / "x.npy", "--memory", "random:x")
    assert "memory must be 'ideal', 'random' or 'random:SEED'" in err
    err = user_error("simulate", compiled, "--input", tmp_path / "x.npy", "--memory", "random")
    assert "--memory random:1 is the memory of the RTL run; add --rtl." in err
    err = user_error("synth", compiled, "--target", "virtex")
    assert "invalid choice: 'virtex'" in err
    err = user_error("run", compiled, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--irq")
    assert "--irq belongs to a run on the accelerator; add --on rtl or --on board." in err
    err = user_error("run", compiled, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "--on", "board")
    assert "has no board build; build one with `dian build DIR --board BOARD`" in err
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize(
    ("link", "command"),
    [
        ("build/verilator/verilator.log", ("simulate", "--rtl")),  # a file: would have been overwritten
        ("build", ("simulate", "--rtl")),  # a folder: the Verilator build would have landed outside
        ("build/verilator/obj_dir", ("run", "--on", "rtl")),
        ("synth", ("synth", "--no-pnr")),
        ("synth/ecp5-25k/yosys.log", ("synth", "--no-pnr")),
        ("board", ("build", "--board", "sim", "--no-bitstream")),
        ("board/sim", ("build", "--board", "sim", "--no-bitstream")),
    ],
)
def test_a_planted_symlink_is_refused_and_never_written_through(
    compiled: Path, digit: Path, tmp_path: Path, link: str, command: tuple[str, ...]
) -> None:
    """A folder from someone else with a symlink inside: dian exits 2 naming it, before any tool
    runs, and the file or folder it points to (outside the folder) is unchanged."""
    folder = tmp_path / "folder"
    shutil.copytree(compiled, folder, ignore=shutil.ignore_patterns("build", "synth", "board"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    planted = folder / link
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(outside / "precious.txt" if link.endswith(".log") else outside)
    name, *flags = command
    io = ("--input", digit, "--output", tmp_path / "y.npy") if name == "run" else ("--input", digit)
    err = user_error(name, folder, *(io if name in ("simulate", "run") else ()), *flags)
    assert f"{planted} is a symlink" in err, err
    assert [p.name for p in outside.iterdir()] == ["precious.txt"] and (
        outside / "precious.txt"
    ).read_text() == "keep me"
    assert planted.is_symlink()


def test_help() -> None:
    for cmd in ("simulate", "synth"):
        assert "example:" in dian(cmd, "--help").stdout
    assert "--accel PRESET|FILE.json" in dian("compile", "--help").stdout


# -- the RTL path (slow: Verilator build, Yosys) ------------------------------------------------------


@pytest.mark.slow
def test_rtl_cosimulation_and_synthesis(compiled: Path, digit: Path, tmp_path: Path) -> None:
    out = dian("simulate", compiled, "--input", digit, "--rtl").stdout
    assert "RTL (Verilator, ideal memory)" in out and "the RTL's counters equal the machine simulator's" in out
    # The host runtime's register sequence on the same Verilator build: the reference's output,
    # the machine simulator's cycles (printed above by simulate, read here from the CYCLES register).
    ran = dian("run", compiled, "--input", digit, "--output", tmp_path / "rtl-y.npy", "--on", "rtl").stdout
    machine = re.search(r"^cycles +[\d,]+ +([\d,]+) +([\d,]+)$", out, re.M)
    assert machine and f"  {machine[1]} cycles (" in ran and "bit-exact with the reference simulator" in ran, ran
    dian("run", compiled, "--input", digit, "--output", tmp_path / "ref-y.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "rtl-y.npy"), np.load(tmp_path / "ref-y.npy"))
    out = dian("simulate", compiled, "--input", digit, "--rtl", "--memory", "random:3").stdout
    assert "RTL (Verilator, random:3 memory)" in out and "DRAM bytes read and written equal" in out
    m = re.search(r"^cycles: ([\d,]+) on the ideal memory .*, ([\d,]+) measured on the random:3", out, re.M)
    assert m and int(m[2].replace(",", "")) >= int(m[1].replace(",", "")), out
    # synth_ecp5 without place and route: ~30 s; generic synth maps no memories and takes ~5 min.
    out = dian("synth", compiled, "--target", "ecp5-25k", "--no-pnr").stdout
    assert "(synthesis only)" in out and re.search(r"^  BRAMs +[1-9][\d,]*$", out, re.M), out
    report = json.loads((compiled / "synth/ecp5-25k/report.json").read_text())
    assert report["dsps"] >= 16 and report["brams"] > 0 and report["ffs"] > 0 and report["fmax_mhz"] is None
