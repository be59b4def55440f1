"""dian.outdir: what in a folder dian wrote (and may replace), and targets refused before any
work (too long, unwritable). Recovery after a killed writer: test_staging.py."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from dian import outdir
from dian.errors import OutputDirError


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


def test_too_long_names_and_paths_are_refused_before_any_work(tmp_path: Path) -> None:
    filled: list[Path] = []
    with pytest.raises(OutputDirError, match=r"its name is 250 bytes long .* at most 225 bytes"):
        outdir.write_atomically(tmp_path / ("n" * 250), filled.append)
    assert outdir.write_atomically(tmp_path / ("n" * 225), lambda tmp: None).is_dir()  # the longest that fits
    (tmp_path / ("n" * 225)).rmdir()
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
