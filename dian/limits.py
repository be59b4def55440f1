"""Resource limits: how much memory dian lets one step of a command plan to use.

A `.npy` header, an ``--input-shape`` or a ``--calib-samples`` can ask for more memory than the
machine has; numpy then fails deep inside with a MemoryError traceback, or the kernel kills the
process. Steps that size their arrays from user input estimate the bytes first and call
:func:`check_memory`, which refuses with a message that names the estimate, the limit and the
knobs. The limit is ``DIAN_MAX_MEMORY`` (bytes, or with a K/M/G/T suffix: ``16G``), by default
8 GiB: fixed rather than derived from this machine's RAM, so the same command is accepted or
refused the same way everywhere.
"""

from __future__ import annotations

import os
import re

from .errors import ResourceLimitError

ENV = "DIAN_MAX_MEMORY"
DEFAULT_BYTES = 8 << 30
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_limit() -> int:
    """The limit in bytes: ``DIAN_MAX_MEMORY`` if set, else 8 GiB."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_BYTES
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", text.upper())
    if m is None or float(m.group(1)) <= 0:
        raise ResourceLimitError(
            f"{ENV}={text[:40]!r} is not a size; give bytes or a number with K, M, G or T, e.g. {ENV}=16G."
        )
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def human(n: float) -> str:
    """``n`` bytes as a short figure: 2.3 GB, 512.0 MB."""
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_memory(need_bytes: int, what: str, lower: str) -> None:
    """Raise :class:`ResourceLimitError` when ``what`` (e.g. "calibration would hold 64 samples of
    1x3000x3000") needs more than the limit; ``lower`` names the user's own knobs that reduce it."""
    limit = memory_limit()
    if need_bytes > limit:
        raise ResourceLimitError(
            f"{what}: about {human(need_bytes)}, over dian's memory limit of {human(limit)}. "
            f"{lower[:1].upper()}{lower[1:]}, or raise the limit with {ENV}=<size> (e.g. "
            f"{ENV}={-(-need_bytes * 5 // 4 >> 30)}G) if this machine has the memory."
        )
