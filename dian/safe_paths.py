"""Writing inside a folder without ever following a symlink: the one place dian does it.

A folder dian writes into (an output folder, its build/, synth/ and board/) may come from someone
else, and a symlink planted there (``build -> /etc``, ``build/verilator/verilator.log -> ~/.bashrc``)
would make an ordinary ``open(path, "w")`` or ``mkdir`` write outside the folder. Every write dian
makes inside such a folder goes through this module, which refuses (:class:`UnsafePathError`, naming
the path) instead of following or silently replacing a symlink:

* :func:`make_dirs` creates ``root/rel`` one component at a time through directory file descriptors
  opened with ``O_NOFOLLOW``, and refuses any symlink inside the subtree it returns, because the
  external tools dian runs there (Verilator, Yosys, nextpnr, LiteX) open files by name themselves;
* :func:`write_file` and :func:`open_for_writing` open the file itself with ``O_NOFOLLOW`` (a symlink
  in its place is refused, never replaced).

``root`` itself is the folder the user named and is taken as given. A symlink planted *during* a run
by a process of the same user is out of scope (such a process can write the targets directly).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, overload

from .errors import UnsafePathError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _refuse(path: Path, what: str = "a symlink") -> UnsafePathError:
    return UnsafePathError(
        f"{path} is {what}; dian writes only inside its own folders and never through a symlink, so it "
        f"refuses to write there. Remove {path} (it may point outside the folder) and run again."
    )


def _open_dir(name: str | Path, path: Path, dir_fd: int | None = None) -> int:
    """A descriptor of the directory ``name`` (relative to ``dir_fd``), refusing a symlink."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            kind = "a symlink" if _is_symlink(name, dir_fd) else "not a folder"
            raise _refuse(path, kind) from None
        raise


def _is_symlink(name: str | Path, dir_fd: int | None) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _parts(rel: str | Path) -> list[str]:
    parts = [p for p in Path(rel).parts if p not in ("", ".")]
    if Path(rel).is_absolute() or ".." in parts:
        raise ValueError(f"{rel} is not a relative path inside the folder")
    return parts


@contextlib.contextmanager
def _dir_fd(root: Path, rel: str | Path, create: bool) -> Iterator[int]:
    """A descriptor of ``root/rel`` reached without following a symlink below ``root`` (each
    component created when ``create``)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        path = root
        for part in _parts(rel):
            path = path / part
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            child = _open_dir(part, path, fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def refuse_symlinks(folder: Path) -> None:
    """Raise :class:`UnsafePathError` naming the first symlink anywhere inside ``folder``."""
    for top, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            if os.path.islink(os.path.join(top, name)):
                raise _refuse(Path(top) / name)


def make_dirs(root: Path, rel: str | Path) -> Path:
    """Create the folder ``root/rel`` (and its parents below ``root``) without following a symlink,
    and check that nothing inside it is a symlink; its path. Call it before writing into a folder or
    running a tool there."""
    root = Path(root)
    with _dir_fd(root, rel, create=True):
        pass
    folder = root.joinpath(*_parts(rel))
    refuse_symlinks(folder)
    return folder


def check_dirs(root: Path, rel: str | Path) -> None:
    """Raise :class:`UnsafePathError` when a component of ``rel`` below ``root`` that exists is a
    symlink (or not a folder); creates nothing."""
    path = Path(root)
    for part in _parts(rel):
        path = path / part
        if path.is_symlink():
            raise _refuse(path)
        if not path.exists():
            return
        if not path.is_dir():
            raise _refuse(path, "not a folder")


@overload
def open_for_writing(path: Path, mode: Literal["w", "a"] = "w") -> IO[str]: ...
@overload
def open_for_writing(path: Path, mode: Literal["wb", "ab"]) -> IO[bytes]: ...
def open_for_writing(path: Path, mode: str = "w") -> IO[str] | IO[bytes]:
    """``open(path, mode)`` for writing that refuses a symlink at ``path`` instead of following it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if mode.startswith("a") else os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _refuse(Path(path)) from None
        raise
    return os.fdopen(fd, mode)


def write_file(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then a rename), refusing
    a symlink at ``path``: a rename would replace the link, a plain open would follow it."""
    path = Path(path)
    if path.is_symlink():
        raise _refuse(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, new_mode(folder=False))  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_mode(*, folder: bool) -> int:
    """The mode ``mkdir`` (``folder``) or ``open`` gives a new file under the current umask;
    ``mkdtemp`` and ``mkstemp`` give 0700 and 0600, which would make dian's outputs private."""
    mask = os.umask(0o022)
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


__all__ = ["check_dirs", "make_dirs", "new_mode", "open_for_writing", "refuse_symlinks", "write_file"]
