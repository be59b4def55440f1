"""Guards on the codebase's shape (DESIGN.md "Layout", STYLE.md "dian's habits"). Which package may
import which is import-linter's job (pyproject.toml, run by `make lint`)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = ("dian", "ir", "frontend", "sim", "search", "nas", "hwgen", "board")
MAX_LINES = 450  # "files under ~400 lines"; a little slack, never a lot


def _sources() -> list[Path]:
    return sorted(p for d in PACKAGE_DIRS for p in (ROOT / d).rglob("*.py"))


def test_there_are_sources_to_check() -> None:
    assert len(_sources()) > 10


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small(path: Path) -> None:
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines; split it by concept"
