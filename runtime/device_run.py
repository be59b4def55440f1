"""`dian run --on rtl|board`: one inference through the runtime, from an output
folder to outputs, on the Verilator model or a board, checked against the
reference simulator.

What the host does is the whole register sequence (:class:`~dian.runtime.session.Accelerator`):
on a board, first the SDRAM's power-up sequence (the SoC has no CPU), then
ID/VERSION/CONFIG_HASH, the image, the input, START, the wait, the counters
and the outputs. The reference simulator runs the same int8 input, so the
outputs printed are known to be bit-exact (or the run is an error).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dian import outdir
from dian.errors import OutputDirError, SimulationMismatchError
from dian.safe_paths import make_dirs
from dian.sim.host import quantize_for
from dian.sim.reference import run_graph

from .bus import AccelBus
from .folder import AccelFolder, load_accel_folder
from .session import Accelerator, Inference
from .verilator import VerilatorBus

if TYPE_CHECKING:
    from dian.hwgen.tools.soc_sim import SocSimulation

__all__ = ["DeviceRun", "board_dir", "run_on"]

#: board.json's ``device`` for the simulated SoC (`dian build --board sim`).
SIMULATED_DEVICE = "simulation"


@dataclass(frozen=True)
class DeviceRun:
    """A checked inference: ``inference`` as read from the device, bit-exact with the reference."""

    folder: AccelFolder
    where: str
    inference: Inference
    base: int
    clock_hz: float  # the accelerator's clock: the config's for the RTL, board.json's on a board


def board_dir(out_dir: str | Path, board: str | None) -> Path:
    """DIR/board/<board>, or the only board built in DIR when ``board`` is None."""
    root = Path(out_dir) / outdir.BOARD
    built = sorted(p.name for p in root.iterdir() if (p / "board.json").is_file()) if root.is_dir() else []
    if board is None:
        if len(built) != 1:
            raise OutputDirError(
                f"{out_dir} has {'no board build' if not built else 'builds for ' + ', '.join(built)}; "
                + ("build one with `dian build DIR --board BOARD`." if not built else "name one with --board.")
            )
        board = built[0]
    if board not in built:
        raise OutputDirError(
            f"{out_dir} has no build for board {board!r} (built: {', '.join(built) or 'none'}); "
            f"run `dian build {out_dir} --board {board}` first."
        )
    return root / board


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
    """Run the float input ``x`` through ``out_dir``'s accelerator ``on`` ``"rtl"`` (the Verilator
    model, on the harness's ``memory``) or ``"board"`` (DIR/board/<board> through ``bridge``); raise
    :class:`SimulationMismatchError` when an output differs from the reference simulator's. The
    simulated SoC (`dian build --board sim`) is a board too: it is verilated and started here, and
    reached through its socket instead of ``bridge``. A folder whose files changed since compile is
    refused unless ``allow_modified``."""
    path = Path(out_dir)
    # Refused as modified before the files are checked in depth: --allow-modified is what lets a
    # changed (maybe damaged) folder be read further, and then its damage is named.
    outdir.refuse_modified(path, outdir.read_manifest(path), allow_modified)
    folder = load_accel_folder(out_dir)
    _, q = quantize_for(folder.graph, x, str(out_dir))  # a bad input fails before a model or bridge starts
    bus: AccelBus
    with ExitStack() as opened:  # closed in reverse: the bus, then the simulated SoC it talks to
        if on == "rtl":
            bus = opened.enter_context(VerilatorBus(folder, memory=memory))
            base, clock_hz = 0, folder.cfg.clock_mhz * 1e6
        elif on == "board":
            from .litex import LitexBus, read_board

            where = board_dir(out_dir, board)
            if read_board(where).get("device") == SIMULATED_DEVICE:
                bridge = opened.enter_context(_start_simulated_soc(folder, where)).bridge
            litex_bus = opened.enter_context(LitexBus(where, bridge))
            if init_sdram:
                litex_bus.init_sdram()
            bus, base, clock_hz = litex_bus, litex_bus.accel_base, litex_bus.hz
        else:
            raise ValueError(f"on must be 'rtl' or 'board', not {on!r}")
        acc = Accelerator(folder, bus, base)
        acc.check()
        acc.load()
        result = acc.run_int8(q, irq=irq)
    ref = run_graph(folder.graph, {folder.graph.inputs[0]: q}, acc_bits=folder.cfg.acc_bits)
    for name, want in ((o, ref[o]) for o in folder.graph.outputs):
        got = result.outputs[name]
        if not np.array_equal(got, want):
            bad = int(np.count_nonzero(got != want))
            raise SimulationMismatchError(
                f"{bus.where} and the reference simulator disagree on output '{name}': {bad:,} of "
                f"{want.size:,} elements differ. On a board, check the SDRAM init and the bitstream; "
                f"`dian simulate {out_dir} --rtl` checks the RTL layer by layer.",
                backend=on,
                tensor=name,
            )
    return DeviceRun(folder, bus.where, result, base, clock_hz)


def _start_simulated_soc(folder: AccelFolder, board: Path) -> SocSimulation:
    """The simulated SoC of ``board`` (its Verilog and the folder's), verilated in DIR/build/soc_sim
    (reused while the Verilog is unchanged) and started."""
    from dian.hwgen.tools.soc_sim import SocSimulation, build_soc_sim

    from .litex import read_board

    soc = board / str(read_board(board)["files"]["verilog"])
    rtl = outdir.verilog_files(folder.path, folder.manifest["accel"])
    exe = build_soc_sim([soc, *rtl], soc.stem, make_dirs(folder.path, f"{outdir.BUILD}/soc_sim"))
    return SocSimulation(exe, soc.parent)
