"""Damage to an artifact, as data: a :class:`Mutation` is a description (for the failure message
and the regression corpus) and a function that rewrites a file in place.

Byte-level mutations (truncate, flip a bit, insert a byte, empty, non-UTF-8) apply to any file;
JSON-level ones (swap a value's type, delete or repeat a key, nest deep) to JSON artifacts, at a
path into the document; file-level ones replace the file by a folder, a FIFO, a symlink, or
remove it. The hypothesis strategies draw all of them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

JsonPath = tuple[str | int, ...]

#: Odd JSON values a field may be swapped for: other types, huge, negative, fractional, NaN, long
#: and hostile strings.
ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    -5,
    1.5,
    2**31,
    2**32 + 7,
    2**64,
    10**30,
    1e30,
    -1e308,
    float("nan"),
    float("inf"),
    "",
    "x",
    "a" * 300,
    "a\nb",
    "../../etc/passwd",
    "/etc/passwd",
    "\ud800",
    [],
    [1],
    ["x"],
    [[[]]],
    {},
    {"a": 1},
)


@dataclass(frozen=True)
class Mutation:
    """What was done to which file (``describe``), and how (``apply(folder)``)."""

    file: str
    describe: str
    apply: Callable[[Path], None]

    def __repr__(self) -> str:  # hypothesis and pytest print this
        return f"<{self.file}: {self.describe}>"


def _rewrite(fn: Callable[[bytes], bytes]) -> Callable[[Path, str], None]:
    def apply(folder: Path, file: str) -> None:
        p = folder / file
        p.write_bytes(fn(p.read_bytes()))

    return apply


def byte_mutation(file: str, kind: str, at: float, value: int = 0) -> Mutation:
    """``kind`` at relative position ``at`` (0..1) of the file: truncate, flip (bit ``value % 8``),
    insert (byte ``value``), nonutf8 (insert 0xff 0xfe), empty."""

    def fn(data: bytes) -> bytes:
        i = min(int(at * len(data)), max(len(data) - 1, 0))
        if kind == "truncate":
            return data[:i]
        if kind == "flip":
            return data[:i] + bytes([data[i] ^ (1 << (value % 8))]) + data[i + 1 :] if data else data
        if kind == "insert":
            return data[:i] + bytes([value % 256]) + data[i:]
        if kind == "nonutf8":
            return data[:i] + b"\xff\xfe" + data[i:]
        if kind == "empty":
            return b""
        raise ValueError(kind)

    rewrite = _rewrite(fn)
    return Mutation(
        file,
        f"{kind} at {at:.3f}" + (f" value {value}" if kind in ("flip", "insert") else ""),
        lambda folder: rewrite(folder, file),
    )


def file_mutation(file: str, kind: str, target: Path | None = None) -> Mutation:
    """Replace the file by a ``folder``, a ``fifo`` or a ``symlink`` to ``target``, or ``delete`` it."""

    def apply(folder: Path) -> None:
        p = folder / file
        p.unlink()
        if kind == "folder":
            p.mkdir()
            (p / "inside").write_text("{}")
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "symlink":
            assert target is not None
            p.symlink_to(target)
        elif kind != "delete":
            raise ValueError(kind)

    return Mutation(file, f"replaced by a {kind}" if kind != "delete" else "deleted", apply)


def json_paths(doc: Any) -> list[JsonPath]:
    """Every path into ``doc`` (the document itself is ``()``), iteratively, in a stable order."""
    out: list[JsonPath] = []
    stack: list[tuple[JsonPath, Any]] = [((), doc)]
    while stack:
        path, v = stack.pop()
        out.append(path)
        if isinstance(v, dict):
            stack.extend(((*path, k), v[k]) for k in sorted(v, reverse=True))
        elif isinstance(v, list):
            stack.extend(((*path, i), x) for i, x in reversed(list(enumerate(v))))
    return out


_RAW = "__dian_fuzz_raw__"


def _dumps(doc: Any, raw: str | None) -> bytes:
    """``doc`` as JSON, with the string value ``_RAW`` replaced by the text ``raw``."""
    text = json.dumps(doc, indent=1)
    if raw is not None:
        text = text.replace(json.dumps(_RAW), raw, 1)
    return text.encode("utf-8", "surrogatepass")


def json_mutation(file: str, path: JsonPath, kind: str, value: Any = None) -> Mutation:
    """At ``path`` of the JSON ``file``: ``set`` the value to ``value``, write the JSON text ``value``
    there (``raw``), ``delete`` the key or item, ``duplicate`` the key (the object gets it twice), or
    ``nest`` it 100,000 arrays deep."""

    def apply(folder: Path) -> None:
        p = folder / file
        doc = json.loads(p.read_text())
        raw: str | None = None
        parent, key = (None, None) if not path else (_get(doc, path[:-1]), path[-1])
        if kind == "set":
            new: Any = value
        elif kind == "nest":
            new, raw = _RAW, "[" * 100_000 + "]" * 100_000
        elif kind == "raw":
            new, raw = _RAW, str(value)
        elif kind == "duplicate" and isinstance(parent, dict):
            parent[_RAW + "k"] = parent[key]
            p.write_bytes(_dumps(doc, None).replace(json.dumps(_RAW + "k").encode(), json.dumps(key).encode()))
            return
        elif kind in ("delete", "duplicate"):
            if parent is None:
                p.write_bytes(b"")
                return
            del parent[key]
            p.write_bytes(_dumps(doc, None))
            return
        else:
            raise ValueError(kind)
        if parent is None:
            doc = new
        else:
            parent[key] = new
        p.write_bytes(_dumps(doc, raw))

    shown = f"{kind} {'.'.join(map(str, path)) or '(document)'}" + (
        f" = {value!r}"[:80] if kind in ("set", "raw") else ""
    )
    return Mutation(file, shown, apply)


def _get(doc: Any, path: JsonPath) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def copy_folder(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True)


@st.composite
def mutations(draw: st.DrawFn, pristine: Path, files: tuple[str, ...]) -> Mutation:
    """Any mutation of any of ``files`` (paths relative to ``pristine``)."""
    file = draw(st.sampled_from(files))
    is_json = file.endswith(".json")
    family = draw(st.sampled_from(("byte", "json", "json", "file") if is_json else ("byte", "byte", "file")))
    if family == "byte":
        kind = draw(st.sampled_from(("truncate", "flip", "flip", "insert", "nonutf8", "empty")))
        return byte_mutation(file, kind, draw(st.floats(0, 1)), draw(st.integers(0, 255)))
    if family == "file":
        return file_mutation(file, draw(st.sampled_from(("folder", "delete", "fifo"))))
    paths = json_paths(json.loads((pristine / file).read_text()))
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(("set", "set", "set", "delete", "duplicate", "nest")))
    value = draw(st.sampled_from(ODD_VALUES)) if kind == "set" else None
    return json_mutation(file, path, kind, value)
