"""One accelerator driven by a host program through its registers: the
sequence of docs/accelerator.md ("Bus interface") as code.

    acc = Accelerator(load_accel_folder("lenet-accel"), bus, base=0x0)
    acc.check()            # ID, VERSION and the config hash: the folder's accelerator is on the bus
    acc.load()             # the image at `base`: program, weights, parameters, activation slots
    res = acc.run(x)       # quantize, write the input, START, wait, counters, outputs

``run`` is the composition of the public steps (``write_input``, ``start``,
``wait``, ``counters``, ``read_outputs``), for hosts that interleave their
own work. Any number of runs may follow one ``load``: a run overwrites only
activation slots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dian.errors import AcceleratorFaultError, AcceleratorMismatchError, CycleLimitError
from dian.hwgen.csr_map import (
    BASE_ALIGN_BITS,
    CONFIG_HASH_BYTES,
    COUNTERS,
    ID,
    STATUS_ERROR_CODE_SHIFT,
    VERSION,
    VERSION_MAJOR,
    Control,
    Irq,
    Reg,
    Status,
    error_hint,
)
from dian.hwgen.image_format import HEADER_FIELDS
from dian.sim.host import quantize_for
from dian.sim.reference import dequantize_output

from .bus import AccelBus, IrqBus
from .folder import AccelFolder, RunCounters, input_bytes, predicted_counters, slot_tensor

__all__ = ["Accelerator", "Inference"]

#: The first and the largest number of cycles between two polls of STATUS.
POLL_FIRST, POLL_MAX = 16, 1 << 14


@dataclass(frozen=True)
class Inference:
    """One run's results, read from the accelerator."""

    outputs: dict[str, np.ndarray]  # every graph output, int8, as the accelerator left it
    output: np.ndarray  # the (first) graph output, dequantized to float32
    counters: RunCounters  # read through the registers
    status: int  # STATUS at the end
    seconds: float  # wall-clock time from START to the last output byte read


class Accelerator:
    """The accelerator of ``folder`` on ``bus``, its image at the accelerator's byte address ``base``
    (4 KiB aligned: BASE_ADDR ignores the low bits)."""

    def __init__(self, folder: AccelFolder, bus: AccelBus, base: int = 0) -> None:
        align = 1 << BASE_ALIGN_BITS
        if base % align or not 0 <= base <= (1 << 32) - len(folder.image):
            raise ValueError(
                f"the image base 0x{base:x} must be {align}-byte aligned and leave the "
                f"{len(folder.image):,}-byte image inside the 32-bit address space"
            )
        self.folder, self.bus, self.base = folder, bus, base

    def check(self) -> None:
        """Read ID, VERSION and CONFIG_HASH: :class:`AcceleratorMismatchError` unless the accelerator
        on the bus is a dian accelerator of this register-map version, built from the folder's config."""
        bus = self.bus
        found = bus.read_reg(Reg.ID)
        if found != ID:
            raise AcceleratorMismatchError(
                f"no dian accelerator answers on {bus.where}: its ID register reads 0x{found:08X}, not "
                f"0x{ID:08X} (b'DIAN'). Check the bridge, the board, and that the bitstream is loaded."
            )
        version = bus.read_reg(Reg.VERSION)
        if version >> 16 != VERSION_MAJOR:
            raise AcceleratorMismatchError(
                f"the accelerator on {bus.where} has register map version {version >> 16}.{version & 0xFFFF}; "
                f"this dian drives {VERSION >> 16}.{VERSION & 0xFFFF}. Rebuild the bitstream with this dian."
            )
        words = [bus.read_reg(Reg.CONFIG_HASH0 + 4 * i) for i in range(CONFIG_HASH_BYTES // 4)]
        on_bus = b"".join(w.to_bytes(4, "little") for w in words)
        in_image = HEADER_FIELDS.unpack_from(self.folder.image)[2]
        if on_bus != in_image:
            raise AcceleratorMismatchError(
                f"the accelerator on {bus.where} was built from another accelerator config than "
                f"{self.folder.path} (config hash {on_bus.hex()} on the bus, {in_image.hex()} in program.bin); "
                f"rebuild the bitstream from this folder (`dian build {self.folder.path} --board ...`)."
            )

    def load(self) -> None:
        """Write the whole image at ``base``."""
        self.bus.write_mem(self.base, self.folder.image)

    def write_input(self, q: np.ndarray) -> None:
        """Write the int8 graph input ``q`` into its slots."""
        for offset, data in input_bytes(self.folder, q):
            self.bus.write_mem(self.base + offset, data)

    def start(self, *, irq: bool = False) -> None:
        """BASE_ADDR, IRQ_ENABLE (DONE when ``irq``, else 0), then CONTROL.START."""
        self.bus.write_reg(Reg.BASE_ADDR, self.base)
        self.bus.write_reg(Reg.IRQ_ENABLE, int(Irq.DONE) if irq else 0)
        self.bus.write_reg(Reg.CONTROL, int(Control.START))

    def wait(self, max_cycles: int, *, irq: bool = False) -> int:
        """Wait for the run to end, polling STATUS (or, with ``irq``, for the irq line); STATUS.

        Raises :class:`CycleLimitError` after about ``max_cycles`` cycles of waiting and
        :class:`AcceleratorFaultError` when the run ended with an error code."""
        bus = self.bus
        if irq:
            if not isinstance(bus, IrqBus):
                raise ValueError(f"{bus.where} has no interrupt line to wait on; wait by polling STATUS instead")
            if not bus.wait_irq(max_cycles):
                raise CycleLimitError(f"the accelerator on {bus.where} raised no irq within {max_cycles:,} cycles")
            status = bus.read_reg(Reg.STATUS)
        else:
            waited, step = 0, POLL_FIRST
            while not (status := bus.read_reg(Reg.STATUS)) & Status.DONE:
                if waited >= max_cycles:
                    raise CycleLimitError(
                        f"the accelerator on {bus.where} was not DONE after {waited:,} cycles "
                        f"(STATUS 0x{status:08X}); it may be hung, or max_cycles is too small"
                    )
                bus.idle(step)
                waited, step = waited + step, min(2 * step, POLL_MAX)
        bus.write_reg(Reg.IRQ_STATUS, int(Irq.DONE))
        code = status >> STATUS_ERROR_CODE_SHIFT & 0xFF
        if code or status & Status.ERROR:
            name, hint = error_hint(code)
            raise AcceleratorFaultError(
                f"the accelerator on {bus.where} ended the run with {name} (STATUS 0x{status:08X}): {hint}",
                code=code,
                name=name,
            )
        return status

    def counters(self) -> RunCounters:
        """The last run's counters, each 64-bit value read low word first (that latches the high word)."""
        values = {}
        for name, lo in COUNTERS.items():
            low = self.bus.read_reg(lo)
            values[name] = low | self.bus.read_reg(lo + 4) << 32
        return RunCounters(values["cycles"], values["busy_pe"], values["bytes_read"], values["bytes_written"])

    def read_outputs(self) -> dict[str, np.ndarray]:
        """Every graph output, int8, read from its slot."""
        out = {}
        for slot in self.folder.layout["outputs"]:
            data = self.bus.read_mem(self.base + int(slot["addr"]), int(slot["bytes"]))
            out[slot["name"]] = slot_tensor(data, slot, self.folder.cfg.lanes)
        return out

    def run_int8(self, q: np.ndarray, *, max_cycles: int | None = None, irq: bool = False) -> Inference:
        """One inference on the int8 graph input ``q``: write it, start, wait, read counters and outputs.
        ``max_cycles`` defaults to 50 times the schedules' prediction plus a million."""
        limit = max_cycles if max_cycles is not None else 50 * predicted_counters(self.folder).cycles + 1_000_000
        self.write_input(q)
        t0 = time.perf_counter()
        self.start(irq=irq)
        status = self.wait(limit, irq=irq)
        counters = self.counters()
        outputs = self.read_outputs()
        seconds = time.perf_counter() - t0
        graph = self.folder.graph
        first = graph.outputs[0]
        quant = graph.tensors[first].quant
        assert quant is not None
        return Inference(outputs, dequantize_output(outputs[first], quant.scale[0]), counters, status, seconds)

    def run(self, x: np.ndarray, *, max_cycles: int | None = None, irq: bool = False) -> Inference:
        """One inference on the float input ``x`` (checked and quantized as `dian run` does)."""
        _, q = quantize_for(self.folder.graph, x, str(self.folder.path))
        return self.run_int8(q, max_cycles=max_cycles, irq=irq)
