"""dian.artifact_io: the rules every artifact is read under, on hand-written inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dian.artifact_io import MAX_JSON_DEPTH, Node, folder_file, json_depth, parse_json, read_bytes, read_json
from dian.errors import OutputDirError


def test_read_bytes_takes_only_regular_files_up_to_the_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345")
    assert read_bytes(tmp_path / "f", OutputDirError, limit=5) == b"12345"
    with pytest.raises(OutputDirError, match=r"larger than 4 bytes"):
        read_bytes(tmp_path / "f", OutputDirError, limit=4)
    with pytest.raises(OutputDirError, match=r"is a folder; it must be the file dian wrote; hint\.$"):
        read_bytes(tmp_path, OutputDirError, limit=5, hint="; hint")
    os.mkfifo(tmp_path / "fifo")  # no writer: a blocking open would never return
    with pytest.raises(OutputDirError, match=r"fifo is not a regular file"):
        read_bytes(tmp_path / "fifo", OutputDirError, limit=5)
    with pytest.raises(OutputDirError, match=r"nope does not exist"):
        read_bytes(tmp_path / "nope", OutputDirError, limit=5)


@pytest.mark.parametrize(
    "text, depth",
    [("1", 0), ("[]", 1), ('{"a": [[1], {"b": []}]}', 4), ('["[[[[", "]"]', 1), (r'["\"[[["]', 1), ("[" * 70, 65)],
)
def test_json_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text.encode(), 64) == depth


def test_nesting_limit() -> None:
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(ok.encode(), "f", OutputDirError) is not None
    deep = "[" * 200_000 + "]" * 200_000  # the stdlib parser would raise RecursionError
    with pytest.raises(OutputDirError, match=r"f nests arrays and objects more than 64 deep"):
        parse_json(deep.encode(), "f", OutputDirError)


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"a": 1, "a": 2}', r"key 'a' appears twice in one object"),
        (b'{"a": NaN}', r"NaN is not a JSON number"),
        (b"[Infinity]", r"Infinity is not a JSON number"),
        (b'["\\ud800"]', r"lone surrogate"),
        (b'{"\xff": 1}', r"not UTF-8 text \(byte 0xff at offset 2"),
        (b"{", r"not valid JSON \(Expecting property name"),
        (b"[" + b"9" * 5000 + b"]", r"not valid JSON for dian \(Exceeds the limit"),
    ],
)
def test_what_json_may_not_hold(data: bytes, message: str) -> None:
    with pytest.raises(OutputDirError, match=message):
        parse_json(data, "f.json", OutputDirError)


def test_fields_are_named_by_their_path(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text('{"slots": [{"addr": 0}, {"addr": -5, "name": "a\\nb"}], "ok": true}')
    doc = read_json(tmp_path / "f.json", OutputDirError, hint="; recompile")
    slots = doc["slots"].as_list()
    assert slots[0]["addr"].as_int(0, 2**32 - 1) == 0 and doc["ok"].as_bool() is True
    with pytest.raises(
        OutputDirError,
        match=r"f\.json: field 'slots\[1\]\.addr' must be an integer in \[0, 4294967295\], "
        r"got -5; recompile\.",
    ):
        slots[1]["addr"].as_int(0, 2**32 - 1)
    with pytest.raises(OutputDirError, match=r"field 'slots\[1\]\.name' must be printable text"):
        slots[1]["name"].as_text()
    with pytest.raises(OutputDirError, match=r"field 'slots\[0\]' has no 'name'"):
        slots[0]["name"]
    with pytest.raises(OutputDirError, match=r"field 'ok' must be a finite number"):
        doc["ok"].as_float()
    assert doc.get("missing") is None
    with pytest.raises(OutputDirError, match=r"the document must be an object, got \[1\]"):
        Node([1], "g.json", OutputDirError).as_dict()


@pytest.mark.parametrize(
    "name, message",
    [
        ("../x", "names a file outside the folder"),
        ("a/../../x", "names a file outside the folder"),
        ("/etc/passwd", "names a file outside the folder"),
        ("a//b", "names a file outside the folder"),
        ("", "is not a file name dian writes"),
        (7, "is not a file name dian writes"),
        ("a\\b", "is not a file name dian writes"),
    ],
)
def test_folder_file_keeps_names_inside(tmp_path: Path, name: object, message: str) -> None:
    with pytest.raises(OutputDirError, match=message):
        folder_file(tmp_path, name, OutputDirError)


def test_folder_file_reads_through_no_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert folder_file(tmp_path, "real/f", OutputDirError) == tmp_path / "real" / "f"
    with pytest.raises(OutputDirError, match=r"link is a symbolic link"):
        folder_file(tmp_path, "link/f", OutputDirError)
