"""Verilog out of an AccelConfig: ``emit_verilog(cfg, out_dir)`` writes the
accelerator's top level (module :data:`~dian.hwgen.rtl.top.TOP_NAME`) as one
deterministic Verilog file through ``amaranth.back.verilog``."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from dian.safe_paths import write_file

from ..accel_config import AccelConfig
from .top import TOP_NAME, Accelerator

__all__ = ["TOP_NAME", "emit_verilog"]


def verilog_text(cfg: AccelConfig) -> str:
    return verilog.convert(Accelerator(cfg), name=TOP_NAME, emit_src=False)


def emit_verilog(cfg: AccelConfig, out_dir: Path) -> list[Path]:
    """Write ``out_dir/<TOP_NAME>.v``; the list of files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{TOP_NAME}.v"
    write_file(path, verilog_text(cfg))
    return [path]
