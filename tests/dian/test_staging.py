"""dian.staging against real processes: a writer killed with SIGKILL (no cleanup of its own) leaves
a staging folder that the next write into the same target removes, or, when the kill came in the
middle of the swap, turns back into the target; a live writer's staging folder, and a user's folder
that only has such a name, are left alone."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dian import outdir
from dian.staging import WRITER, recover


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


def _writer(out: Path, then: str) -> subprocess.Popen[str]:
    """A process replacing ``out`` with dian.outdir that prints "ready" and then, with ``then``
    "fill", waits inside its fill; with "swap", SIGKILLs itself between moving the old folder
    away and moving the new one in."""
    code = textwrap.dedent(
        f"""
        import os, signal, time
        from pathlib import Path
        from dian import outdir

        out = Path({str(out)!r})
        real_replace = os.replace
        def replace(src, dst, **kw):
            if {then!r} == "swap" and Path(dst) == out:
                print("ready", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, **kw)
        os.replace = replace

        def fill(tmp):
            (tmp / "a.txt").write_text("new")
            if {then!r} == "fill":
                print("ready", flush=True)
                time.sleep(60)

        outdir.write_atomically(out, fill)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _dian_folder(out, "old")
    proc = _writer(out, "fill")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = _hidden(tmp_path)  # what SIGKILL leaves: the staging folder and its writer file
    assert len(left) == 2 and left[0].startswith(".out.tmp-") and left[1] == left[0] + WRITER
    assert (tmp_path / left[0] / "a.txt").read_text() == "new" and _tree(out) == before
    outdir.check_target(out)  # the next run into the same folder, before its work
    assert _hidden(tmp_path) == [] and _tree(out) == before


def test_a_live_writers_staging_folder_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _dian_folder(out, "old")
    proc = _writer(out, "fill")
    try:
        left = _hidden(tmp_path)
        recover(out)
        assert _hidden(tmp_path) == left and len(left) == 2  # its writer still holds the lock
        assert (tmp_path / left[1]).read_text() == f"dian writer pid {proc.pid}\n"
    finally:
        proc.kill()
        proc.wait()
    recover(out)
    assert _hidden(tmp_path) == []


def test_a_kill_mid_swap_puts_the_previous_folder_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _dian_folder(out, "old")
    proc = _writer(out, "swap")
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and any(n.startswith(".out.old-") for n in _hidden(tmp_path))
    outdir.check_target(out)
    assert _tree(out) == before and _hidden(tmp_path) == []


@pytest.mark.parametrize("writer", [None, "inside", "my notes\n", "symlink"])
def test_a_folder_that_only_looks_like_staging_is_not_touched(tmp_path: Path, writer: str | None) -> None:
    """The name alone is not enough: without dian's writer file beside it (none, one inside it,
    one with other text, a symlink to one) the folder is the user's, even with the target missing
    and a previous/ in it."""
    out = tmp_path / "out"
    lookalike = tmp_path / ".out.old-abcd1234"
    (lookalike / "previous").mkdir(parents=True)
    (lookalike / "previous" / "keep.txt").write_text("mine")
    beside = tmp_path / (lookalike.name + WRITER)
    if writer == "inside":
        (lookalike / WRITER).write_text("dian writer pid 1\n")
    elif writer == "symlink":
        (tmp_path / "elsewhere").write_text("dian writer pid 1\n")
        beside.symlink_to(tmp_path / "elsewhere")
    elif writer is not None:
        beside.write_text(writer)
    before = _tree(lookalike)
    recover(out)
    assert _tree(lookalike) == before and not out.exists()


def test_a_staging_folder_of_another_target_is_not_touched(tmp_path: Path) -> None:
    other = tmp_path / ".out2.tmp-abcd1234"
    other.mkdir()
    (tmp_path / (other.name + WRITER)).write_text("dian writer pid 1\n")
    recover(tmp_path / "out")
    assert other.exists()
    recover(tmp_path / "out2")  # its own target: no live writer holds it, so it goes
    assert not other.exists() and _hidden(tmp_path) == []
