"""dian.safe_paths against planted symlinks: each points at a sentinel outside the folder, which
must come out unchanged, and each refusal names the symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dian.errors import UnsafePathError
from dian.safe_paths import check_dirs, make_dirs, open_for_writing, write_file


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    return outside


def _unchanged(outside: Path) -> bool:
    return sorted(p.name for p in outside.iterdir()) == ["precious.txt"] and (
        (outside / "precious.txt").read_text() == "keep me"
    )


def test_make_dirs_creates_and_refuses_a_symlinked_component(tmp_path: Path, sentinel: Path) -> None:
    root = tmp_path / "dir"
    root.mkdir()
    assert make_dirs(root, "build/verilator") == root / "build" / "verilator"
    assert (root / "build" / "verilator").is_dir()
    (root / "synth").symlink_to(sentinel)
    with pytest.raises(UnsafePathError, match=f"{root / 'synth'} is a symlink"):
        make_dirs(root, "synth/ecp5-25k")
    with pytest.raises(UnsafePathError, match=f"{root / 'synth'} is a symlink"):
        check_dirs(root, "synth/ecp5-25k")
    (root / "board").write_text("a file")
    with pytest.raises(UnsafePathError, match="not a folder"):
        make_dirs(root, "board/sim")
    assert _unchanged(sentinel)


def test_make_dirs_refuses_a_symlink_anywhere_inside(tmp_path: Path, sentinel: Path) -> None:
    root = tmp_path / "dir"
    (root / "build" / "verilator" / "obj_dir").mkdir(parents=True)
    (root / "build" / "verilator" / "obj_dir" / "Vtop.mk").symlink_to(sentinel / "precious.txt")
    with pytest.raises(UnsafePathError, match=r"obj_dir/Vtop\.mk is a symlink"):
        make_dirs(root, "build/verilator")
    assert _unchanged(sentinel)


def test_files_are_never_written_through_a_symlink(tmp_path: Path, sentinel: Path) -> None:
    link = tmp_path / "verilator.log"
    link.symlink_to(sentinel / "precious.txt")
    with pytest.raises(UnsafePathError, match=r"verilator\.log is a symlink"):
        open_for_writing(link)
    with pytest.raises(UnsafePathError, match=r"verilator\.log is a symlink"):
        write_file(link, "overwritten")
    assert link.is_symlink() and _unchanged(sentinel)  # refused: neither followed nor replaced
    (tmp_path / "log").write_text("old")
    with open_for_writing(tmp_path / "log") as f:
        f.write("new")
    write_file(tmp_path / "stamp", b"\x00\x01")
    assert (tmp_path / "log").read_text() == "new" and (tmp_path / "stamp").read_bytes() == b"\x00\x01"


def test_paths_outside_the_root_are_a_bug(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a relative path"):
        make_dirs(tmp_path, "../elsewhere")


def test_files_and_folders_get_the_modes_open_and_mkdir_would(tmp_path: Path) -> None:
    """Not mkstemp's 0600 and mkdtemp's 0700: a shared output folder stays readable."""
    from dian import outdir

    old = os.umask(0o022)
    try:
        write_file(tmp_path / "report.json", "{}")
        out = outdir.write_atomically(tmp_path / "out", lambda tmp: None)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
