"""The runtime's Verilator backend: the accelerator's RTL (the folder's rtl/)
in the harness's serve mode, with an AXI memory behind its master that the
host reads and writes directly, as another master owning the memory would.

The build is the one `dian simulate --rtl` makes (DIR/build/verilator, reused
while the Verilog is unchanged). The memory is the harness's ideal memory (the
timing the machine simulator is exact for: a run's CYCLES register equals the
machine simulator's cycles) or its seeded random adversary.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from dian import outdir
from dian.hwgen.tools.verilator_run import build_harness
from dian.hwgen.tools.verilator_serve import HarnessServer
from dian.safe_paths import make_dirs

from .folder import AccelFolder

__all__ = ["VerilatorBus", "build_model"]


class VerilatorBus:
    """An :class:`~dian.runtime.bus.AccelBus` (and ``IrqBus``) on the Verilator model of ``folder``'s
    RTL, with a zeroed memory of ``size`` bytes (default: the image, rounded up to the bus width) at the
    accelerator's byte address ``base``. Close it, or use it in a ``with`` block, to stop the model.
    ``harness`` is a harness already built from the same Verilog (tests share one build)."""

    def __init__(
        self,
        folder: AccelFolder,
        *,
        memory: str = "ideal",
        base: int = 0,
        size: int | None = None,
        harness: Path | None = None,
    ) -> None:
        cfg = folder.cfg
        exe = harness or build_model(folder)
        width = cfg.dram_bus_bits // 8
        size = -(-(len(folder.image) if size is None else size) // width) * width
        self.server = HarnessServer(exe, size, memory=memory, base=base)
        self.where = f"the Verilator model of {Path(folder.path) / 'rtl'} ({self.server.memory} memory)"

    def __enter__(self) -> VerilatorBus:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.server.close()

    def read_reg(self, offset: int) -> int:
        return self.server.read_reg(offset)

    def write_reg(self, offset: int, value: int) -> None:
        self.server.write_reg(offset, value)

    def write_mem(self, addr: int, data: bytes) -> None:
        self.server.write_mem(addr, data)

    def read_mem(self, addr: int, n: int) -> bytes:
        return self.server.read_mem(addr, n)

    def idle(self, cycles: int) -> None:
        self.server.step(cycles)

    def wait_irq(self, max_cycles: int) -> bool:
        return self.server.wait_irq(max_cycles)[1]


def build_model(folder: AccelFolder) -> Path:
    """The harness of the folder's rtl/, built in DIR/build/verilator (reused while the Verilog is unchanged)."""
    accel = folder.manifest["accel"]
    files = outdir.verilog_files(folder.path, accel)
    cfg = folder.cfg
    return build_harness(
        files,
        accel["rtl"]["top"],
        cfg.dram_bus_bits,
        cfg.dram_latency,
        make_dirs(folder.path, f"{outdir.BUILD}/verilator"),
        max_burst=cfg.max_burst_beats,
    )
