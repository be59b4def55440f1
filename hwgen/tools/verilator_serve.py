"""The Verilator harness in its serve mode: a running model of the accelerator
that a host program drives one register access at a time.

:mod:`~dian.hwgen.tools.verilator_run` runs the harness as a batch job (the
whole register sequence inside the C++). Here the same executable, started
with ``--serve SIZE``, keeps the accelerator and its AXI memory alive and
answers one command per line (the harness's header lists them): register
reads and writes through its AXI-Lite master (clock cycles pass), memory
reads and writes beside the bus (no cycles pass, as another master that owns
the memory would), and clock steps. dian.runtime's Verilator backend is this
class; one build serves `dian simulate --rtl` and the runtime.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import TracebackType

from dian.errors import BusProtocolError, ToolFailedError

from .verilator_run import EXIT_AXI, EXIT_CONTRACT, parse_memory

__all__ = ["HarnessServer"]

#: Bytes per ``mw`` command: lines stay a few hundred KiB long.
CHUNK_BYTES = 1 << 17


class HarnessServer:
    """A harness executable (from :func:`~dian.hwgen.tools.verilator_run.build_harness`) serving a
    ``size``-byte zeroed memory at byte address ``base``; ``memory`` is ``"ideal"`` or
    ``"random:SEED"`` (the memory's and the AXI-Lite master's timing). Close it (or use it as a
    context manager) to stop the process.

    Raises :class:`BusProtocolError` when the accelerator breaks the AXI4 protocol or the
    AXI-Lite contract (the process has then exited), ValueError for a command the harness
    refuses (an address outside the memory), :class:`ToolFailedError` when the process dies."""

    def __init__(self, exe: Path, size: int, *, memory: str = "ideal", base: int = 0) -> None:
        self.memory = parse_memory(memory)
        self.base, self.size = base, size
        self.exe = Path(exe).resolve()
        args = [str(self.exe), "--serve", str(size), "--memory", self.memory, "--base", str(base)]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )

    def __enter__(self) -> HarnessServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the harness (``quit``, or kill it when it does not answer)."""
        proc = self._proc
        if proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def ask(self, command: str) -> str:
        """Send one command line; the reply after ``ok`` (the harness's header lists them)."""
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = ""
        if line.startswith("ok"):
            return line[2:].strip()
        if line.startswith("error "):
            kind, _, message = line[6:].strip().partition(" ")
            if kind == "usage":
                raise ValueError(f"the Verilator harness refused '{command[:60]}': {message}")
            code = proc.wait(timeout=10)
            what = "broke the AXI4 protocol" if code == EXIT_AXI else "broke the AXI-Lite contract"
            assert code in (EXIT_AXI, EXIT_CONTRACT), code
            raise BusProtocolError(f"the accelerator {what}: {message} (harness {self.exe})", code)
        code = proc.wait(timeout=10)
        err = proc.stderr.read() if proc.stderr is not None else ""
        raise ToolFailedError(
            f"the Verilator harness {self.exe} stopped (exit code {code}) on '{command[:60]}': {err.strip()[-2000:]}",
            code,
        )

    def read_reg(self, offset: int) -> int:
        return int(self.ask(f"r {offset}"))

    def write_reg(self, offset: int, value: int) -> None:
        self.ask(f"w {offset} {value}")

    def write_mem(self, addr: int, data: bytes) -> None:
        for at in range(0, len(data), CHUNK_BYTES):
            self.ask(f"mw {addr + at} {data[at : at + CHUNK_BYTES].hex()}")

    def read_mem(self, addr: int, n: int) -> bytes:
        out = bytearray()
        for at in range(0, n, CHUNK_BYTES):
            out += bytes.fromhex(self.ask(f"mr {addr + at} {min(CHUNK_BYTES, n - at)}"))
        return bytes(out)

    def step(self, cycles: int) -> int:
        """Run ``cycles`` clock cycles; the cycles since reset."""
        return int(self.ask(f"step {cycles}"))

    def wait_irq(self, max_cycles: int) -> tuple[int, bool]:
        """Run until ``irq`` is 1, at most ``max_cycles`` cycles: the cycles run and irq."""
        n, irq = self.ask(f"wait_irq {max_cycles}").split()
        return int(n), irq == "1"

    def cycle(self) -> int:
        return int(self.ask("cycle"))

    def bus(self) -> dict[str, int]:
        """The memory's counts (bursts, beats, stalls, ...) and ``idle`` (nothing outstanding)."""
        return {k: int(v) for k, v in json.loads(self.ask("bus")).items()}
