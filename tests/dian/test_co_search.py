"""`dian search --out` is checked before the search's minutes: a symlink as the folder, a symlink
anywhere in the folder a --resume continues (the search writes all through it), and a folder that
cannot be created are refused, and nothing outside the folder is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from dian.co_search import SEARCH_DIR, SearchOptions, search_model
from dian.errors import OutputDirError, UnsafePathError
from dian.nas.checkpoint import CHECKPOINT
from dian.nas.cosearch import SearchSettings

OPTIONS = SearchOptions("no-such-data-set", "ecp5-25k")  # never reached: the folder is refused first


def test_a_symlinked_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputDirError, match="is a symlink"):
        search_model(tmp_path / "out", OPTIONS, SearchSettings())
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_resume_refuses_a_symlink_inside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / SEARCH_DIR).mkdir(parents=True)
    (out / SEARCH_DIR / CHECKPOINT).write_bytes(b"")
    (tmp_path / "report.md").write_text("someone else's")
    (out / "report.md").symlink_to(tmp_path / "report.md")
    with pytest.raises(UnsafePathError, match=r"out/report\.md is a symlink"):
        search_model(out, OPTIONS, SearchSettings(), resume=True)
    assert (tmp_path / "report.md").read_text() == "someone else's"


def test_an_out_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputDirError, match="its name is 250 bytes long"):
        search_model(tmp_path / ("n" * 250), OPTIONS, SearchSettings())
    with pytest.raises(OutputDirError, match=r"parent folder .* does not exist"):
        search_model(tmp_path / "no" / "out", OPTIONS, SearchSettings())
    assert list(tmp_path.iterdir()) == []
