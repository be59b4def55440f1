"""dian.api with an accelerator: compile --accel, simulate, synth, on test_api's hand-built
one-layer model (frontend replaced, no torch work).

The simulated output is checked against the same hand computation as
test_api's run_model; the mismatch, RTL and synthesis paths are driven
through fakes where the real emitter or tool would be slow.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tool_helpers import needs

import dian.frontend
from dian import accel_artifacts, api
from dian import simulate as sim
from dian.errors import AccelConfigError, OutputDirError, ScheduleError, SimulationMismatchError
from dian.ir import DType, GlobalAvgPool, Graph, QuantParams, Requant, Tensor

X = np.array([[5.0, -2.5, 0.75, 0.25]], dtype=np.float32)  # test_api: the int8 graph gives [[2, -4]] * 0.05


def _fake_emit(cfg, out_dir: Path) -> str:  # type: ignore[no-untyped-def]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "fake_top.v"
    path.write_text(f"module fake_top(input clk); // {cfg.name} {cfg.pe_rows}x{cfg.pe_cols}\nendmodule\n")
    return "fake_top"


@pytest.fixture
def fake_emitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel_artifacts, "emit_rtl", _fake_emit)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compile_with_accel_writes_schedules_program_and_layout(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    res = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False)
    out = res.out_dir
    assert sorted(_tree(out)) == [
        "accel.json",
        "image.json",
        "manifest.json",
        "model.float.ir.json",
        "model.ir.json",
        "program.bin",
        "schedules/fc.json",
        "schedules/fc.txt",
        "summary.txt",
    ]
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["files"]) == set(_tree(out)) - {"manifest.json"}  # every file is hashed
    assert m["accel"]["name"] == "tiny" and m["accel"]["rtl"] is None
    assert m["accel"]["layers"] == [{"layer": "fc", "schedule": "schedules/fc"}]
    assert json.loads((out / "accel.json").read_text())["pe_rows"] == 4
    text = (out / "schedules/fc.txt").read_text()
    assert text.startswith("fc  K=2 C=4") and "parfor" in text and "predicted" in text
    sched = json.loads((out / "schedules/fc.json").read_text())
    assert sched["mapping"]["dataflow"] == "gemm" and sched["prediction"]["macs"] == 8
    image = json.loads((out / "image.json").read_text())
    program = (out / "program.bin").read_bytes()
    assert program[:4] == b"DIAN" and image["image_bytes"] == len(program)
    assert [s["name"] for s in image["inputs"]] == ["x"] and [s["name"] for s in image["outputs"]] == ["y"]
    assert image["outputs"][0]["producer"] == "fc" and image["inputs"][0]["scale"] == 0.5
    regions = image["regions"]  # contiguous, covering the whole image
    assert regions[0]["addr"] == 0 and all(a["addr"] + a["bytes"] == b["addr"] for a, b in itertools.pairwise(regions))
    assert regions[-1]["addr"] + regions[-1]["bytes"] == len(program)
    assert "accelerator tiny: 4x4 PEs" in res.summary and "RTL: not written" in res.summary
    assert re.search(r"^fc +linear +gemm +1 ", (out / "summary.txt").read_text(), re.M)


def test_without_accel_the_folder_is_ir_only(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out").out_dir
    assert "accel" not in json.loads((out / "manifest.json").read_text())
    with pytest.raises(OutputDirError, match=r"compiled without --accel.*--accel tiny"):
        api.simulate_model(out, X)
    with pytest.raises(OutputDirError, match="compiled without --accel"):
        api.synth_model(out)


def test_rtl_is_written_when_the_emitter_exists_and_the_folder_is_deterministic(
    tmp_path: Path, fake_frontend: SimpleNamespace, fake_emitter: None
) -> None:
    a = api.compile_model("zoo:tiny", (1, 4), tmp_path / "a", accel="tiny", seed=1).out_dir
    b = api.compile_model("zoo:tiny", (1, 4), tmp_path / "b", accel="tiny", seed=1).out_dir
    assert _tree(a) == _tree(b)
    assert (a / "rtl/fake_top.v").read_text().startswith("module fake_top")
    m = json.loads((a / "manifest.json").read_text())
    c_files = ["rtl/dian_accel.c", "rtl/dian_accel.h"]  # the C side comes with the RTL
    assert m["accel"]["rtl"] == {"top": "fake_top", "files": ["rtl/fake_top.v"], "c_driver": c_files}
    assert {"rtl/fake_top.v", *c_files} <= set(m["files"])
    no_rtl = api.compile_model("zoo:tiny", (1, 4), tmp_path / "c", accel="tiny", seed=1, rtl=False).out_dir
    assert not (no_rtl / "rtl").exists() and "--no-rtl" in (no_rtl / "summary.txt").read_text()
    assert "rtl/ (1 file" not in api.model_info(no_rtl) and "schedules/ (2 files) as compiled" in api.model_info(a)


def test_simulate_matches_the_hand_computation(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False).out_dir
    res = api.simulate_model(out, X)
    np.testing.assert_array_equal(res.output, np.array([[0.1, -0.2]], dtype=np.float32))
    np.testing.assert_array_equal(res.machine.outputs["y"], np.array([[2, -4]], dtype=np.int8))
    np.testing.assert_array_equal(res.reference["y"], np.array([[2, -4]], dtype=np.int8))
    assert res.tensors_checked == 2 and res.rtl is None and res.modified == ()
    c = res.machine.counters
    assert c.cycles > 0 and c.dram_bytes_written >= 4 and c.dram_bytes_read > 0
    fc = json.loads((out / "schedules/fc.json").read_text())["prediction"]
    # The one layer's exact share plus the boot and done that belong to no layer: the machine's count.
    boot_done = json.loads((out / "manifest.json").read_text())["accel"]["mapping"]["boot_and_done_cycles"]
    assert res.predicted.cycles == fc["cycles"] + boot_done == c.cycles and res.macs == 8
    assert (res.predicted.dram_bytes_read, res.predicted.dram_bytes_written) == (
        c.dram_bytes_read,
        c.dram_bytes_written,
    )


def test_corrupted_weights_name_the_layer(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False).out_dir
    image = json.loads((out / "image.json").read_text())
    weights = next(r for r in image["regions"] if r["name"] == "weights and parameters")
    data = bytearray((out / "program.bin").read_bytes())
    for i in range(weights["addr"], weights["addr"] + 16):  # fc's first weight block: W[k, c] for k, c < 4
        data[i] ^= 0x21
    (out / "program.bin").write_bytes(bytes(data))
    with pytest.raises(
        SimulationMismatchError, match=r"layer 'fc' \(linear\) output tensor 'y' 1x2: element \[0, "
    ) as e:
        api.simulate_model(out, X)
    assert (e.value.backend, e.value.layer, e.value.tensor) == ("machine", "fc", "y")


def test_no_rtl_folder_is_a_clear_error(tmp_path: Path, fake_frontend: SimpleNamespace) -> None:
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False).out_dir
    with pytest.raises(OutputDirError, match=r"has no rtl/ \(it was compiled with --no-rtl\)"):
        api.simulate_model(out, X, rtl=True)
    with pytest.raises(OutputDirError, match=r"has no rtl/ \(it was compiled with --no-rtl\)"):
        api.synth_model(out)


@needs("verilator")
def test_rtl_runner_is_checked_against_the_machine(
    tmp_path: Path, fake_frontend: SimpleNamespace, tiny_harness: Path
) -> None:
    """The Verilator model of the ``tiny`` preset's RTL as the runner: its DRAM passes sim/reference's
    check and its counters equal the machine simulator's; the same run with a counter or an output
    byte tampered is each one clear mismatch."""
    from dian.hwgen.tools.verilator_run import run_harness

    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False).out_dir
    tamper = {"cycles": 0, "flip": False}

    def rtl_run(cfg, dram, max_cycles):  # type: ignore[no-untyped-def]
        assert cfg.name == "tiny" and max_cycles > 0
        run = run_harness(tiny_harness, dram.tobytes(), max_cycles)
        after, c = np.frombuffer(run.dram, dtype=np.uint8)[: dram.size].copy(), run.counters
        if tamper["flip"]:
            image = json.loads((out / "image.json").read_text())
            after[image["outputs"][0]["addr"] + 1] ^= 1  # output element [0, 1]
        counters = (c["perf_cycles"], c["perf_busy_pe_cycles"], c["perf_dram_bytes_read"], c["perf_dram_bytes_written"])
        return after, sim.RunCounters(counters[0] + tamper["cycles"], *counters[1:])

    res = sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run)
    assert res.rtl is not None and res.rtl.counters == res.machine.counters and res.rtl.counters.busy_pe_cycles > 0
    assert all(np.array_equal(res.rtl.outputs[k], v) for k, v in res.machine.outputs.items())
    tamper["cycles"] = 3
    with pytest.raises(SimulationMismatchError, match=r"counters differ.*cycles: machine [\d,]+, RTL [\d,]+") as e:
        sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run)
    assert e.value.counter == "cycles"
    tamper.update(cycles=0, flip=True)
    with pytest.raises(SimulationMismatchError, match=r"element \[0, 1\] is -3 on the rtl, -4 in sim/reference"):
        sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run)


def test_a_random_memory_checks_the_bytes_and_measures_the_cycles(
    tmp_path: Path, fake_frontend: SimpleNamespace
) -> None:
    """On a random memory the RTL's cycles are a measurement (more than the machine's here), its DRAM
    bytes read and written are still checked; on the ideal memory the same cycles are a mismatch."""
    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False).out_dir
    extra = {"cycles": 57, "bytes": 0}

    def rtl_run(cfg, dram, max_cycles):  # type: ignore[no-untyped-def]
        after, c = sim.run_machine(cfg, dram, max_cycles)
        return after, sim.RunCounters(
            c.cycles + extra["cycles"], c.busy_pe_cycles, c.dram_bytes_read + extra["bytes"], c.dram_bytes_written
        )

    res = sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run, memory="random:7")
    assert res.rtl is not None and res.rtl.memory == "random:7" and res.machine.memory == "ideal"
    assert res.rtl.counters.cycles == res.machine.counters.cycles + 57
    with pytest.raises(SimulationMismatchError, match=r"the RTL \(on the ideal memory\) .*\(cycles\)"):
        sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run)
    extra["bytes"] = 8
    with pytest.raises(SimulationMismatchError, match=r"on the random:1 memory.*\(dram_bytes_read\)") as e:
        sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run, memory="random")
    assert e.value.counter == "dram_bytes_read"
    with pytest.raises(ValueError, match="memory must be"):
        sim.simulate_model(out, X, rtl=True, rtl_run=rtl_run, memory="random:seven")


def test_cli_reports_ideal_and_measured_cycles(
    tmp_path: Path, fake_frontend: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dian simulate --rtl --memory random` (seed 1) with the RTL runner replaced by the machine simulator
    plus 100 cycles: the RTL column names its memory, the report the ideal and the measured cycles."""
    from dian.cli import main

    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny", rtl=False).out_dir
    np.save(tmp_path / "x.npy", X)
    seen = []

    def runner(folder, memory):  # type: ignore[no-untyped-def]
        seen.append(memory)

        def run(cfg, dram, max_cycles):  # type: ignore[no-untyped-def]
            after, c = sim.run_machine(cfg, dram, max_cycles)
            return after, dataclasses.replace(c, cycles=c.cycles + 100)

        return run

    monkeypatch.setattr(sim, "rtl_runner", runner)
    assert main(["simulate", str(out), "--input", str(tmp_path / "x.npy"), "--rtl", "--memory", "random"]) == 0
    text = capsys.readouterr().out
    assert seen == ["random:1"] and "RTL (Verilator, random:1 memory)" in text
    m = re.search(r"^cycles: ([\d,]+) on the ideal memory \(the machine simulator's\), ([\d,]+) measured", text, re.M)
    assert m and int(m[2].replace(",", "")) == int(m[1].replace(",", "")) + 100, text


@needs("verilator")
@pytest.mark.parametrize("memory", ["ideal", "random:3"])
def test_rtl_runner_drives_the_harness(tmp_path: Path, memory: str) -> None:
    """rtl_runner, the path `dian simulate --rtl --memory` takes, on the stand-in top level (an AXI copy
    engine, tests/hwgen/dram_copy_top.py) in a folder of its own: the memory and counters it returns."""
    from dram_copy_top import ideal_cycles
    from tool_helpers import expected_dram, standin_verilog

    from dian.hwgen.presets import PRESETS

    cfg = PRESETS["tiny"]
    n, src, dst = 6, 64, 1024
    standin_verilog(tmp_path / "rtl", bus_bits=cfg.dram_bus_bits, n_words=n, src=src, dst=dst)
    manifest = {"accel": {"rtl": {"files": ["rtl/dram_copy_top.v"], "top": "dram_copy_top"}}}
    folder = sim.AccelFolder(tmp_path, manifest, None, cfg, b"", {}, ())  # type: ignore[arg-type]
    image = np.arange(2048, dtype=np.uint32).astype(np.uint8)
    after, c = sim.rtl_runner(folder, memory)(cfg, image, 100_000)
    want = expected_dram(image.tobytes(), bus_bits=cfg.dram_bus_bits, n_words=n, src=src, dst=dst)
    assert after.tobytes() == want and (tmp_path / "build/verilator/obj_dir/harness").is_file()
    nbytes = n * cfg.dram_bus_bits // 8
    assert dataclasses.replace(c, cycles=0) == sim.RunCounters(0, n, nbytes, nbytes)
    assert (
        (c.cycles == ideal_cycles(n, cfg.dram_latency))
        if memory == "ideal"
        else c.cycles >= ideal_cycles(n, cfg.dram_latency)
    )


def test_synth_writes_a_report_per_target(
    tmp_path: Path, fake_frontend: SimpleNamespace, fake_emitter: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dian.hwgen.tools import synth as hw_synth

    out = api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel="tiny").out_dir
    calls = []

    def synthesize(files, top, target, clock_mhz, build_dir, *, place_and_route=True):  # type: ignore[no-untyped-def]
        calls.append((files, top, target, clock_mhz, build_dir, place_and_route))
        return hw_synth.SynthReport(target=target, top=top, clock_mhz=clock_mhz, cells=7, cell_types={"$and": 7})

    monkeypatch.setattr(hw_synth, "synthesize", synthesize)
    before = _tree(out)
    res = api.synth_model(out, place_and_route=False)
    assert calls == [([out / "rtl/fake_top.v"], "fake_top", "ecp5-25k", 100.0, out / "synth/ecp5-25k", False)]
    report = json.loads(res.report_path.read_text())
    assert res.report_path == out / "synth/ecp5-25k/report.json"
    assert report["cells"] == 7 and report["target"] == "ecp5-25k" and report["fmax_mhz"] is None
    assert set(report["rtl_sha256"]) == {"rtl/fake_top.v"}
    assert {
        k: v for k, v in _tree(out).items() if not k.startswith("synth/")
    } == before  # the compiled files are untouched
    assert "synth/ecp5-25k/report.json current" in api.model_info(out)
    with pytest.raises(AccelConfigError, match="unknown synthesis target 'virtex'"):
        api.synth_model(out, target="virtex")
    with pytest.raises(AccelConfigError, match="on-chip RAM"):  # tiny's 10 KiB of buffers outgrow nothing...
        _tight = out / "accel.json"
        doc = json.loads(_tight.read_text())
        doc["ibuf"]["bytes"] = 131072
        _tight.write_text(json.dumps(doc))  # ...until a hand edit makes it too big for the target's block RAM
        api.synth_model(out, target="ice40-up5k")


# -- accelerator errors: raised before any slow work, nothing written ---------------------------------


@pytest.mark.parametrize(
    "spec, match",
    [
        ("huge", r"--accel 'huge' is neither a preset \(nano, tiny, small, default\)"),
        ("broken.json", r"broken.json is not valid JSON \(Expecting property name"),
        ("square.json", r"pe_cols = 8 is not allowed; v1 arrays are square"),
    ],
)
def test_bad_accel_configs(tmp_path: Path, fake_frontend: SimpleNamespace, spec: str, match: str) -> None:
    (tmp_path / "broken.json").write_text('{"pe_rows": 4,')
    doc = json.loads(api_preset_json("tiny"))
    doc["pe_cols"] = 8
    (tmp_path / "square.json").write_text(json.dumps(doc))
    path = spec if spec == "huge" else str(tmp_path / spec)
    with pytest.raises(AccelConfigError, match=match):
        api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", accel=path)
    assert fake_frontend.lower == 0 and not (tmp_path / "out").exists()


def api_preset_json(name: str) -> str:
    from dian.hwgen.presets import PRESETS

    return PRESETS[name].to_json()


def test_unschedulable_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Global average pooling over a 1x600 plane: a pool's window runs in bands of whole rows, and
    one row of 600 words does not fit an IBUF half (tiny: 512 words)."""
    q = QuantParams.per_tensor(0.1)
    graph = Graph.build(
        "gap",
        [Tensor("x", (1, 4, 1, 600), DType.INT8, q), Tensor("y", (1, 4, 1, 1), DType.INT8, q)],
        {},
        [GlobalAvgPool("gap", ("x",), "y", requant=Requant((1 << 21,), (31,)))],
        ["x"],
        ["y"],
    )
    loaded = SimpleNamespace(
        name="gap", module=object(), calibration_fn=None, default_input_shape=(1, 4, 1, 600), source_sha256="cd" * 32
    )
    monkeypatch.setattr(dian.frontend, "load_model", lambda source: loaded, raising=False)
    monkeypatch.setattr(
        dian.frontend,
        "calibration_set",
        lambda ld, shape, n, seed, data: dian.frontend.CalibSet(np.zeros((n or 64, *shape[1:]), np.float32), "", False),
        raising=False,
    )
    monkeypatch.setattr(dian.frontend, "lower_model", lambda *a: dian.frontend.Lowered(graph, graph), raising=False)
    with pytest.raises(ScheduleError, match=r"layer 'gap' .* cannot be scheduled on accelerator 'tiny'"):
        api.compile_model("zoo:gap", None, tmp_path / "out", accel="tiny")
    assert not (tmp_path / "out").exists()
    assert api.compile_model("zoo:gap", None, tmp_path / "out2", accel="default", rtl=False).out_dir.is_dir()
