"""The compile output folder: its file names, its manifest, and writing it atomically.

A folder is built complete in a hidden staging folder beside the target and
then renamed into place, so a reader sees either the previous folder or the
new one, never a half-written mix; on any error (Ctrl-C included) the staging
folder is removed and the target is left as it was. An existing target is
replaced only when it is empty or is a folder dian wrote (its manifest says so)
holding nothing but files dian wrote and recorded there, unchanged since, and
its build/ cache: anything else in it is the user's, and dian refuses before
any work unless told ``force``. Staging folders that a killed dian left behind
are recognised by a lock that no live process holds, and removed (or, when a
kill came in the middle of the swap, the previous folder is put back) by the
next write to the same target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import artifact_io
from .errors import OutputDirError
from .staging import WRITER, Staging, check_not_interrupted, recover

#: ``format`` field of manifest.json; bump FORMAT_VERSION when the folder's layout changes.
FORMAT = "dian.output"
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
INT_IR = "model.ir.json"
FLOAT_IR = "model.float.ir.json"
SUMMARY = "summary.txt"
#: Every file a complete folder holds.
FILES = (MANIFEST, INT_IR, FLOAT_IR, SUMMARY)

# Written by `dian compile --accel` (listed, with every other file, in the manifest's "files"):
ACCEL = "accel.json"  # the AccelConfig, as hwgen.accel_config writes it
SCHEDULES = "schedules"  # <layer>.json (ir.schedule.Schedule) and <layer>.txt (its loop nest) per layer
PROGRAM = "program.bin"  # the DRAM image: header, program chunks, weights, parameters, activation slots
IMAGE = "image.json"  # the image's layout: regions, every activation slot, the host's input/output rule
#: image.json's ``format`` and ``format_version``.
IMAGE_FORMAT, IMAGE_FORMAT_VERSION = "dian.image", 1
RTL = "rtl"  # Verilog of the accelerator (not with --no-rtl)
# Written later by other commands, not part of the compile manifest:
SYNTH = "synth"  # `dian synth`: synth/<target>/report.json and the tools' logs
BUILD = "build"  # `dian simulate --rtl`: the Verilator build
BOARD = "board"  # `dian build --board B`: board/<B>/ (the SoC, its bitstream and board.json)


def manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest as written: sorted keys, stable indentation, trailing newline."""
    return json.dumps(manifest, sort_keys=True, indent=2) + "\n"


_RECOMPILE = "; recompile the folder with `dian compile`"
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The largest manifest.json dian reads (a compiled network's is a few KiB).
MAX_MANIFEST_BYTES = 16 << 20


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest of a complete dian output folder, or :class:`OutputDirError` saying what is missing
    or which field is malformed. Every file it names is a relative path inside ``out_dir`` that is no
    symbolic link (:func:`dian.artifact_io.folder_file`), so nothing that reads the files it lists
    leaves the folder."""
    try:
        is_dir = out_dir.is_dir()
    except OSError as e:  # a name too long, a folder without search permission
        raise OutputDirError(f"cannot open the folder {out_dir}: {e.strerror}.") from None
    if not is_dir:
        raise OutputDirError(f"{out_dir} is not a folder; give the folder that `dian compile --out` wrote.")
    path = out_dir / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise OutputDirError(
            f"{out_dir} has no {MANIFEST}, so it is not a dian output folder; "
            f"give the folder that `dian compile --out` wrote."
        )
    doc = artifact_io.read_json(path, OutputDirError, limit=MAX_MANIFEST_BYTES, hint=_RECOMPILE)
    if doc.value.get("format") != FORMAT:
        raise OutputDirError(
            f"{path} is not a dian manifest (its 'format' is not {FORMAT!r}); "
            f"give the folder that `dian compile --out` wrote."
        )
    if doc.value.get("format_version") != FORMAT_VERSION:
        raise OutputDirError(
            f"{out_dir} has output format version {doc.value.get('format_version')!r}; "
            f"this dian reads version {FORMAT_VERSION}: recompile it."
        )
    listed = _check_manifest(out_dir, doc)
    missing = [f for f in (*FILES, *sorted(set(listed) - set(FILES))) if not (out_dir / f).is_file()]
    if missing:
        raise OutputDirError(
            f"{out_dir} is incomplete: {', '.join(missing)} missing; recompile it with `dian compile`."
        )
    return dict(doc.value)


def _check_manifest(out_dir: Path, doc: artifact_io.Node) -> set[str]:
    """Check the fields of a manifest that dian reads; the names of the files it lists."""
    files = doc["files"].as_dict()
    for name, digest in files.items():
        artifact_io.folder_file(out_dir, name, OutputDirError, _RECOMPILE)
        if not _SHA256.fullmatch(digest.as_str(64)):
            digest.fail("a sha256 of 64 lowercase hex digits")
    for key in ("model", "model_name", "model_sha256", "calibration_sha256", "dian_version"):
        if (node := doc.get(key)) is not None:
            node.as_text()  # `dian info` prints them
    for key in ("calib_samples", "seed"):
        if (node := doc.get(key)) is not None:
            node.as_int()
    if (node := doc.get("input_shape")) is not None:
        for d in node.as_list(1, 8):
            d.as_int(1)
    accel = doc.get("accel")
    if accel is None:
        return set(files)
    for key in ("name", "spec", "config_sha256", "image_config_hash"):
        accel[key].as_text()
    mapping = accel["mapping"]
    for key in ("boot_and_done_cycles", "boot_bytes"):
        mapping[key].as_int(0, 2**40)
    needed = [f"{e['schedule'].as_str()}.json" for e in accel["layers"].as_list()]
    if (rtl := accel.get("rtl")) is not None:
        rtl["top"].as_str(256)
        needed += [f.as_str() for f in rtl["files"].as_list()]
    for name in needed:
        if name not in files:
            raise OutputDirError(
                f"{out_dir / MANIFEST}: the accel entry names {name!r}, which its 'files' does not list{_RECOMPILE}."
            )
    return set(files)


def hashes_current(out_dir: Path, record: Path, key: str) -> bool:
    """Whether every file the JSON ``record`` (a synthesis report, a board.json) lists under ``key``
    (``{name: sha256}``) is in ``out_dir`` as it was hashed; False for a record that cannot be read
    or lists a name outside the folder (its state is then "stale", never an error)."""
    try:
        doc = artifact_io.read_json(record, OutputDirError, limit=MAX_MANIFEST_BYTES)
        for name, digest in doc[key].as_dict().items():
            path = artifact_io.folder_file(out_dir, name, OutputDirError)
            data = artifact_io.read_bytes(path, OutputDirError, limit=artifact_io.MAX_JSON_BYTES)
            if hashlib.sha256(data).hexdigest() != digest.value:
                return False
    except OutputDirError:
        return False
    return True


def accel_entry(out_dir: Path, manifest: dict[str, Any], needs: str) -> dict[str, Any]:
    """The manifest's ``accel`` entry, or :class:`OutputDirError`: the folder was compiled without
    ``--accel``, so it has no ``needs`` (e.g. "RTL to synthesize")."""
    accel = manifest.get("accel")
    if not accel:
        raise OutputDirError(
            f"{out_dir} was compiled without --accel, so it has no {needs}; recompile it with e.g. "
            f"`dian compile {manifest.get('model', 'MODEL')} --out {out_dir} --accel tiny`."
        )
    return dict(accel)


def verilog_files(out_dir: Path, accel: dict[str, Any]) -> list[Path]:
    """The accelerator's Verilog files (``accel["rtl"]``), or :class:`OutputDirError` for a folder
    compiled with ``--no-rtl``."""
    files = [out_dir / f for f in (accel.get("rtl") or {}).get("files", ()) if f.endswith((".v", ".sv"))]
    if not files:
        raise OutputDirError(
            f"{out_dir} has no rtl/ (it was compiled with --no-rtl); recompile it with --accel "
            f"(and without --no-rtl) to get the Verilog."
        )
    return files


def has_format(path: Path, fmt: str) -> bool:
    """Whether ``path`` is a JSON object whose ``format`` is ``fmt``: the mark of a folder dian wrote.
    Read by the checked reader (a FIFO, a huge or deeply nested file is simply not the mark)."""
    try:
        doc = artifact_io.read_json(path, OutputDirError, limit=MAX_MANIFEST_BYTES)
        return doc.value.get("format") == fmt
    except OutputDirError:
        return False


def _is_dian_folder(path: Path) -> bool:
    return has_format(path / MANIFEST, FORMAT)


def file_sha256(path: str | Path) -> str:
    """The sha256 of the file at ``path``, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_source(model: str) -> Path | None:
    """The source file of a ``path/to/file.py:factory`` or ``path/to/model.onnx`` model (None for
    ``zoo:NAME``): the one file a compile must never delete, even when it lies in the folder being replaced."""
    if model.lower().endswith(".onnx"):
        return Path(model)
    path = model.rpartition(":")[0]
    return None if model.startswith("zoo:") or not path else Path(path)


def first_few(names: tuple[str, ...] | list[str], few: int = 5) -> str:
    """``names`` for a message: the first ``few`` and how many more there are."""
    return ", ".join(names[:few]) + (f" and {len(names) - few} more" if len(names) > few else "")


def unlisted(folder: Path, marker: str, key: str = "files", caches: tuple[str, ...] = ()) -> list[str]:
    """What in ``folder`` dian did not write, as relative names (a folder as ``name/``): every entry
    but ``marker``, the top-level ``caches`` and the files that ``marker``'s ``key`` lists (name ->
    sha256) with that sha256 still (an edited file is the user's now). A symlink is never dian's."""
    try:
        listed = json.loads((folder / marker).read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        listed = None
    files = {str(k): v for k, v in listed.items()} if isinstance(listed, dict) else {}
    parents = {"/".join(name.split("/")[:i]) for name in files for i in range(1, name.count("/") + 1)}
    found: list[str] = []

    def walk(path: str, prefix: str) -> None:
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            name = prefix + entry.name
            if entry.is_symlink():
                found.append(name)
            elif entry.is_dir():
                if name in parents:
                    walk(entry.path, name + "/")
                elif name not in caches:
                    found.append(name + "/")
            elif name != marker and not (name in files and file_sha256(entry.path) == files[name]):
                found.append(name)

    walk(str(folder), "")
    return found


@dataclass(frozen=True)
class Kind:
    """A kind of folder dian writes whole: how to recognise one it wrote (``owned``), which of its
    contents it did not write (``unlisted``: relative names), and the words for the errors (``what``,
    ``marker``: the file that says it is dian's)."""

    owned: Callable[[Path], bool]
    what: str
    marker: str
    unlisted: Callable[[Path], list[str]]


def check_writable(out_dir: Path) -> None:
    """Raise :class:`OutputDirError` unless a folder ``out_dir`` can be made: its parent exists, its
    name and path fit the file system's limits, and a folder can be created beside it (tried)."""
    parent = out_dir.parent
    if not parent.is_dir():
        raise OutputDirError(f"cannot write {out_dir}: its parent folder {parent} does not exist.")
    limits = {"PC_NAME_MAX": 255, "PC_PATH_MAX": 4096}
    for key in limits:
        with contextlib.suppress(OSError, ValueError):
            limits[key] = os.pathconf(parent, key)
    room = len(f"..tmp-12345678{WRITER}.new")  # the staging folder's writer file: the target's name plus this
    name_bytes, path_bytes = len(os.fsencode(out_dir.name)), len(os.fsencode(str(out_dir)))
    if name_bytes + room > limits["PC_NAME_MAX"]:
        raise OutputDirError(
            f"cannot write {out_dir}: its name is {name_bytes} bytes long and this file system allows "
            f"{limits['PC_NAME_MAX']} (dian needs {room} more for its staging folder's files); give a name of at "
            f"most {limits['PC_NAME_MAX'] - room} bytes."
        )
    inside = 256  # the longest name dian or a tool writes inside the folder stays well under this
    if path_bytes + inside > limits["PC_PATH_MAX"]:
        raise OutputDirError(
            f"cannot write {str(out_dir)[:80]}...: its path is "
            f"{path_bytes} bytes long and paths on this system must stay under {limits['PC_PATH_MAX']} bytes "
            f"with the files inside it; give a --out of at most {limits['PC_PATH_MAX'] - inside} bytes."
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    except OSError as e:
        raise OutputDirError(
            f"cannot write {out_dir}: creating a folder in {parent} failed ({e.strerror}); give a --out "
            f"in a folder you can write."
        ) from None


def check_target(out_dir: Path, kind: Kind | None = None, *, force: bool = False, keep: Path | None = None) -> None:
    """Raise :class:`OutputDirError` unless ``out_dir`` may be (re)written: it is absent, an empty
    folder, or a previous folder of ``kind`` (default: a dian output folder) that holds nothing
    dian did not write, or ``force`` says to delete what it did not write. ``keep`` (a model's
    source file) is never deleted: a target that holds it is refused, ``force`` or not. Staging
    folders a killed dian left beside ``out_dir`` are cleaned up first (:func:`recover`)."""
    kind = kind or OUTPUT
    check_writable(out_dir)
    recover(out_dir)
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink():
        raise OutputDirError(
            f"{out_dir} is a symlink; dian never writes through one. Give the folder it points to, or a new folder."
        )
    if not out_dir.is_dir():
        raise OutputDirError(
            f"{out_dir} exists and is not a folder; it must be a new folder, "
            f"an empty one, or a previous {kind.what} (which is replaced)."
        )
    if keep is not None and keep.resolve().is_relative_to(out_dir.resolve()):
        raise OutputDirError(
            f"the model's source file {keep} is inside {out_dir}, and writing {out_dir} replaces that "
            f"folder: it would delete the model (with --force too). Move the model file out of "
            f"{out_dir}, or choose another folder."
        )
    if not any(out_dir.iterdir()):
        return
    if not kind.owned(out_dir):
        raise OutputDirError(
            f"{out_dir} exists, is not empty and is not a {kind.what} (it has no dian "
            f"{kind.marker}); refusing to replace it. Choose a new folder or remove this one."
        )
    foreign = kind.unlisted(out_dir)
    if foreign and not force:
        shown = first_few(foreign)
        raise OutputDirError(
            f"{out_dir} is a {kind.what} but also holds what dian did not write there or what was changed "
            f"since ({shown}); writing it again replaces the whole folder and would delete them (synth/ "
            f"and board/ results would be stale for the new RTL anyway). Move what you want to keep out "
            f"of {out_dir}, choose another folder, or add --force to delete them."
        )


OUTPUT = Kind(_is_dian_folder, "dian output folder", MANIFEST, lambda p: unlisted(p, MANIFEST, caches=(BUILD,)))


def write_atomically(
    out_dir: str | Path,
    fill: Callable[[Path], None],
    kind: Kind | None = None,
    *,
    force: bool = False,
    keep: Path | None = None,
) -> Path:
    """Create ``out_dir`` complete or not at all: ``fill(folder)`` writes the files into a staging
    folder beside it (:mod:`dian.staging`), which then replaces ``out_dir`` by renames. ``out_dir``
    may be new, empty or a previous folder of ``kind`` (default: a dian output folder) as
    :func:`check_target` allows with ``force`` and ``keep``."""
    out_dir = Path(out_dir).absolute()
    check_target(out_dir, kind, force=force, keep=keep)
    staging = Staging(out_dir, "tmp")
    old: Staging | None = None
    try:
        try:
            fill(staging.path)
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            raise OutputDirError(
                f"writing {out_dir} failed: {e.strerror or e}{where}; the folder was left as it was."
            ) from None
        check_target(out_dir, kind, force=force, keep=keep)  # it may have changed while we worked
        check_not_interrupted()  # a Ctrl-C that something swallowed on the way here
        if out_dir.exists():
            old = Staging(out_dir, "old")
            os.replace(out_dir, old.path / "previous")
        os.replace(staging.path, out_dir)
    except BaseException:
        if old is not None and (old.path / "previous").exists() and not out_dir.exists():
            os.replace(old.path / "previous", out_dir)  # put the previous folder back
        raise
    finally:
        staging.remove()
        if old is not None:
            old.remove()
    return out_dir


def modified_files(out_dir: Path, manifest: dict[str, Any]) -> tuple[str, ...]:
    """The files of the manifest whose bytes no longer have the sha256 recorded at compile time
    (a missing one is caught by :func:`read_manifest`), sorted."""
    files = manifest.get("files")
    return tuple(
        sorted(
            name
            for name, digest in (files.items() if isinstance(files, dict) else ())
            if file_sha256(out_dir / name) != digest
        )
    )


def refuse_modified(out_dir: Path, manifest: dict[str, Any], allow: bool) -> tuple[str, ...]:
    """:func:`modified_files`, or :class:`OutputDirError` naming them unless ``allow``: a run's
    numbers must be those of the compiled model, so an edited IR, program or config is used only
    when the user says so (``--allow-modified``)."""
    modified = modified_files(out_dir, manifest)
    if modified and not allow:
        names = first_few(modified)
        raise OutputDirError(
            f"{out_dir}: {names} {'was' if len(modified) == 1 else 'were'} modified since compile "
            f"(the sha256 in {MANIFEST} differs), so a run would not be of the compiled model. "
            f"Recompile the folder, or pass --allow-modified to run it as it is now."
        )
    return modified
