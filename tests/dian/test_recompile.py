"""Recompiling into an existing folder (the frontend replaced by test_api's one-layer model).

dian replaces only what it wrote there: the files the old manifest lists with their sha256
unchanged, and build/. Anything else (a user's notes, an edited file, synth/ results, a project
that a manifest was copied into) makes the compile refuse before any work and leaves the folder
byte-identical; ``force`` deletes them, except the model's own source file, which is never deleted.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from dian import api
from dian.errors import OutputDirError


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def out(tmp_path: Path, fake_frontend: SimpleNamespace) -> Path:
    return api.compile_model("zoo:tiny", (1, 4), tmp_path / "out", seed=1).out_dir


def _plant(out: Path, what: str) -> str:
    """Put something dian did not write into ``out``; the name the refusal must give."""
    if what == "notes":
        (out / "NOTES.txt").write_text("my notes")
        return "NOTES.txt"
    if what == "edited":
        (out / "summary.txt").write_text((out / "summary.txt").read_text() + "my remark\n")
        return "summary.txt"
    (out / "synth" / "ecp5-25k").mkdir(parents=True)
    (out / "synth" / "ecp5-25k" / "report.json").write_text("{}")  # minutes of place and route
    return "synth/"


@pytest.mark.parametrize("what", ["notes", "edited", "synth"])
def test_what_dian_did_not_write_refuses_the_recompile_before_any_work(
    out: Path, fake_frontend: SimpleNamespace, what: str
) -> None:
    name = _plant(out, what)
    before, lowered = _tree(out), fake_frontend.lower
    with pytest.raises(OutputDirError, match=rf"also holds .*\({name}\).* add --force to delete them"):
        api.compile_model("zoo:tiny", (1, 4), out, seed=2)
    assert fake_frontend.lower == lowered  # refused before any work
    assert _tree(out) == before


def test_force_deletes_them(out: Path) -> None:
    _plant(out, "notes")
    _plant(out, "synth")
    api.compile_model("zoo:tiny", (1, 4), out, seed=2, force=True)
    assert not (out / "NOTES.txt").exists() and not (out / "synth").exists()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2


def test_many_are_counted(out: Path) -> None:
    for i in range(7):
        (out / f"n{i}.txt").write_text("x")
    with pytest.raises(OutputDirError, match=r"\(n0.txt, n1.txt, n2.txt, n3.txt, n4.txt and 2 more\)"):
        api.compile_model("zoo:tiny", (1, 4), out, seed=2)


def test_a_project_that_a_manifest_was_copied_into_is_not_deleted(tmp_path: Path, out: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.c").write_text("int main() { return 0; }\n")
    (project / "manifest.json").write_bytes((out / "manifest.json").read_bytes())
    before = _tree(project)
    with pytest.raises(OutputDirError, match=r"\(src/\)"):
        api.compile_model("zoo:tiny", (1, 4), project, seed=2)
    assert _tree(project) == before


def test_the_model_source_is_never_deleted(out: Path) -> None:
    (out / "model.py").write_text("def make(): ...\n")
    for force in (False, True):
        with pytest.raises(OutputDirError, match=r"model's source file .*model.py is inside .*\(with --force too\)"):
            api.compile_model(f"{out}/model.py:make", (1, 4), out, seed=2, force=force)
        assert (out / "model.py").read_text() == "def make(): ...\n"


def test_a_symlink_in_the_folder_is_never_dians(tmp_path: Path, out: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (out / "build").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputDirError, match=r"\(build\)"):
        api.compile_model("zoo:tiny", (1, 4), out, seed=2)


def test_explore_refuses_the_same_way_before_any_work(out: Path, fake_frontend: SimpleNamespace) -> None:
    from dian.explore import explore_model

    _plant(out, "notes")
    before, lowered = _tree(out), fake_frontend.lower
    with pytest.raises(OutputDirError, match=r"\(NOTES.txt\).* add --force"):
        explore_model("zoo:tiny", (1, 4), out, "ecp5-25k", trials=1)
    assert fake_frontend.lower == lowered and _tree(out) == before


@pytest.mark.parametrize("marker", ["deep", "fifo"])
def test_a_damaged_marker_is_not_a_dian_folder(tmp_path: Path, fake_frontend: SimpleNamespace, marker: str) -> None:
    """A manifest.json nested 200k deep gave a RecursionError traceback, and a FIFO in its place hung
    the compile: both are simply not dian's mark, so the folder is refused as foreign."""
    import os

    target = tmp_path / "project"
    target.mkdir()
    if marker == "deep":
        (target / "manifest.json").write_text("[" * 200_000)
    else:
        os.mkfifo(target / "manifest.json")
    with pytest.raises(OutputDirError, match="is not a dian output folder"):
        api.compile_model("zoo:tiny", (1, 4), target, seed=1)
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json"]
