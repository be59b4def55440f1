"""dian.outdir's folder replacement against real processes and a real file system.

A writer killed with SIGKILL (no cleanup of its own) leaves staging folders that the next write
into the same target removes, or, when the kill came in the middle of the swap, turns back into
the target; a live writer's staging folder and a user's folder that only looks like one are left
alone. A too-long or unwritable target is refused before any work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dian import outdir
from dian.errors import OutputDirError


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _dian_folder(path: Path, text: str) -> dict[str, bytes]:
    """A minimal folder dian wrote (manifest listing its one file); its contents."""

    def fill(tmp: Path) -> None:
        (tmp / "a.txt").write_text(text)
        sha = outdir.file_sha256(tmp / "a.txt")
        (tmp / outdir.MANIFEST).write_text(outdir.manifest_text({"format": outdir.FORMAT, "files": {"a.txt": sha}}))

    outdir.write_atomically(path, fill)
    return _tree(path)


def test_unlisted_walks_into_the_folders_dian_wrote(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    (folder / "rtl").mkdir(parents=True)
    (folder / "rtl" / "a.v").write_text("module a; endmodule\n")
    (folder / "rtl" / "b.v").write_text("module b; endmodule\n")
    listed = {f"rtl/{n}": outdir.file_sha256(folder / "rtl" / n) for n in ("a.v", "b.v")}
    (folder / "rtl" / "b.v").write_text("module b; /* edited */ endmodule\n")
    (folder / "rtl" / "mine.v").write_text("")
    (folder / "build" / "verilator").mkdir(parents=True)
    (folder / "build" / "verilator" / "verilator.log").write_text("")
    (folder / "empty").mkdir()
    (folder / "m.json").write_text(json.dumps({"files": listed}))
    assert outdir.unlisted(folder, "m.json", caches=("build",)) == ["empty/", "rtl/b.v", "rtl/mine.v"]
    assert outdir.unlisted(folder, "m.json") == ["build/", "empty/", "rtl/b.v", "rtl/mine.v"]


def _writer(out: Path, then: str) -> subprocess.Popen[str]:
    """A process writing ``out`` with dian.outdir that stops when its fill has begun (``then``:
    "fill" waits inside fill; "swap" is SIGKILLed by itself between moving the old folder away
    and moving the new one in); it prints "ready" when there."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from pathlib import Path
        from dian import outdir

        real_replace = os.replace
        def replace(src, dst, **kw):
            if {then!r} == "swap" and Path(src).name == "new":
                print("ready", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, **kw)
        os.replace = replace

        def fill(tmp):
            (tmp / "a.txt").write_text("new")
            if {then!r} == "fill":
                print("ready", flush=True)
                time.sleep(60)

        outdir.write_atomically(Path({str(out)!r}), fill)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _staging(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _dian_folder(out, "old")
    proc = _writer(out, "fill")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [n[: len(".out.tmp-")] for n in _staging(tmp_path)] == [".out.tmp-"]  # what SIGKILL leaves
    assert _tree(out) == before
    outdir.check_target(out)  # the next run into the same folder, before its work
    assert _staging(tmp_path) == [] and _tree(out) == before


def test_a_live_writers_staging_folder_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _dian_folder(out, "old")
    proc = _writer(out, "fill")
    try:
        staged = _staging(tmp_path)
        outdir.check_target(out)
        assert _staging(tmp_path) == staged and len(staged) == 1  # its writer (pid alive, lock held) still works
        assert (tmp_path / staged[0] / outdir.WRITER).read_text() == f"dian writer pid {proc.pid}\n"
    finally:
        proc.kill()
        proc.wait()
    outdir.check_target(out)
    assert _staging(tmp_path) == []


def test_a_kill_mid_swap_puts_the_previous_folder_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _dian_folder(out, "old")
    proc = _writer(out, "swap")
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and any(n.startswith(".out.old-") for n in _staging(tmp_path))
    outdir.check_target(out)
    assert _tree(out) == before and _staging(tmp_path) == []


@pytest.mark.parametrize("marker", [None, "my notes\n", "symlink"])
def test_a_folder_that_only_looks_like_staging_is_not_touched(tmp_path: Path, marker: str | None) -> None:
    """The name alone is not enough: without dian's writer file in it (none, another text, or a
    symlink to one) the folder is the user's, even with the target missing and a previous/ in it."""
    out = tmp_path / "out"
    lookalike = tmp_path / ".out.old-abcd1234"
    (lookalike / "previous").mkdir(parents=True)
    (lookalike / "previous" / "keep.txt").write_text("mine")
    if marker == "symlink":
        (tmp_path / "elsewhere").write_text("dian writer pid 1\n")
        (lookalike / outdir.WRITER).symlink_to(tmp_path / "elsewhere")
    elif marker is not None:
        (lookalike / outdir.WRITER).write_text(marker)
    before = _tree(lookalike)
    outdir.check_target(out)
    assert _tree(lookalike) == before and not out.exists()


def test_a_staging_folder_of_another_target_is_not_touched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _dian_folder(out, "old")
    other = tmp_path / ".out2.tmp-abcd1234"
    other.mkdir()
    (other / outdir.WRITER).write_text("dian writer pid 1\n")
    outdir.check_target(out)
    assert other.exists()


def test_too_long_names_and_paths_are_refused_before_any_work(tmp_path: Path) -> None:
    filled: list[Path] = []
    with pytest.raises(OutputDirError, match=r"its name is 250 bytes long .* at most 241 bytes"):
        outdir.write_atomically(tmp_path / ("n" * 250), filled.append)
    deep = tmp_path.joinpath(*["d" * 200] * 18)  # the system takes it, but not with the files inside
    deep.mkdir(parents=True)
    with pytest.raises(OutputDirError, match=r"its path is \d+ bytes long .* at most 3840 bytes"):
        outdir.write_atomically(deep / ("o" * 200), filled.append)
    assert filled == [] and list(tmp_path.iterdir()) == [tmp_path / ("d" * 200)] and not any(deep.iterdir())


def test_an_unwritable_parent_is_refused_before_any_work(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    if os.access(parent, os.W_OK):  # root: try a file system that is read-only for everyone
        parent = Path("/sys")
        if os.access(parent, os.W_OK) and not _mkdir_fails(parent):
            pytest.skip("no unwritable folder to try")
    filled: list[Path] = []
    with pytest.raises(OutputDirError, match=rf"cannot write {parent}/out: creating a folder in {parent} failed"):
        outdir.write_atomically(parent / "out", filled.append)
    assert filled == []


def _mkdir_fails(parent: Path) -> bool:
    try:
        (parent / f"dian-probe-{time.time_ns()}").mkdir()
    except OSError:
        return True
    return False
