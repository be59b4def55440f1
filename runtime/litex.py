"""The runtime's board backend: an accelerator inside a LiteX SoC built by
`dian build DIR --board BOARD`, reached through the SoC's Wishbone bridge.

The board folder's ``board.json`` (data, never code) says where the
accelerator's registers sit on the SoC bus, where the SDRAM is for the host
and for the accelerator's AXI master, and the SDRAM's power-up sequence (``sdram_init.steps``): the
SoC has no CPU, so the host replays it (:meth:`LitexBus.init_sdram`) before
anything touches the SDRAM.

Bridges (``bridge``):

* ``tcp:HOST:PORT`` — LiteX's ``litex_server`` (``litex_server --uart
  --uart-port /dev/ttyUSB0``), through ``litex.tools.litex_client.RemoteClient``;
  its reads time out after 2 s, which this backend turns into an error
  (RemoteClient alone would return zeros);
* ``uart:PORT[@BAUD]`` — the UARTBone port directly (``litex.tools.remote.comm_uart.CommUART``);
  PORT is a device (``/dev/ttyUSB0``) or any pyserial URL (``socket://HOST:PORT``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dian.artifact_io import folder_file, read_json
from dian.errors import BridgeError

__all__ = ["BOARD_FORMAT", "BOARD_FORMAT_VERSION", "LitexBus", "read_board"]

BOARD_FORMAT, BOARD_FORMAT_VERSION = "dian.board", 1
BOARD_JSON = "board.json"
#: Words per bridge request, read or write: UARTBone's and Etherbone's count fields are one byte.
WORDS_PER_REQUEST = 255
DEFAULT_BAUD = 115200


def read_board(board_dir: str | Path) -> dict[str, Any]:
    """``board_dir/board.json``, checked for the fields the runtime uses, or :class:`BridgeError`."""
    path = Path(board_dir) / BOARD_JSON
    node = read_json(path, BridgeError, hint="; rebuild it with `dian build DIR --board BOARD`")
    board = node.value
    if (clocks := node.get("clocks")) is not None:
        for key in ("accel_hz", "sys_hz"):
            if (hz := clocks.get(key)) is not None:
                hz.as_float(1.0, 1e10)
    for key in ("board", "device"):
        if (text := node.get(key)) is not None:
            text.as_str(256)
    if (files := node.get("files")) is not None and (verilog := files.get("verilog")) is not None:
        folder_file(Path(board_dir), verilog.value, BridgeError)
    try:
        if (board["format"], board["format_version"]) != (BOARD_FORMAT, BOARD_FORMAT_VERSION):
            raise ValueError(f"format {board['format']!r} version {board['format_version']!r}")
        for key in ("accel_regs",):
            _word_address(board[key], key)
        dram = board["dram"]
        for key in ("host_base", "accel_base", "size"):
            _word_address(dram[key], f"dram.{key}")
        for step in board["sdram_init"]["steps"]:
            _init_step(step)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BridgeError(
            f"{path} is not a dian board description of format {BOARD_FORMAT} version {BOARD_FORMAT_VERSION} "
            f"({type(e).__name__}: {e}); build it with `dian build DIR --board BOARD`."
        ) from None
    return dict(board)


def _word_address(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 32 or value % 4:
        raise ValueError(f"{what} must be a 4-byte aligned 32-bit address, not {value!r}")
    return value


def _init_step(step: object) -> tuple[str, int, int]:
    """An ``sdram_init`` step: ``["write", address, value]`` or ``["wait_us", n]``."""
    if isinstance(step, list) and len(step) == 3 and step[0] == "write":
        addr, value = _word_address(step[1], "a write's address"), step[2]
        if isinstance(value, int) and 0 <= value < 1 << 32:
            return "write", addr, value
    wait = isinstance(step, list) and len(step) == 2 and step[0] == "wait_us"
    if wait and isinstance(step[1], int | float) and 0 <= step[1] <= 1e6:  # type: ignore[index]
        return "wait_us", 0, int(step[1])  # type: ignore[index]
    raise ValueError(f"sdram_init step {step!r} is neither ['write', address, value] nor ['wait_us', n]")


def _connect(bridge: str, csr_csv: Path | None) -> Any:
    """A LiteX client for ``bridge`` (see the module docstring), opened."""
    kind, _, rest = bridge.partition(":")
    try:
        if kind == "tcp":
            from litex.tools.litex_client import RemoteClient

            host, _, port = rest.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError("tcp takes HOST:PORT")

            class StrictRemoteClient(RemoteClient):  # type: ignore[misc]
                """RemoteClient whose timed-out reads raise instead of returning zeros."""

                def receive_packet(self, sock: Any, addr_size: int) -> Any:
                    packet = super().receive_packet(sock, addr_size)
                    if packet == 0:
                        raise BridgeError(f"the bridge at {bridge} did not answer a read within 2 s")
                    return packet

            csv = str(csr_csv) if csr_csv else None
            client = StrictRemoteClient(host=host, port=int(port), csr_csv=csv, csr_data_width=None if csv else 32)
        elif kind == "uart":
            from litex.tools.remote.comm_uart import CommUART

            port, _, baud = rest.partition("@")
            if not port or (baud and not baud.isdigit()):
                raise ValueError("uart takes PORT or PORT@BAUD")
            client = CommUART(port, int(baud or DEFAULT_BAUD), csr_csv=str(csr_csv) if csr_csv else None)
        else:
            raise ValueError("the bridge must start with tcp: or uart:")
        client.open()
    except ImportError as e:
        raise BridgeError(f"the board runtime needs LiteX ({e}); `make` installs it from requirements.lock.") from None
    except (ValueError, OSError) as e:
        raise BridgeError(
            f"cannot open the bridge {bridge!r}: {e}. Use tcp:HOST:PORT (litex_server, default port 1234) "
            f"or uart:PORT[@BAUD] (a serial device or pyserial URL such as socket://HOST:PORT)."
        ) from None
    return client


class LitexBus:
    """An :class:`~dian.runtime.bus.AccelBus` on a board built by `dian build` (``board_dir`` is
    DIR/board/<board>), through ``bridge``. Close it, or use it in a ``with`` block."""

    def __init__(self, board_dir: str | Path, bridge: str = "tcp:localhost:1234") -> None:
        self.board_dir = Path(board_dir)
        self.board = read_board(self.board_dir)
        self.regs = int(self.board["accel_regs"])
        dram = self.board["dram"]
        self.host_base, self.accel_base, self.size = int(dram["host_base"]), int(dram["accel_base"]), int(dram["size"])
        clocks = self.board.get("clocks", {})
        self.hz = float(clocks.get("accel_hz") or clocks.get("sys_hz") or 50e6)
        self.where = f"the {self.board.get('board', 'board')} at {bridge}"
        csr_csv = self.board_dir / "csr.csv"
        self.client = _connect(bridge, csr_csv if csr_csv.is_file() else None)

    def __enter__(self) -> LitexBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def init_sdram(self) -> None:
        """Replay board.json's SDRAM power-up sequence (register writes and waits) through the bridge."""
        for step in self.board["sdram_init"]["steps"]:
            kind, addr, value = _init_step(step)
            if kind == "write":
                self.client.write(addr, value)
            else:
                time.sleep(value / 1e6)

    def read_reg(self, offset: int) -> int:
        return int(self.client.read(self.regs + offset))

    def write_reg(self, offset: int, value: int) -> None:
        self.client.write(self.regs + offset, value)

    def _host(self, addr: int, n: int) -> int:
        """The host address of the accelerator's byte address ``addr`` (``n`` bytes from it)."""
        if not self.accel_base <= addr <= addr + n <= self.accel_base + self.size:
            raise ValueError(
                f"[0x{addr:x}, +{n}) is outside the board's SDRAM as the accelerator sees it "
                f"[0x{self.accel_base:x}, 0x{self.accel_base + self.size:x})"
            )
        return self.host_base + addr - self.accel_base

    def read_mem(self, addr: int, n: int) -> bytes:
        lo, hi = addr & ~3, (addr + n + 3) & ~3
        host = self._host(lo, hi - lo)
        words: list[int] = []
        while len(words) < (hi - lo) // 4:
            count = min(WORDS_PER_REQUEST, (hi - lo) // 4 - len(words))
            got = self.client.read(host + 4 * len(words), count)
            words += [int(w) for w in got]
        data = b"".join(w.to_bytes(4, "little") for w in words)
        return data[addr - lo : addr - lo + n]

    def write_mem(self, addr: int, data: bytes) -> None:
        lo, hi = addr & ~3, (addr + len(data) + 3) & ~3
        if (lo, hi) != (addr, addr + len(data)):  # partial words at the ends: read, merge, write
            head = self.read_mem(lo, addr - lo)
            tail = self.read_mem(addr + len(data), hi - addr - len(data))
            data = head + data + tail
        host = self._host(lo, hi - lo)
        words = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]
        for at in range(0, len(words), WORDS_PER_REQUEST):
            self.client.write(host + 4 * at, words[at : at + WORDS_PER_REQUEST])

    def idle(self, cycles: int) -> None:
        time.sleep(min(cycles / self.hz, 0.1))
