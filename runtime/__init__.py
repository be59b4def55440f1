"""dian.runtime: drive a compiled accelerator from a host program.

:class:`Accelerator` runs the register sequence (check, load the image, write
the input, start, wait by polling or irq, read counters and outputs) over an
:class:`AccelBus`: :class:`VerilatorBus` (the folder's RTL in Verilator) or
:class:`~dian.runtime.litex.LitexBus` (a board built by `dian build`, through
its LiteX bridge; imported on use, it needs litex).
"""

from .bus import AccelBus, IrqBus
from .folder import AccelFolder, RunCounters, load_accel_folder
from .session import Accelerator, Inference
from .verilator import VerilatorBus

__all__ = [
    "AccelBus",
    "AccelFolder",
    "Accelerator",
    "Inference",
    "IrqBus",
    "RunCounters",
    "VerilatorBus",
    "load_accel_folder",
]
