"""`dian simulate`: run a compiled program on the machine simulator (and, with
``rtl``, on the Verilator model of the RTL) and check it against the reference.

The host's part is the same for every backend: quantize the float input,
pack it into its slot of a copy of ``program.bin`` (the slots are in
``image.json``), hand the DRAM to a *runner*, read the outputs back. A runner
is ``(cfg, dram, max_cycles) -> (dram after the run, counters)``: the machine
simulator is one, the Verilator harness of ``rtl/*.v`` the other. The RTL runs
on the harness's ideal memory (the timing the machine simulator is exact for)
or on its seeded random memory (``memory="random:SEED"``), an adversary that
changes the timing but must not change a byte.

Checks, in this order: every byte of every activation tensor the backend left
in DRAM against sim/reference's (graph order, so the first difference names
the layer that made it), then, for the RTL, its performance counters against
the machine simulator's: all of them on the ideal memory; on a random memory
the DRAM bytes read and written (its cycles are measured, not checked). Any
difference raises :class:`~dian.errors.SimulationMismatchError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dian.hwgen.accel_config import AccelConfig, rtl_misfit

from . import outdir
from .errors import AccelConfigError, OutputDirError, SimulationMismatchError
from .ir import Graph
from .runtime.folder import (
    AccelFolder,
    PredictedCounters,
    RunCounters,
    host_form,
    input_bytes,
    load_accel_folder,
    predicted_counters,
    read_slot,
)

#: A backend: the DRAM image with the inputs packed in -> the DRAM after ``done`` and the counters.
Runner = Callable[[AccelConfig, np.ndarray, int], tuple[np.ndarray, RunCounters]]


@dataclass(frozen=True)
class BackendRun:
    backend: str  # "machine" | "rtl"
    counters: RunCounters
    outputs: dict[str, np.ndarray]  # int8 graph outputs, unpacked from DRAM
    seconds: float  # wall-clock time of the run (the RTL's includes building the harness)
    memory: str = "ideal"  # the memory it ran on: "ideal" (the machine simulator's) or "random:SEED"


@dataclass(frozen=True)
class SimulationResult:
    """A checked run: every activation the backends computed equals the reference's."""

    out_dir: Path
    cfg: AccelConfig
    graph: Graph
    reference: dict[str, np.ndarray]  # int8 graph outputs of sim/reference
    output: np.ndarray  # the (first) graph output, dequantized to float32
    machine: BackendRun
    rtl: BackendRun | None
    predicted: PredictedCounters  # the per-layer schedule predictions, summed
    macs: int
    tensors_checked: int
    image_bytes: int
    modified: tuple[str, ...]  # files changed since compile (the run used them as they are)


def _exclusive(slots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The slots no tensor other than aliases of the same region shares (v1 gives every tensor its own)."""
    out = []
    for s in slots:
        lo, hi = s["addr"], s["addr"] + s["bytes"]
        if not any(
            o is not s and o["addr"] != s["addr"] and o["addr"] < hi and lo < o["addr"] + o["bytes"] for o in slots
        ):
            out.append(s)
    return out


def _first_difference(
    backend: str, folder: AccelFolder, dram: np.ndarray, ref: dict[str, np.ndarray], graph_outputs: set[str]
) -> tuple[int, SimulationMismatchError | None]:
    """Compare every checkable tensor in graph order; the count checked and the first mismatch."""
    lanes = folder.cfg.lanes
    slots = {s["name"]: s for s in _exclusive(folder.layout["tensors"])}
    order = [*folder.graph.inputs, *(op.output for op in folder.graph.ops)]
    checked = 0
    for name in order:
        if name not in slots:
            if name in graph_outputs:
                raise OutputDirError(f"{folder.path / outdir.IMAGE} has no exclusive slot for output '{name}'.")
            continue
        got = read_slot(dram, slots[name], lanes)
        want = host_form(slots[name], ref[name])
        checked += 1
        diff = np.argwhere(got != want)
        if len(diff):
            idx = tuple(int(i) for i in diff[0])
            producer = slots[name]["producer"]
            op = next((o for o in folder.graph.ops if o.name == producer), None)
            where = (
                f"layer '{producer}' ({op.kind.value if op else '?'}) output tensor '{name}'"
                if producer
                else f"input tensor '{name}' (as packed into DRAM by the host)"
            )
            return checked, SimulationMismatchError(
                f"{backend} and reference disagree: the first differing tensor in graph order is {where} "
                f"{'x'.join(map(str, want.shape))}: element {list(idx)} is {int(got[idx])} on the {backend}, "
                f"{int(want[idx])} in sim/reference ({len(diff):,} of {want.size:,} elements differ; "
                f"{checked - 1} tensor(s) before it in graph order are bit-exact)."
                + "".join(f" Note: {n} was modified since compile." for n in folder.modified),
                backend=backend,
                tensor=name,
                layer=producer,
                index=idx,
            )
    return checked, None


def run_machine(cfg: AccelConfig, dram: np.ndarray, max_cycles: int) -> tuple[np.ndarray, RunCounters]:
    """The machine simulator as a runner (it needs no cycle limit: a deadlock is a ProgramError)."""
    from .sim.machine import Machine

    c = Machine(cfg, dram).run()
    return dram, RunCounters(c.cycles, c.busy_pe_cycles, c.dram_bytes_read, c.dram_bytes_written)


def rtl_runner(folder: AccelFolder, memory: str = "ideal") -> Runner:
    """The Verilator model of the folder's rtl/*.v, on the harness's ``memory`` ("ideal" or
    "random:SEED"), as a runner (built in DIR/build/verilator, reused while the Verilog is unchanged),
    or :class:`OutputDirError` when the folder has no rtl/."""
    from dian.hwgen.tools.verilator_run import run_harness

    from .runtime.verilator import build_model

    outdir.verilog_files(folder.path, folder.manifest["accel"])  # a folder without rtl/ fails before any work

    def run(cfg: AccelConfig, dram: np.ndarray, max_cycles: int) -> tuple[np.ndarray, RunCounters]:
        exe = build_model(folder)
        run = run_harness(exe, dram.tobytes(), max_cycles, memory=memory)
        c = run.counters
        counters = RunCounters(
            c["perf_cycles"], c["perf_busy_pe_cycles"], c["perf_dram_bytes_read"], c["perf_dram_bytes_written"]
        )
        return np.frombuffer(run.dram, dtype=np.uint8)[: dram.size].copy(), counters

    return run


def _compare_counters(machine: RunCounters, rtl: RunCounters, memory: str) -> None:
    fields = ("cycles", "busy_pe_cycles", "dram_bytes_read", "dram_bytes_written")
    checked = fields if memory == "ideal" else ("dram_bytes_read", "dram_bytes_written")
    bad = [f for f in checked if getattr(machine, f) != getattr(rtl, f)]
    if bad:
        table = "; ".join(f"{f}: machine {getattr(machine, f):,}, RTL {getattr(rtl, f):,}" for f in fields)
        raise SimulationMismatchError(
            f"the RTL (on the {memory} memory) computed every byte right but its performance counters differ "
            f"from the machine simulator's ({', '.join(bad)}): {table}.",
            backend="rtl",
            counter=bad[0],
        )


def simulate_model(
    out_dir: str | Path, x: np.ndarray, rtl: bool = False, rtl_run: Runner | None = None, memory: str = "ideal"
) -> SimulationResult:
    """Run the program in ``out_dir`` (compiled with --accel) on the float input ``x``.

    The machine simulator always runs; with ``rtl`` the Verilator model of
    ``rtl/*.v`` runs too, on the harness's ``memory``: ``"ideal"``, or
    ``"random:SEED"`` (``"random"`` is seed 1) (``rtl_run`` replaces that
    runner, for tests). Raises :class:`SimulationMismatchError` when a backend's
    DRAM holds any activation byte that differs from sim/reference, or when the
    RTL's counters differ from the machine simulator's (on a random memory only
    the DRAM bytes are compared: its cycles are the measurement), ValueError for
    a ``memory`` of another form.
    """
    from dian.hwgen.tools.verilator_run import parse_memory

    memory = parse_memory(memory)
    from .sim.host import quantize_for
    from .sim.reference import dequantize_output, run_graph

    folder = load_accel_folder(out_dir)
    graph, cfg = folder.graph, folder.cfg
    why = rtl_misfit(cfg) if rtl else ""
    if why:
        raise AccelConfigError(why)
    runner = (rtl_run or rtl_runner(folder, memory)) if rtl else None  # unavailable RTL fails before any work
    in_name, q = quantize_for(graph, x, str(out_dir))
    ref = run_graph(graph, {in_name: q}, keep_all=True, acc_bits=cfg.acc_bits)
    dram_in = np.frombuffer(folder.image, dtype=np.uint8).copy()
    for addr, data in input_bytes(folder, q):
        dram_in[addr : addr + len(data)] = np.frombuffer(data, dtype=np.uint8)
    outputs = set(graph.outputs)
    runs: dict[str, BackendRun] = {}
    checked = 0
    for backend, run in (("machine", run_machine), ("rtl", runner)):
        if run is None:
            continue
        t0 = time.perf_counter()
        # A hang shows after a few times the ideal cycles; the random memory's long tail needs more room.
        ideal = runs["machine"].counters.cycles if runs else 0
        limit = 10 * ideal + 100_000 if memory == "ideal" else 50 * ideal + 1_000_000
        dram, counters = run(cfg, dram_in.copy(), limit)
        seconds = time.perf_counter() - t0
        checked, err = _first_difference(backend, folder, dram, ref, outputs)
        if err is not None:
            raise err
        outs = {s["name"]: read_slot(dram, s, cfg.lanes) for s in folder.layout["outputs"]}
        runs[backend] = BackendRun(backend, counters, outs, seconds, memory if backend == "rtl" else "ideal")
        if backend == "rtl":
            _compare_counters(runs["machine"].counters, counters, memory)
    first = graph.outputs[0]
    output = dequantize_output(runs["machine"].outputs[first], graph.tensors[first].quant.scale[0])  # type: ignore[union-attr]
    from .ir import graph_macs

    macs = graph_macs(graph)
    return SimulationResult(
        folder.path,
        cfg,
        graph,
        {o: ref[o] for o in graph.outputs},
        output,
        runs["machine"],
        runs.get("rtl"),
        predicted_counters(folder),
        macs,
        checked,
        len(folder.image),
        folder.modified,
    )
