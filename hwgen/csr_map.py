"""The control/status registers behind the accelerator's AXI4-Lite slave
(``s_axil_*``, docs: the issue 13 bus spec): offsets, constants, bit fields
and error codes, written once. The RTL (hwgen/rtl/csr.py), the Verilator
harness generator, the tests and a C header read them from here.

The bus is 32 bits wide with 12-bit byte addresses; a register is one 32-bit
word at a word-aligned offset. Unmapped offsets read 0; writes to read-only
registers are ignored; every access answers OKAY.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "ACCESS",
    "ADDR_BITS",
    "BASE_ALIGN_BITS",
    "CONFIG_HASH_BYTES",
    "COUNTERS",
    "DATA_BITS",
    "ID",
    "STATUS_ERROR_CODE_SHIFT",
    "VERSION",
    "VERSION_MAJOR",
    "VERSION_MINOR",
    "Access",
    "Control",
    "ErrorCode",
    "Irq",
    "Reg",
    "Resp",
    "Status",
    "error_hint",
]

ADDR_BITS = 12
DATA_BITS = 32

#: ID reads the bytes "DIAN" (little-endian word).
ID = int.from_bytes(b"DIAN", "little")
VERSION_MAJOR, VERSION_MINOR = 1, 0
VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR
#: CONFIG_HASH0..3: word i is bytes 4i..4i+3 (little-endian) of the image header's config hash.
CONFIG_HASH_BYTES = 16
#: BASE_ADDR is 4 KiB aligned: its bits [11:0] read 0 and are ignored on write.
BASE_ALIGN_BITS = 12
#: STATUS bits [15:8] hold the ErrorCode of the last run.
STATUS_ERROR_CODE_SHIFT = 8


class Reg(IntEnum):
    """Register byte offsets. A 64-bit counter is a ``_LO`` word and the ``_HI`` word 4 bytes above it."""

    ID = 0x00
    VERSION = 0x04
    CONFIG_HASH0 = 0x08
    CONFIG_HASH1 = 0x0C
    CONFIG_HASH2 = 0x10
    CONFIG_HASH3 = 0x14
    CONTROL = 0x18
    STATUS = 0x1C
    IRQ_ENABLE = 0x20
    IRQ_STATUS = 0x24
    BASE_ADDR = 0x28
    CYCLES_LO = 0x30
    CYCLES_HI = 0x34
    BUSY_PE_LO = 0x38
    BUSY_PE_HI = 0x3C
    BYTES_READ_LO = 0x40
    BYTES_READ_HI = 0x44
    BYTES_WRITTEN_LO = 0x48
    BYTES_WRITTEN_HI = 0x4C


class Access(IntEnum):
    R = 0  # read-only: writes ignored
    W = 1  # write-only: reads 0
    RW = 2
    W1C = 3  # read, and a 1 written to a bit clears it


ACCESS: dict[Reg, Access] = dict.fromkeys(Reg, Access.R) | {
    Reg.CONTROL: Access.W,
    Reg.IRQ_ENABLE: Access.RW,
    Reg.IRQ_STATUS: Access.W1C,
    Reg.BASE_ADDR: Access.RW,
}

#: The 64-bit perf counters (cleared by START), by the name of the core's port, and their low word.
#: Reading the low word latches the high word, which the read of ``_HI`` returns: read lo first.
COUNTERS: dict[str, Reg] = {
    "cycles": Reg.CYCLES_LO,
    "busy_pe": Reg.BUSY_PE_LO,
    "bytes_read": Reg.BYTES_READ_LO,
    "bytes_written": Reg.BYTES_WRITTEN_LO,
}


class Control(IntFlag):
    START = 1 << 0  # ignored while busy
    SOFT_RESET = 1 << 1  # aborts a run, drains the bus, clears STATUS


class Status(IntFlag):
    BUSY = 1 << 0
    DONE = 1 << 1  # the last run ended; cleared by START
    ERROR = 1 << 2  # ERROR_CODE != 0


class Irq(IntFlag):
    """IRQ_ENABLE and IRQ_STATUS bits; the ``irq`` output is ``IRQ_STATUS & IRQ_ENABLE``, DONE."""

    DONE = 1 << 0  # a run ended (error or not)


class ErrorCode(IntEnum):
    """STATUS.ERROR_CODE: why the last run ended (NONE: it finished)."""

    NONE = 0
    BAD_IMAGE = 1  # magic or image version
    CONFIG_MISMATCH = 2  # the header's config hash is not this accelerator's
    READ_ERROR = 3  # rresp SLVERR/DECERR
    WRITE_ERROR = 4  # bresp SLVERR/DECERR
    MEM_ILLEGAL = 5  # MEM engine: an opcode not of its stream
    CMP_ILLEGAL = 6  # CMP engine: same, or DW without the depthwise dataflow


class Resp(IntEnum):
    """AXI response codes (rresp, bresp)."""

    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


_ERROR_HINTS = {
    ErrorCode.BAD_IMAGE: "the image's magic or version is not the accelerator's; it is damaged or not at BASE_ADDR.",
    ErrorCode.CONFIG_MISMATCH: (
        "the image was compiled for another accelerator config (its header's config hash differs)."
    ),
    ErrorCode.READ_ERROR: "a read burst was answered SLVERR or DECERR (an address outside the memory?).",
    ErrorCode.WRITE_ERROR: "a write burst was answered SLVERR or DECERR (an address outside the memory?).",
    ErrorCode.MEM_ILLEGAL: (
        "the MEM engine met an opcode that is not its stream's; the program does not fit this design."
    ),
    ErrorCode.CMP_ILLEGAL: (
        "the CMP engine met an opcode that is not its stream's, or a DW without the depthwise dataflow."
    ),
}


def error_hint(code: int) -> tuple[str, str]:
    """STATUS.ERROR_CODE ``code``'s name and what it usually means, for error messages."""
    try:
        known = ErrorCode(code)
    except ValueError:
        return f"UNKNOWN_{code}", "an error code hwgen/csr_map.py does not define."
    return known.name, _ERROR_HINTS.get(known, "")
