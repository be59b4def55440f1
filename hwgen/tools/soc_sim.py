"""The simulated dian SoC (`dian build DIR --board sim`) in Verilator, with its
UARTBone byte streams on a TCP socket, so that a host reaches it exactly as it
reaches a board's serial port: dian.runtime's ``uart:socket://127.0.0.1:PORT``
bridge (LiteX's CommUART over pyserial's socket URL).

The harness (``rtl_templates/soc_sim_harness.cpp.j2``, whose header is the
reference for its command line and output) runs the SoC's clock freely, as a
board's runs, while the host talks to it; it ends when the host disconnects.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from types import TracebackType

from dian.errors import ToolFailedError

from .templates import render
from .verilator_run import verilate

__all__ = ["SOC_SIM_EXE", "SocSimulation", "build_soc_sim"]

SOC_SIM_EXE = "soc_sim"
RESET_CYCLES = 16
POLL_CYCLES = 64


def build_soc_sim(verilog_files: list[Path], top: str, build_dir: Path) -> Path:
    """Verilate the SoC ``top`` from ``verilog_files`` (the SoC's Verilog and the accelerator's) with
    the harness into ``build_dir``; the executable (reused while its inputs are unchanged)."""
    text = "".join(Path(f).read_text() for f in verilog_files)
    ports = re.search(rf"module\s+{re.escape(top)}\s*\((.*?)\);", text, re.S)
    if ports is None:
        raise ToolFailedError(f"no module {top} in {', '.join(map(str, verilog_files))}")
    accel_clk = re.search(r"\baccel_clk\b", ports.group(1)) is not None
    source = render(
        "soc_sim_harness.cpp.j2", top=top, accel_clk=accel_clk, reset_cycles=RESET_CYCLES, poll_cycles=POLL_CYCLES
    )
    return verilate(verilog_files, top, {"soc_sim.cpp": source}, build_dir, SOC_SIM_EXE)


class SocSimulation:
    """A running simulated SoC: ``bridge`` is the runtime's bridge to it. ``cwd`` is where the SoC's
    memory initialization files are (LiteX's gateware/: the Verilog names them relative to it).
    Stops when the host disconnects, or on :meth:`close`."""

    def __init__(self, exe: Path, cwd: Path, *, max_cycles: int | None = None, trace_bytes: bool = False) -> None:
        args = [str(Path(exe).resolve()), *(["--max-cycles", str(max_cycles)] if max_cycles else [])]
        args += ["--trace-bytes"] if trace_bytes else []
        self._proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        m = re.fullmatch(r"port (\d+)\n", line)
        if m is None:
            self._proc.kill()
            err = self._proc.communicate()[1]
            raise ToolFailedError(f"the simulated SoC {exe} did not start: {line.strip()} {err.strip()[-2000:]}")
        self.port = int(m.group(1))
        self.bridge = f"uart:socket://127.0.0.1:{self.port}"
        self.cycles: int | None = None
        self.stderr = ""  # what the harness wrote there (--trace-bytes), after close()

    def __enter__(self) -> SocSimulation:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self, timeout: float = 30) -> None:
        """Wait for the harness to end (the host has disconnected), or stop it; ``cycles`` it ran."""
        try:
            out, self.stderr = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, self.stderr = self._proc.communicate()
        m = re.search(r"^cycles (\d+)$", out, re.M)
        self.cycles = int(m.group(1)) if m else None
