"""Helpers for tests that need the hardware tools and the stand-in top level."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from amaranth.back import verilog
from dram_copy_top import DramCopyTop

from dian.hwgen.tools.toolchain import has_tool


def needs(*tools: str) -> pytest.MarkDecorator:
    """Skip when a tool is missing, with the reason; under CI (``CI`` set) never
    skip, so a set-up that lost a tool fails loudly instead of passing quietly."""
    missing = [t for t in tools if not has_tool(t)]
    reason = f"{', '.join(missing)} not installed (`make test` installs it into .venv from requirements.lock)"
    return pytest.mark.skipif(bool(missing) and not os.environ.get("CI"), reason=reason)


def standin_verilog(folder: Path, *, bus_bits: int, n_words: int, src: int, dst: int, burst: int = 4) -> Path:
    """Write the stand-in top level's Verilog (module ``dram_copy_top``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    top = DramCopyTop(bus_bits=bus_bits, n_words=n_words, src=src, dst=dst, burst=burst)
    path = folder / "dram_copy_top.v"
    path.write_text(verilog.convert(top, name="dram_copy_top", emit_src=False))
    return path


def expected_dram(image: bytes, *, bus_bits: int, n_words: int, src: int, dst: int) -> bytes:
    """The memory after the stand-in ran (offsets from its base), computed directly from its specification."""
    n = n_words * bus_bits // 8
    after = bytearray(image)
    after[dst : dst + n] = bytes((b + 1) % 256 for b in image[src : src + n])
    return bytes(after)
