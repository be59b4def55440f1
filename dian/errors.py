"""Typed user errors.

Every error a user can cause (bad model, bad shape, malformed file, missing
tool) is a :class:`DianError`. Its message is one paragraph that says what was
wrong and what is allowed; the CLI prints it without a traceback and exits 2.
Anything else escaping is a bug in dian.
"""

from __future__ import annotations


class DianError(Exception):
    """Base of all user-facing errors."""


class UnsupportedOpError(DianError):
    """The model uses a module, function or method dian cannot lower."""


class IRValidationError(DianError):
    """A Graph breaks an invariant of the IR (shape, dtype, attribute, overflow)."""


class IRFormatError(DianError):
    """A serialized IR file is malformed or from an unknown format version."""


class ModelLoadError(DianError):
    """A model source (`file.py:factory`, `zoo:NAME`) cannot be loaded."""


class InputShapeError(DianError):
    """An input array or `--input-shape` does not match what the model accepts."""


class QuantizationError(DianError):
    """Quantization cannot meet the arithmetic contract (e.g. accumulator overflow)."""


class ResourceLimitError(DianError):
    """A command would need more memory than dian's limit (``DIAN_MAX_MEMORY``, dian/limits.py)."""


class OutputDirError(DianError):
    """A compile output folder is missing, incomplete or not a dian folder."""


class AccelConfigError(DianError):
    """An accelerator config (preset name or JSON file) is unknown, malformed or infeasible."""


class AcceleratorMismatchError(DianError):
    """The accelerator a runtime bus reaches is not the folder's: no dian ID there, another register-map
    version, or another accelerator config (its config hash)."""


class BridgeError(DianError):
    """The host cannot talk to a board: the bridge (litex_server, a serial port) is not there, timed
    out, or the board description (board.json) is missing or malformed."""


class BoardError(DianError):
    """A board build that cannot be made: an unknown board, or an accelerator or image the board cannot carry."""


class ToolNotFoundError(DianError):
    """An external hardware tool (Verilator, Yosys, nextpnr) is not where dian looks."""


class ToolFailedError(DianError):
    """An external tool ran and failed; the message ends with the last lines of its log."""

    def __init__(self, message: str, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode  # the tool's exit code; None when it timed out


class CycleLimitError(ToolFailedError):
    """A simulated design did not end its run within the allowed number of cycles."""


class AcceleratorFaultError(ToolFailedError):
    """A simulated accelerator ended a run with an error code in STATUS: ``code`` and its ``name``
    (hwgen/csr_map.py ``ErrorCode``, e.g. ``READ_ERROR``)."""

    def __init__(self, message: str, returncode: int | None = None, *, code: int = 0, name: str = "") -> None:
        super().__init__(message, returncode)
        self.code, self.name = code, name


class BusProtocolError(ToolFailedError):
    """A simulated accelerator broke its bus contract: the AXI4 protocol on its master (a 4 KiB crossing,
    an unaligned address, a valid dropped before ready, ...), or the harness's rules for the AXI4-Lite
    slave, irq and STATUS."""


class ScheduleError(DianError):
    """A layer cannot be mapped onto the accelerator (no tile fits its buffers or instruction memory)."""


class MappingError(DianError):
    """An invalid mapper setting (objective, search budget)."""


class SearchSpaceError(DianError):
    """A co-search space, architecture, data set or search setting that is not well formed."""


class CheckpointError(DianError):
    """A search checkpoint that is not one dian wrote: a pickle (never loaded: it can carry code), a
    damaged zip, or a document that does not fit the search being resumed."""


class ProgramError(DianError):
    """An accelerator program is malformed: a field does not fit its encoding, or the engines deadlock."""


class SimulationMismatchError(DianError):
    """A backend (machine simulator or RTL) disagrees with the reference simulator, or the RTL's
    performance counters with the machine simulator's. ``tensor``, ``layer`` and ``index`` locate
    the first differing activation element in graph order; ``counter`` names a differing counter."""

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        tensor: str | None = None,
        layer: str | None = None,
        index: tuple[int, ...] | None = None,
        counter: str | None = None,
    ) -> None:
        super().__init__(message)
        self.backend, self.tensor, self.layer, self.index, self.counter = backend, tensor, layer, index, counter


class UnsafePathError(OutputDirError):
    """A path dian would write inside one of its folders is a symlink (or not a folder where one is
    needed): dian never writes through a symlink, so it refuses."""
