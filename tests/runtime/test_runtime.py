"""dian.runtime against the Verilator model of the trained digits LeNet on `tiny`.

Independent checks: outputs against sim/reference (run here on the same int8 input), the
counters read through the registers against the machine simulator's, a tampered image
against the accelerator's own CONFIG_MISMATCH, and the board backend (LitexBus) through a
UARTBone peer written here from the protocol (command byte, length, big-endian word address,
big-endian data words), not from LiteX's client code, with the Verilator model behind it.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tool_helpers import needs

from dian import api
from dian.errors import AcceleratorFaultError, AcceleratorMismatchError, BridgeError, CycleLimitError
from dian.hwgen.tools.verilator_serve import HarnessServer
from dian.runtime import Accelerator, AccelFolder, VerilatorBus, load_accel_folder
from dian.sim.machine import Machine
from dian.sim.reference import run_graph

pytestmark = needs("verilator")

# The register offsets and constants of the bus spec (docs/accelerator.md), written out here.
ID, STATUS, CYCLES_LO = 0x00, 0x1C, 0x30
ID_DIAN = 0x4E414944


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> AccelFolder:
    out = tmp_path_factory.mktemp("runtime") / "lenet-tiny"
    api.compile_model("zoo:lenet", (1, 1, 8, 8), out, accel="tiny", calib_samples=16, seed=1, rtl=False)
    return load_accel_folder(out)


@pytest.fixture(autouse=True)
def _shared_build(monkeypatch: pytest.MonkeyPatch, tiny_harness: Path) -> None:
    """Every VerilatorBus here runs the session's Verilator build of `tiny` (tests/conftest.py), which
    the folder's own rtl/ would give too: the RTL depends on the config alone. (The CLI test in
    tests/e2e builds from a folder's rtl/.)"""
    import dian.runtime.verilator as backend
    from dian.hwgen.presets import PRESETS

    def build(folder: AccelFolder) -> Path:
        assert folder.cfg == PRESETS["tiny"]
        return tiny_harness

    monkeypatch.setattr(backend, "build_model", build)


def _inputs(folder: AccelFolder, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    shape = folder.graph.tensors[folder.graph.inputs[0]].shape
    return [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(n)]


def _machine(folder: AccelFolder, q: np.ndarray) -> tuple[int, int, int, int]:
    """The machine simulator's counters for the int8 input ``q`` (an independent model of the RTL)."""
    from dian.runtime.folder import input_bytes

    dram = np.frombuffer(folder.image, dtype=np.uint8).copy()
    for addr, data in input_bytes(folder, q):
        dram[addr : addr + len(data)] = np.frombuffer(data, dtype=np.uint8)
    c = Machine(folder.cfg, dram).run()
    return c.cycles, c.busy_pe_cycles, c.dram_bytes_read, c.dram_bytes_written


def _reference(folder: AccelFolder, q: np.ndarray) -> dict[str, np.ndarray]:
    ref = run_graph(folder.graph, {folder.graph.inputs[0]: q}, acc_bits=folder.cfg.acc_bits)
    return {o: ref[o] for o in folder.graph.outputs}


def _same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> bool:
    return got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)


@pytest.mark.parametrize("irq", [False, True], ids=["poll", "irq"])
def test_runs_match_reference_and_machine(folder: AccelFolder, irq: bool) -> None:
    """Two inferences after one load, at a non-zero base: bytes as the reference's, counters as the machine's."""
    base = 0x7000
    with VerilatorBus(folder, base=base) as bus:
        acc = Accelerator(folder, bus, base=base)
        acc.check()
        acc.load()
        for q in _inputs(folder, 2):
            run = acc.run_int8(q, irq=irq)
            assert _same(run.outputs, _reference(folder, q))
            c = run.counters
            assert (c.cycles, c.busy_pe_cycles, c.dram_bytes_read, c.dram_bytes_written) == _machine(folder, q)
            assert run.status == 0b10  # DONE, not BUSY, no error
        assert bus.server.bus()["idle"] == 1


def test_random_memory_keeps_bytes(folder: AccelFolder) -> None:
    """On the seeded adversary memory the outputs and byte counts are still exact; cycles grow."""
    (q,) = _inputs(folder, 1)
    with VerilatorBus(folder, memory="random:3") as bus:
        acc = Accelerator(folder, bus)
        acc.load()
        run = acc.run_int8(q)
    ideal = _machine(folder, q)
    assert _same(run.outputs, _reference(folder, q))
    assert (run.counters.dram_bytes_read, run.counters.dram_bytes_written) == ideal[2:]
    assert run.counters.cycles > ideal[0]


def test_float_input_matches_dian_run(folder: AccelFolder) -> None:
    x = np.random.default_rng(2).random((1, 1, 8, 8)).astype(np.float32) * 16
    with VerilatorBus(folder) as bus:
        acc = Accelerator(folder, bus)
        acc.load()
        got = acc.run(x).output
    np.testing.assert_array_equal(got, api.run_model(folder.path, x))


def test_check_and_faults(folder: AccelFolder) -> None:
    image = bytearray(folder.image)
    image[8] ^= 0xFF  # the header's config hash (bytes 8..23)
    other = dataclasses.replace(folder, image=bytes(image))
    (q,) = _inputs(folder, 1)
    with VerilatorBus(folder) as bus:
        assert bus.read_reg(ID) == ID_DIAN
        acc = Accelerator(other, bus)
        with pytest.raises(AcceleratorMismatchError, match="config hash"):
            acc.check()
        acc.load()
        with pytest.raises(AcceleratorFaultError, match="CONFIG_MISMATCH") as e:
            acc.run_int8(q)
        assert e.value.name == "CONFIG_MISMATCH"
        good = Accelerator(folder, bus)
        good.load()  # the same model recovers: START after a fault runs the right image
        with pytest.raises(CycleLimitError):
            good.run_int8(q, max_cycles=100)
        assert _same(good.run_int8(q).outputs, _reference(folder, q))


def test_server_refuses_bad_commands(folder: AccelFolder) -> None:
    with VerilatorBus(folder) as bus:
        server = bus.server
        with pytest.raises(ValueError, match="outside the memory"):
            server.write_mem(server.size - 2, b"\x01\x02\x03\x04")
        with pytest.raises(ValueError, match="unknown command"):
            server.ask("poke 1")
        assert server.read_reg(ID) == ID_DIAN  # still serving
        before = server.cycle()
        assert server.step(10) == before + 10


def test_not_a_dian_accelerator(folder: AccelFolder) -> None:
    class Zeros:
        where = "a bus with nothing on it"

        def read_reg(self, offset: int) -> int:
            return 0

    with pytest.raises(AcceleratorMismatchError, match="no dian accelerator answers on a bus with nothing"):
        Accelerator(folder, Zeros()).check()  # type: ignore[arg-type]


# --- the board backend through a UARTBone peer -------------------------------------------------

REGS, HOST_DRAM, ACCEL_DRAM = 0x8200_0000, 0x4000_0000, 0x1000_0000
DFII = 0xF000_1000  # where the test's board.json says the SDRAM's init registers are
CMD_WRITE, CMD_READ = 0x01, 0x02


class UartBonePeer:
    """A TCP server speaking UARTBone (LiteX's Stream2Wishbone framing) for one client: registers at
    REGS go to the harness's AXI-Lite master, [HOST_DRAM, +size) to its memory (as ACCEL_DRAM +
    offset), other writes (the SDRAM init's) are recorded. The model's clock runs only in register
    accesses, so a register read first lets 1,000 cycles pass, as the bridge's round trip would."""

    def __init__(self, server: HarnessServer) -> None:
        self.server, self.dfii_writes = server, []  # type: ignore[var-annotated]
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:

            def read(n: int) -> bytes:
                data = b""
                while len(data) < n and (chunk := conn.recv(n - len(data))):
                    data += chunk
                return data

            while len(head := read(6)) == 6:
                cmd, n, word = struct.unpack(">BBI", head)
                for i in range(n):
                    addr = 4 * (word + i)
                    if cmd == CMD_WRITE:
                        self._write(addr, struct.unpack(">I", read(4))[0])
                    else:
                        conn.sendall(struct.pack(">I", self._read(addr)))

    def _write(self, addr: int, value: int) -> None:
        if REGS <= addr < REGS + 0x1000:
            self.server.write_reg(addr - REGS, value)
        elif HOST_DRAM <= addr < HOST_DRAM + self.server.size:
            self.server.write_mem(addr - HOST_DRAM + ACCEL_DRAM, value.to_bytes(4, "little"))
        else:
            self.dfii_writes.append((addr, value))

    def _read(self, addr: int) -> int:
        if REGS <= addr < REGS + 0x1000:
            self.server.step(1000)  # a UART round trip is tens of thousands of accelerator cycles
            return self.server.read_reg(addr - REGS)
        return int.from_bytes(self.server.read_mem(addr - HOST_DRAM + ACCEL_DRAM, 4), "little")


INIT = [["write", DFII, 0x0E], ["wait_us", 10], ["write", DFII + 4, 0x0B], ["write", DFII, 0x01]]


def _board_json(folder: Path, size: int) -> Path:
    import json

    board = folder / "board" / "testboard"
    board.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": "dian.board",
        "format_version": 1,
        "board": "testboard",
        "accel_regs": REGS,
        "dram": {"host_base": HOST_DRAM, "accel_base": ACCEL_DRAM, "size": size},
        "sdram_init": {"steps": INIT},
        "clocks": {"sys_hz": 50_000_000},
    }
    (board / "board.json").write_text(json.dumps(doc))
    return board


@pytest.fixture
def peer(folder: AccelFolder) -> Iterator[UartBonePeer]:
    with VerilatorBus(folder, base=ACCEL_DRAM) as bus:
        yield UartBonePeer(bus.server)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("via", ["uart", "litex_server"])
def test_board_backend_through_uartbone(folder: AccelFolder, peer: UartBonePeer, tmp_path: Path, via: str) -> None:
    """LitexBus (CommUART directly, or RemoteClient through a real litex_server) runs an inference whose
    outputs match the reference, after replaying board.json's SDRAM init in order."""
    from dian.runtime.litex import LitexBus

    board = _board_json(tmp_path, size=peer.server.size)
    server = None
    if via == "uart":
        bridge = f"uart:socket://127.0.0.1:{peer.port}"
    else:
        exe = shutil.which("litex_server", path=str(Path(sys.executable).parent))
        assert exe, "litex_server is installed with litex"
        port = _free_port()
        cmd = [exe, "--uart", "--uart-port", f"socket://127.0.0.1:{peer.port}", "--bind-port", str(port)]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bridge = f"tcp:127.0.0.1:{port}"
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
    try:
        (q,) = _inputs(folder, 1)
        with LitexBus(board, bridge) as bus:
            bus.init_sdram()
            acc = Accelerator(folder, bus, base=ACCEL_DRAM)
            acc.check()
            acc.load()
            run = acc.run_int8(q)
        assert peer.dfii_writes == [(DFII, 0x0E), (DFII + 4, 0x0B), (DFII, 0x01)]
        assert _same(run.outputs, _reference(folder, q))
        assert run.counters.cycles == _machine(folder, q)[0]
    finally:
        if server is not None:
            server.terminate()
            server.wait()


def test_board_json_errors(tmp_path: Path) -> None:
    from dian.runtime.litex import LitexBus

    with pytest.raises(BridgeError, match=r"board\.json"):
        LitexBus(tmp_path, "uart:loop://")
    board = _board_json(tmp_path, size=4096)
    with pytest.raises(BridgeError, match="tcp: or uart:"):
        LitexBus(board, "usb:0")
    text = (board / "board.json").read_text().replace('"wait_us"', '"exec"')
    (board / "board.json").write_text(text)
    with pytest.raises(BridgeError, match="neither"):
        LitexBus(board, "uart:loop://")
