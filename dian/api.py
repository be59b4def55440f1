"""dian's public Python API: compile a model into an output folder, run it, describe it.

The CLI (:mod:`dian.cli`) is a thin layer over these three functions; tests
call them directly. Importing this module does not import torch: only
:func:`compile_model` needs the frontend, and it imports it when called.

An output folder (see :mod:`dian.outdir`) holds::

    manifest.json        what was compiled, from what, with which seed (sorted keys, no timestamps)
    model.ir.json        the integer graph: what `dian run` executes
    model.float.ir.json  the float graph the integer one was quantized from
    summary.txt          the integer graph as a table, its input/output scales, how to run it
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import artifact_io, outdir
from .errors import InputShapeError, ModelLoadError, OutputDirError, QuantizationError
from .ir import Graph, format_graph, graph_to_json, load_graph
from .limits import check_memory
from .running import run_model, run_model_outputs
from .sim.host import quantize_for, run_compiled
from .version import __version__

if TYPE_CHECKING:
    from dian.hwgen.accel_config import AccelConfig

    from .board.build import BoardBuild
    from .ir.schedule import Schedule
    from .runtime.device_run import DeviceRun
    from .simulate import SimulationResult
    from .synthesize import SynthResult


@dataclass(frozen=True)
class CompileResult:
    """What :func:`compile_model` produced and where it put it (``accel`` and
    ``schedules`` when compiled for an accelerator)."""

    out_dir: Path
    float_graph: Graph
    int_graph: Graph
    manifest: dict[str, Any]
    summary: str
    files: tuple[str, ...] = ()
    accel: AccelConfig | None = None
    schedules: tuple[Schedule, ...] = ()


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _array_sha256(a: np.ndarray) -> str:
    """Hash of an array's dtype, shape and little-endian bytes."""
    a = np.ascontiguousarray(a)
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    header = f"{a.dtype.str}{list(a.shape)}".encode()
    return _sha256(header + a.tobytes())


def _check_shape(input_shape: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in shape):
        raise InputShapeError(
            f"input shape {list(shape)} is not a shape; give positive integers, e.g. 1,1,8,8 (N,C,H,W)."
        )
    return tuple(int(d) for d in shape)


def _io(graph: Graph, name: str) -> str:
    t = graph.tensors[name]
    scale = f", scale {t.quant.scale[0]:.6g}" if t.quant is not None else ""
    return f"{name} {t.dtype.value} {'x'.join(map(str, t.shape))}{scale}"


def _summary(int_graph: Graph) -> str:
    shape = ",".join(map(str, int_graph.tensors[int_graph.inputs[0]].shape))
    lines = [
        format_graph(int_graph),
        "",
        *(f"input   {_io(int_graph, i)}" for i in int_graph.inputs),
        *(f"output  {_io(int_graph, o)}" for o in int_graph.outputs),
        "",
        f"The host quantizes a float32 input of shape {shape} as clip(round_half_even(x / scale), -128, 127)",
        "and dequantizes the int8 output as q * scale. Run it with",
        "  dian run DIR --input X.npy --output Y.npy",
    ]
    return "\n".join(lines) + "\n"


class _Progress:
    def __init__(self, on: bool) -> None:
        self.on, self.t0 = on, time.perf_counter()

    def __call__(self, what: str) -> None:
        if self.on:
            print(f"[{time.perf_counter() - self.t0:6.2f}s] {what}", file=sys.stderr, flush=True)


def compile_model(
    model: str,
    input_shape: tuple[int, ...] | None,
    out_dir: str | Path,
    calib_samples: int = 64,
    seed: int = 0,
    progress: bool = False,
    accel: str | Path | None = None,
    rtl: bool = True,
    objective: str = "latency",
    force: bool = False,
) -> CompileResult:
    """Load ``model`` (``path/to/file.py:factory`` or ``zoo:NAME``), calibrate it on
    ``calib_samples`` samples drawn with ``seed``, lower it to the float and the
    integer IR, and write the output folder ``out_dir`` atomically.

    With ``accel`` (a preset name, ``tiny``/``small``/``default``, or the path of
    an accelerator config JSON file) the integer graph is also scheduled and
    lowered for that accelerator: the folder gains accel.json, schedules/,
    program.bin, image.json and rtl/ (:mod:`dian.accel_artifacts`);
    ``rtl=False`` skips the Verilog. Each layer is mapped (mode and tiling) by the exact
    cost model for ``objective``: ``latency``, ``energy`` or ``edp`` (search/mapper.py).
    Without ``accel`` the folder holds the IR only.

    ``input_shape`` None means the model's default input shape. The same arguments give a
    byte-identical folder. ``out_dir`` may be new, empty or a previous dian output folder
    (replaced) holding only the files dian wrote there, unchanged, and build/; ``force``
    deletes anything else (the user's files, synth/, board/). Any other ``out_dir``, one
    holding the model's source file (``force`` or not) or one that cannot be written raises
    :class:`~dian.errors.OutputDirError` before any work, and so does an unknown preset or a
    malformed or infeasible config (:class:`~dian.errors.AccelConfigError`). A layer the
    accelerator cannot run raises :class:`~dian.errors.ScheduleError` and writes nothing.
    """
    out_path = Path(out_dir)
    outdir.check_target(out_path.absolute(), force=force, keep=outdir.model_source(model))
    if isinstance(calib_samples, bool) or not isinstance(calib_samples, int) or calib_samples < 1:
        raise QuantizationError(f"calibration needs at least 1 sample; got calib_samples={calib_samples!r}.")
    cfg = None
    if accel is not None:
        from dian.hwgen.presets import load_accel_config

        cfg = load_accel_config(str(accel))  # before any slow work: a bad --accel fails at once
        from .search.objective import check_objective

        check_objective(objective)
    say = _Progress(progress)
    front = _run_frontend(model, input_shape, calib_samples, seed, say)
    return _write_compiled(out_path, front, model, calib_samples, seed, cfg, accel, rtl, objective, say, force=force)


@dataclass(frozen=True)
class _Front:
    """The frontend's products for one model: what the output folder is written from."""

    loaded: Any
    shape: tuple[int, ...]
    calib: np.ndarray
    float_graph: Graph
    int_graph: Graph


def _run_frontend(
    model: str, input_shape: tuple[int, ...] | None, calib_samples: int, seed: int, say: _Progress
) -> _Front:
    """The frontend's products; the model's own code (import, factory, calibration_data, forward)
    calling ``sys.exit`` is a :class:`ModelLoadError`, never a silent exit with nothing written."""
    try:
        return _frontend_steps(model, input_shape, calib_samples, seed, say)
    except SystemExit as e:
        raise ModelLoadError(
            f"the code of model {model} called sys.exit({e.code!r}) (or raised SystemExit) while dian "
            f"was loading, calibrating or tracing it; a model file must define the network and return "
            f"it from its factory, not end the process. Nothing was written."
        ) from None


def _frontend_steps(
    model: str, input_shape: tuple[int, ...] | None, calib_samples: int, seed: int, say: _Progress
) -> _Front:
    from . import frontend  # torch lives behind this import

    say(f"loading {model}")
    loaded = frontend.load_model(model)
    requested = loaded.default_input_shape if input_shape is None else input_shape
    if requested is None:
        raise InputShapeError(
            f"model {model} declares no input shape; give one, e.g. --input-shape 1,3,32,32 (N,C,H,W)."
        )
    shape = _check_shape(requested)
    check_memory(
        4 * calib_samples * math.prod(shape[1:]),
        f"calibration would hold {calib_samples} samples of {'x'.join(map(str, shape[1:]))} float32",
        "lower --calib-samples or --input-shape",
    )
    say(f"drawing {calib_samples} calibration samples (seed {seed})")
    calib = frontend.calibration_samples(loaded, shape, calib_samples, seed)
    say("tracing, folding and quantizing")
    float_graph, int_graph = frontend.lower(loaded.module, shape, calib, loaded.name)
    return _Front(loaded, shape, np.asarray(calib), float_graph, int_graph)


def _write_compiled(
    out_path: Path,
    front: _Front,
    model: str,
    calib_samples: int,
    seed: int,
    cfg: AccelConfig | None,
    accel: str | Path | None,
    rtl: bool,
    objective: str,
    say: _Progress,
    extra: dict[str, str | bytes] | None = None,
    *,
    force: bool = False,
) -> CompileResult:
    """Write the output folder of ``front`` (compiled for ``cfg`` when given) atomically;
    ``extra`` files are added (and hashed in the manifest) as they are; ``force`` as for
    :func:`compile_model`."""
    loaded, shape, calib, float_graph, int_graph = (
        front.loaded,
        front.shape,
        front.calib,
        front.float_graph,
        front.int_graph,
    )

    summary = _summary(int_graph)
    files: dict[str, str | bytes] = {
        outdir.INT_IR: graph_to_json(int_graph),
        outdir.FLOAT_IR: graph_to_json(float_graph),
    }
    build = None
    if cfg is not None:
        from . import accel_artifacts

        say(f"mapping ({objective}) and lowering for accelerator {cfg.name}")
        build = accel_artifacts.build(int_graph, cfg, str(accel), rtl, objective)
        files.update(build.files)
        summary += "\n" + build.summary
    files[outdir.SUMMARY] = summary
    files.update(extra or {})
    manifest: dict[str, Any] = {
        "format": outdir.FORMAT,
        "format_version": outdir.FORMAT_VERSION,
        "dian_version": __version__,
        "model": model,
        "model_name": loaded.name,
        "model_sha256": loaded.source_sha256,
        "input_shape": list(shape),
        "calib_samples": calib_samples,
        "calibration_sha256": _array_sha256(np.asarray(calib, dtype=np.float32)),
        "seed": seed,
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
    }
    if build is not None:
        manifest["accel"] = build.manifest
    files[outdir.MANIFEST] = outdir.manifest_text(manifest)

    def fill(tmp: Path) -> None:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, str):
                path.write_text(data)
            else:
                path.write_bytes(data)

    say(f"writing {out_path}")
    final = outdir.write_atomically(out_path, fill, force=force, keep=outdir.model_source(model))
    say("done")
    return CompileResult(
        final,
        float_graph,
        int_graph,
        manifest,
        summary,
        tuple(files),
        cfg,
        build.schedules if build is not None else (),
    )


def load_compiled(out_dir: str | Path) -> Graph:
    """The integer graph of a complete output folder (checked by the IR verifier)."""
    path = Path(out_dir)
    outdir.read_manifest(path)
    return load_graph(path / outdir.INT_IR)


def model_info(out_dir: str | Path) -> str:
    """A description of an output folder: its manifest, whether its files are as compiled, its summary."""
    path = Path(out_dir)
    manifest = outdir.read_manifest(path)
    load_graph(path / outdir.INT_IR)  # raises IRFormatError on a malformed or invalid graph
    lines = [f"dian output folder {path}"]
    for key in (
        "model",
        "model_name",
        "model_sha256",
        "input_shape",
        "calib_samples",
        "calibration_sha256",
        "seed",
        "dian_version",
        "format_version",
    ):
        value = manifest.get(key)
        lines.append(f"  {key:<20} {','.join(map(str, value)) if isinstance(value, list) else value}")
    accel = manifest.get("accel")
    if accel:
        lines.append(
            f"  {'accel':<20} {accel.get('name')} (--accel {accel.get('spec')}, accel.json sha256 "
            f"{str(accel.get('config_sha256'))[:16]}...)"
        )
    states: dict[str, list[tuple[str, str]]] = {}
    for name, digest in sorted(manifest.get("files", {}).items()):
        actual = _sha256((path / name).read_bytes()) if (path / name).is_file() else None
        state = "as compiled" if actual == digest else "MODIFIED since compile" if actual else "MISSING"
        states.setdefault(name.split("/")[0] + "/" if "/" in name else name, []).append((name, state))
    for group, entries in states.items():
        if len(entries) > 1 and all(st == "as compiled" for _, st in entries):
            entries = [(f"{group} ({len(entries)} files)", "as compiled")]
        for name, state in entries:
            lines.append(f"  {name:<20} {state}")
    if accel:
        from .synthesize import synth_reports

        for target, state in synth_reports(path):
            lines.append(f"  {f'{outdir.SYNTH}/{target}/report.json':<20} {state}")
        from .board.build import board_builds

        for board, state in board_builds(path):
            lines.append(f"  {f'board/{board}/board.json':<20} {state}")
    summary = artifact_io.read_bytes(path / outdir.SUMMARY, OutputDirError, limit=artifact_io.MAX_JSON_BYTES)
    return "\n".join(lines) + "\n\n" + artifact_io.decode_utf8(summary, str(path / outdir.SUMMARY), OutputDirError)


def simulate_model(out_dir: str | Path, x: np.ndarray, rtl: bool = False, memory: str = "ideal") -> SimulationResult:
    """Run the program of ``out_dir`` (compiled with ``accel``) on the float input ``x`` on the
    machine simulator and, with ``rtl``, on the Verilator model of its RTL, on the harness's
    ``memory`` ("ideal", or "random:SEED" for the seeded adversary); check every activation byte
    against the reference simulator (:func:`dian.simulate.simulate_model`)."""
    from .simulate import simulate_model as simulate

    return simulate(out_dir, x, rtl=rtl, memory=memory)


def run_on(
    out_dir: str | Path,
    x: np.ndarray,
    on: str,
    *,
    memory: str = "ideal",
    board: str | None = None,
    bridge: str = "tcp:localhost:1234",
    init_sdram: bool = True,
    irq: bool = False,
    allow_modified: bool = False,
) -> DeviceRun:
    """Run ``x`` through the accelerator of ``out_dir`` with the host runtime, ``on`` ``"rtl"`` (its
    Verilator model) or ``"board"`` (a `dian build` board through its LiteX bridge), and check the
    outputs against the reference simulator (:func:`dian.runtime.device_run.run_on`)."""
    from .runtime.device_run import run_on as run

    return run(
        out_dir,
        x,
        on,
        memory=memory,
        board=board,
        bridge=bridge,
        init_sdram=init_sdram,
        irq=irq,
        allow_modified=allow_modified,
    )


def synth_model(out_dir: str | Path, target: str | None = None, place_and_route: bool = True) -> SynthResult:
    """Synthesize the RTL of ``out_dir`` for ``target`` (:func:`dian.synthesize.synth_model`)."""
    from .synthesize import synth_model as synth

    return synth(out_dir, target, place_and_route)


def build_board(
    out_dir: str | Path,
    board: str,
    *,
    bitstream: bool = True,
    seed: int = 1,
    sys_clk_hz: float | None = None,
    accel_clk_hz: float | None = None,
    progress: bool = False,
    force: bool = False,
) -> BoardBuild:
    """Put the accelerator of ``out_dir`` in a LiteX SoC for ``board`` and build its bitstream into
    ``out_dir/board/<board>/`` (:func:`dian.board.build.build_board`); ``bitstream=False`` writes
    the SoC's Verilog, CSR map and board.json only; ``force`` deletes what a previous build's folder
    holds that the build did not write (refused without it)."""
    from .board.build import build_board as build

    return build(
        out_dir,
        board,
        bitstream=bitstream,
        seed=seed,
        sys_clk_hz=sys_clk_hz,
        accel_clk_hz=accel_clk_hz,
        progress=progress,
        force=force,
    )


__all__ = [
    "CompileResult",
    "build_board",
    "compile_model",
    "load_compiled",
    "model_info",
    "quantize_for",
    "run_compiled",
    "run_model",
    "run_model_outputs",
    "simulate_model",
    "synth_model",
]
