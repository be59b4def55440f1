"""Reading the files dian wrote back, as untrusted input.

Every artifact dian reads from an output folder (manifest.json, the IR files, accel.json,
image.json, schedules/*.json, program.bin, board.json, synthesis reports) is read through
here, so that a damaged one is one :class:`~dian.errors.DianError` of its family that names
the file and the field, never a traceback from deep inside a loader. The rules, in the order
they are checked:

* the file is a regular file (not a folder, FIFO or device: a FIFO would block the read);
* it is at most ``limit`` bytes (:data:`MAX_JSON_BYTES` unless the caller says otherwise);
* JSON is strict UTF-8, nests at most :data:`MAX_JSON_DEPTH` arrays and objects (checked by
  scanning brackets before parsing, so a 200,000-deep document never reaches the recursive
  parser), has no NaN or Infinity, no key twice in one object and no lone surrogate;
* fields are read through :class:`Node`, whose accessors check the type and range and name
  the field's path (``slots[3].addr``) in the error.

This module sits below everything but :mod:`dian.errors` (ir/ uses it too), so it knows no
artifact's layout: the callers say what each field must be.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from .errors import DianError

#: The largest JSON artifact dian reads (an IR of a large network is tens of MiB).
MAX_JSON_BYTES = 256 << 20
#: The deepest nesting of arrays and objects in any JSON artifact (dian writes at most 6).
MAX_JSON_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = frozenset(b"[{")


def read_bytes(path: Path, error: type[DianError], *, limit: int, hint: str = "") -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit`` of them), or ``error`` saying why not;
    ``hint`` (", recompile it ...") ends every message."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(f"{path} does not exist{hint}.") from None
    except OSError as e:
        raise error(f"cannot read {path}: {e.strerror}{hint}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise error(f"{path} is {kind}; it must be the file dian wrote{hint}.")
        parts, got = [], 0
        while got <= limit and (part := os.read(fd, min(1 << 24, limit + 1 - got))):
            parts.append(part)
            got += len(part)
    except OSError as e:
        raise error(f"cannot read {path}: {e.strerror}{hint}.") from None
    finally:
        os.close(fd)
    data = b"".join(parts)
    if len(data) > limit:
        raise error(f"{path} is larger than {limit:,} bytes, the most dian reads for it{hint}.")
    return data


def decode_utf8(data: bytes, source: str, error: type[DianError], hint: str = "") -> str:
    """``data`` as strict UTF-8 text, or ``error`` naming the first bad byte's offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(
            f"{source} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start} does not decode){hint}."
        ) from None


def json_depth(data: bytes, stop: int) -> int:
    """The nesting depth of the arrays and objects in JSON ``data`` (brackets inside strings do not
    count), without recursion; it stops counting once the depth exceeds ``stop``."""
    depth = deepest = 0
    for b in _STRING.sub(b"", data).translate(None, _NOT_BRACKETS):
        depth += 1 if b in _OPEN else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop:
                break
    return deepest


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"key {twice!r} appears twice in one object")
    return doc


def _strings(doc: Any) -> Iterator[str]:
    """Every string (keys too) in a parsed document, iteratively."""
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())


def parse_json(
    data: bytes, source: str, error: type[DianError], *, max_depth: int = MAX_JSON_DEPTH, hint: str = ""
) -> Any:
    """The JSON document in ``data`` under the rules of the module docstring, or ``error``."""
    text = decode_utf8(data, source, error, hint)
    depth = json_depth(data, max_depth)
    if depth > max_depth:
        raise error(f"{source} nests arrays and objects more than {max_depth} deep, the most dian reads{hint}.")
    try:
        doc = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        raise error(f"{source} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}){hint}.") from None
    except ValueError as e:  # NaN, a repeated key, an integer of more than 4,300 digits
        raise error(f"{source} is not valid JSON for dian ({e}){hint}.") from None
    for s in _strings(doc):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise error(f"{source} holds a string with a lone surrogate escape (\\ud800-\\udfff){hint}.") from None
    return doc


def read_json(
    path: Path, error: type[DianError], *, limit: int = MAX_JSON_BYTES, hint: str = "", what: str = "an object"
) -> Node:
    """The JSON file ``path`` as a :class:`Node` whose value is ``what`` (a JSON object unless
    ``what`` says otherwise: pass ``what=""`` for any value)."""
    data = read_bytes(path, error, limit=limit, hint=hint)
    node = Node(parse_json(data, str(path), error, hint=hint), str(path), error, "", hint)
    if what == "an object":
        node.as_dict()
    return node


def folder_file(folder: Path, name: object, error: type[DianError], hint: str = "") -> Path:
    """``folder/name`` for a ``name`` a manifest or report lists, or ``error``: the name must be a
    relative POSIX path inside ``folder`` (no absolute path, no ``..``, no empty or ``.`` part) and
    no part of it may be a symbolic link, so a damaged or hostile record cannot make dian read or
    hash a file outside the folder."""
    if not isinstance(name, str) or not name or len(name) > 1024 or "\\" in name or "\0" in name:
        raise error(f"{folder}: {name!r} is not a file name dian writes; names are relative paths{hint}.")
    parts = name.split("/")
    if PurePosixPath(name).is_absolute() or any(p in ("", ".", "..") for p in parts):
        raise error(
            f"{folder}: {name!r} names a file outside the folder; a dian folder lists only relative paths "
            f"without '..'{hint}."
        )
    path = folder
    for p in parts:
        path = path / p
        if path.is_symlink():
            raise error(f"{path} is a symbolic link; dian reads no file of a folder through a link{hint}.")
    return path


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Node:
    """A value in a parsed JSON artifact with where it came from: ``source`` (the file), ``path``
    (``slots[3].addr``; "" for the document), the ``error`` type of the artifact's family and the
    ``hint`` that ends its messages. The accessors return plain values or child nodes, or raise."""

    value: Any
    source: str
    error: type[DianError]
    path: str = ""
    hint: str = ""

    def fail(self, allowed: str) -> NoReturn:
        """Raise the family's error: this field must be ``allowed``, and what it is."""
        where = f"field '{self.path}'" if self.path else "the document"
        raise self.error(f"{self.source}: {where} must be {allowed}, got {_short(self.value)}{self.hint}.")

    def _child(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def __getitem__(self, key: str) -> Node:
        """The child ``key`` of an object, or the error naming it as missing."""
        d = self.as_dict()
        if key not in d:
            where = f"field '{self.path}'" if self.path else "the document"
            raise self.error(f"{self.source}: {where} has no '{key}'{self.hint}.")
        return d[key]

    def get(self, key: str) -> Node | None:
        """The child ``key`` of an object, or None when it is absent (or null)."""
        d = self.as_dict()
        node = d.get(key)
        return None if node is None or node.value is None else node

    def as_dict(self) -> dict[str, Node]:
        if not isinstance(self.value, dict):
            self.fail("an object")
        return {k: Node(v, self.source, self.error, self._child(k), self.hint) for k, v in self.value.items()}

    def as_list(self, min_len: int = 0, max_len: int | None = None) -> list[Node]:
        v = self.value
        if not isinstance(v, list) or len(v) < min_len or (max_len is not None and len(v) > max_len):
            size = f" of {min_len} to {max_len} items" if max_len is not None else ""
            self.fail(f"a list{size}" if not min_len or size else f"a list of at least {min_len} item(s)")
        return [Node(x, self.source, self.error, self._child(i), self.hint) for i, x in enumerate(v)]

    def as_int(self, lo: int | None = None, hi: int | None = None) -> int:
        """An integer in [lo, hi] (either bound may be open); a bool is not an integer."""
        v = self.value
        if not isinstance(v, int) or isinstance(v, bool) or (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f" in [{lo}, {hi}]" if lo is not None and hi is not None else f" >= {lo}" if lo is not None else ""
            self.fail(f"an integer{rng}")
        return v

    def as_float(self, lo: float | None = None, hi: float | None = None) -> float:
        """A finite number in [lo, hi] (an int is a number)."""
        v = self.value
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if not ok or not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
            self.fail(f"a finite number in [{lo}, {hi}]")
        return float(v)

    def as_str(self, max_len: int = 4096, choices: tuple[str, ...] | None = None) -> str:
        v = self.value
        if not isinstance(v, str) or len(v) > max_len or (choices is not None and v not in choices):
            self.fail(f"one of {list(choices)}" if choices is not None else f"a string of at most {max_len} characters")
        return v

    def as_text(self, max_len: int = 4096) -> str:
        """A string of printable characters (no newline, no terminal escape): what dian prints as it is."""
        v = self.value
        if not isinstance(v, str) or len(v) > max_len or not v.isprintable():
            self.fail(f"printable text of at most {max_len} characters")
        return v

    def as_bool(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail("true or false")
        return self.value
