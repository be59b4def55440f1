"""What the runtime needs from the thing between it and the accelerator: 32-bit
register accesses, the memory the accelerator reads and writes, and a way to
let time pass. The Verilator model (:mod:`dian.runtime.verilator`) and a LiteX
SoC behind its bridge (:mod:`dian.runtime.litex`) provide it.

Addresses are the accelerator's: register offsets of hwgen/csr_map.py, and
memory byte addresses as its AXI master puts them on the bus (BASE_ADDR plus
the image's offsets). A backend translates them to whatever its host sees.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["AccelBus", "IrqBus"]


class AccelBus(Protocol):
    """A host's reach into one accelerator."""

    #: Says where the bus goes, for messages ("Verilator model of DIR/rtl", "ulx3s-85f at tcp:...").
    where: str

    def read_reg(self, offset: int) -> int:
        """The 32-bit register at byte offset ``offset``."""
        ...

    def write_reg(self, offset: int, value: int) -> None: ...

    def write_mem(self, addr: int, data: bytes) -> None:
        """Write ``data`` at the accelerator's byte address ``addr`` (4-byte aligned, a multiple of 4 bytes)."""
        ...

    def read_mem(self, addr: int, n: int) -> bytes: ...

    def idle(self, cycles: int) -> None:
        """Let about ``cycles`` accelerator clock cycles pass (between polls of STATUS)."""
        ...

    def close(self) -> None:
        """Let go of the accelerator (stop the model, close the bridge)."""
        ...


@runtime_checkable
class IrqBus(Protocol):
    """A bus that also sees the accelerator's ``irq`` line."""

    def wait_irq(self, max_cycles: int) -> bool:
        """Let cycles pass until irq is 1, at most ``max_cycles`` of them; whether it is 1."""
        ...
