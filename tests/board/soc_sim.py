"""The simulated SoC of `dian build --board sim` in Verilator (dian's harness, hwgen/tools/soc_sim.py:
UARTBone's byte streams on a TCP socket), and a bus client of the test's own that speaks LiteX's
UARTBone protocol to it (litex/soc/cores/uart.py Stream2Wishbone; the same bytes litex_server sends
down a serial port), independent of LiteX's client and of dian.runtime: writes ``0x01``, n, the word
address (4 bytes, big-endian), n words (4 bytes, big-endian); reads ``0x02``, n, the word address,
answered with n words."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from dian.hwgen.tools.soc_sim import SocSimulation, build_soc_sim


def build(board_dir: Path, rtl: list[Path], work: Path) -> Path:
    """Verilate the SoC of ``board_dir`` (a `--board sim` build) with the accelerator's ``rtl`` and the
    harness into ``work``; the executable."""
    return build_soc_sim([board_dir / "gateware" / "dian_soc.v", *rtl], "dian_soc", work)


class SimBus:
    """read/write 32-bit words at SoC bus byte addresses, through UARTBone, on the running harness."""

    def __init__(self, exe: Path, cwd: Path) -> None:
        self.sim = SocSimulation(exe, cwd)
        self.sock = socket.create_connection(("127.0.0.1", self.sim.port), timeout=60)

    def _recv(self, n: int) -> bytes:
        got = b""
        while len(got) < n and (chunk := self.sock.recv(n - len(got))):
            got += chunk
        if len(got) != n:
            raise RuntimeError(f"the simulated SoC answered {len(got)} of {n} bytes")
        return got

    def write(self, addr: int, words: int | list[int]) -> None:
        ws = [words] if isinstance(words, int) else words
        for i in range(0, len(ws), 255):
            chunk = ws[i : i + 255]
            head = bytes([0x01, len(chunk)]) + struct.pack(">I", addr // 4 + i)
            self.sock.sendall(head + b"".join(struct.pack(">I", w) for w in chunk))

    def read(self, addr: int, n: int = 1) -> list[int]:
        out: list[int] = []
        for i in range(0, n, 255):
            k = min(255, n - i)
            self.sock.sendall(bytes([0x02, k]) + struct.pack(">I", addr // 4 + i))
            out += list(struct.unpack(f">{k}I", self._recv(4 * k)))
        return out

    def close(self) -> None:
        self.sock.close()
        self.sim.close()
