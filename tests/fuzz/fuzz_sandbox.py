"""Running `dian` in process on a damaged copy of a folder, and checking what it may not do.

A :class:`Sandbox` is a fresh folder ``root`` holding ``work/`` (a copy of the pristine
compiled folder and the input) and ``sentinel/`` (files outside any output folder, which the
symlink mutations point at). :meth:`Sandbox.run` calls :func:`dian.cli.main` and turns
anything but exit 0 or 2 into a test failure that names the mutation; :meth:`Sandbox.check_files`
fails when a command wrote outside ``work/``, changed or deleted a file that was there, or
wrote through a link.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from dian.cli import main

FOLDER, INPUT = "lenet-tiny", "x.npy"


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` (links not followed) -> its kind and content hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = "link " + str(p.readlink())
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_file():
            out[rel] = "file " + hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "other"
    return out


class Sandbox:
    def __init__(self, pristine: Path, parent: Path) -> None:
        self.root = Path(tempfile.mkdtemp(dir=parent))
        self.work, self.sentinel = self.root / "work", self.root / "sentinel"
        self.work.mkdir()
        shutil.copytree(pristine / FOLDER, self.work / FOLDER, symlinks=True)
        shutil.copy(pristine / INPUT, self.work / INPUT)
        self.sentinel.mkdir()
        (self.sentinel / "keep.txt").write_text("outside every output folder\n")
        (self.sentinel / "folder").mkdir()
        self.folder, self.input = self.work / FOLDER, self.work / INPUT
        self.before: dict[str, str] = {}

    def freeze(self) -> None:
        """Record the tree as the mutation left it: what the commands must not change."""
        self.before = _snapshot(self.root)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, argv: list[str], what: str) -> tuple[int, str]:
        """Exit code and stderr of `dian ARGV`; a test failure naming ``what`` for any other outcome."""
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        try:
            os.chdir(self.work)  # a relative path on the command line lands in work/
            with redirect_stdout(out), redirect_stderr(err):
                code = main(argv)
        except SystemExit as e:  # argparse: usage errors exit 2, --help and --version 0
            code = e.code if isinstance(e.code, int) else 2
        except BaseException as e:
            pytest.fail(
                f"{what}: `dian {' '.join(argv)}` raised {type(e).__name__}: {e}\n{traceback.format_exc()}",
                pytrace=False,
            )
        finally:
            os.chdir(cwd)
        if code not in (0, 2):
            pytest.fail(f"{what}: `dian {' '.join(argv)}` exited {code}; stderr: {err.getvalue()}", pytrace=False)
        if code == 2 and not err.getvalue().startswith(("dian: error: ", "usage: ")):
            pytest.fail(f"{what}: exit 2 without one error paragraph: {err.getvalue()!r}", pytrace=False)
        return code, err.getvalue()

    def check_files(self, what: str) -> None:
        """Nothing written outside work/, nothing that was there changed or deleted, no link followed."""
        after = _snapshot(self.root)
        outside = {p for p in after.keys() ^ self.before.keys() if not p.startswith("work/")}
        changed = {p for p, v in self.before.items() if after.get(p) != v}
        if outside or changed:
            pytest.fail(
                f"{what}: files written outside the output folder {sorted(outside)} or changed or deleted "
                f"{sorted(changed)}",
                pytrace=False,
            )


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings of a fuzz tier: no deadline (a run takes a fraction of a second, more on a
    loaded machine), the same examples in every CI run (derandomize), no example database."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )
