"""Staging folders beside a folder dian replaces, and what is left of them after a kill.

:func:`dian.outdir.write_atomically` fills a new folder in ``.NAME.tmp-XXXXXXXX`` beside the target
``NAME`` and, for the instant of the swap, moves the previous one into ``.NAME.old-XXXXXXXX/previous``.
Each staging folder has a writer file beside it, ``.NAME.tmp-XXXXXXXX.dian-writer``, that its
process holds an exclusive ``flock`` on for as long as the folder exists (and that names the pid,
for people). The kernel drops the lock when the process dies, even by SIGKILL, so
:func:`recover` can tell a killed writer's leftovers from a live writer's work without trusting a
pid that may have been reused, and a folder that merely has such a name (no writer file beside it,
or one that is a symlink or holds other text) is never touched. The writer file lives beside the
folder, not in it, so the folder is filled at the target's own depth (a LiteX build refers to
``../../rtl`` from it) and nothing of the lock ends up in the result.

SIGINT is handled here too (:func:`catching_interrupts`): a Ctrl-C that a library swallows must
still stop a folder from being replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from .safe_paths import new_mode

#: The suffix of a staging folder's writer file (beside it).
WRITER = ".dian-writer"
_WRITER_TEXT = "dian writer pid "


class Staging:
    """A hidden folder beside ``target`` (``role`` "tmp": the new folder; "old": the previous one
    during the swap), locked through its writer file until :meth:`remove`."""

    def __init__(self, target: Path, role: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f".{target.name}.{role}-", dir=target.parent))
        self.writer = self.path.with_name(self.path.name + WRITER)
        new = self.writer.with_name(self.writer.name + ".new")  # locked before it gets the name recover() reads
        try:
            os.chmod(self.path, new_mode(folder=True))  # mkdtemp makes 0700; give the folder the mode mkdir would
            self.fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            os.write(self.fd, f"{_WRITER_TEXT}{os.getpid()}\n".encode())
            os.replace(new, self.writer)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(new)
            self.remove()
            raise

    def remove(self) -> None:
        """Remove the folder (whatever is still in it) and then its writer file and lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(self.writer)
        os.close(self.fd)  # the lock goes last: until then recover() leaves the folder alone


def _claim(writer: Path) -> int | None:
    """A locked descriptor of ``writer`` when it is a dian writer file whose process is gone; None
    when it is not one (a symlink, another text) or its writer still runs."""
    try:
        fd = os.open(writer, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if os.read(fd, 64).startswith(_WRITER_TEXT.encode()):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def recover(target: Path) -> None:
    """Clean up after a dian killed while replacing ``target``: remove the staging folders beside it
    whose writer file no live process holds (with the writer file); when the kill came mid-swap
    (``target`` missing, the previous folder in ``.NAME.old-*/previous``), put the previous folder
    back first. Anything else is left alone."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(tmp|old)-[a-z0-9_]{{8}}{re.escape(WRITER)}")
    with contextlib.suppress(OSError):
        for entry in sorted(os.scandir(target.parent), key=lambda e: e.name):
            match = pattern.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            fd = _claim(Path(entry.path))
            if fd is None:
                continue
            try:
                folder = Path(entry.path[: -len(WRITER)])
                if folder.is_dir() and not folder.is_symlink():
                    previous = folder / "previous"
                    gone = not target.exists() and not target.is_symlink()
                    if match[1] == "old" and gone and previous.is_dir() and not previous.is_symlink():
                        os.replace(previous, target)  # whatever it was, it was the target
                    shutil.rmtree(folder, ignore_errors=True)
                os.unlink(entry.path)
            finally:
                os.close(fd)


_interrupted = threading.Event()


def _on_interrupt(signum: int, frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def catching_interrupts() -> Iterator[Callable[[], bool]]:
    """Within the block, a Ctrl-C (SIGINT) is remembered as well as raised as :class:`KeyboardInterrupt`;
    yields a function that tells whether one came. Code that runs Python under C++ (torch's stack
    symbolizer while tracing) can swallow the exception and go on, or fail with another error;
    remembered, the Ctrl-C still stops :func:`dian.outdir.write_atomically` before it replaces a
    folder (:func:`check_not_interrupted`), and the CLI still exits as interrupted. For a program's
    main thread (the CLI); elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield _interrupted.is_set
        return
    previous = signal.signal(signal.SIGINT, _on_interrupt)
    _interrupted.clear()
    try:
        yield _interrupted.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
        _interrupted.clear()


def check_not_interrupted() -> None:
    """Raise :class:`KeyboardInterrupt` if a Ctrl-C came within :func:`catching_interrupts`, even one
    that something swallowed."""
    if _interrupted.is_set():
        raise KeyboardInterrupt


__all__ = ["WRITER", "Staging", "catching_interrupts", "check_not_interrupted", "recover"]
