"""PLACEHOLDER until wip-csr lands: the error codes of the spec."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    NONE = 0
    BAD_IMAGE = 1
    CONFIG_MISMATCH = 2
    READ_ERROR = 3
    WRITE_ERROR = 4
    MEM_ILLEGAL = 5
    CMP_ILLEGAL = 6
