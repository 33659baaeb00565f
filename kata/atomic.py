"""Writing the learner's files safely: whole or not at all, one writer at a time.

Every file ``kata`` writes for the learner (progress, drill history, backups of reset files,
the shipped copies, reports) goes through :func:`write_atomic`, which is
``diagnostics.files.write_atomically``: the new content is written to a temporary file in the
same folder and moved over the old one with ``os.replace``, so an interrupted command never
leaves half a file, and the file keeps its permissions (a 644 file stays 644; a new one gets
the usual mode for the user's umask, not ``mkstemp``'s 600).

A file that is read, changed and written back (progress, history) is changed under
:func:`locked`: an exclusive lock held by one command at a time (``fcntl.flock`` on the file's
folder on POSIX, so no lock file is left behind; ``msvcrt.locking`` of a ``NAME.lock`` file on
Windows; an exclusively created ``NAME.lock`` file elsewhere), so that two ``kata`` commands at
once both keep their changes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from diagnostics.files import write_atomically

__all__ = ["locked", "write_atomic"]

LOCK_SUFFIX = ".lock"
# The fallback lock (no fcntl, no msvcrt): how long to wait for another command's lock, and
# when a lock file is so old that its command must have died without removing it.
_FALLBACK_WAIT_S = 10.0
_FALLBACK_STALE_S = 60.0


# The one atomic writer of the project: diagnostics' (it imports only the standard library).
write_atomic = write_atomically


@contextlib.contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold an exclusive lock for changing ``path`` (waits for another holder to finish).

    On POSIX the lock is on ``path``'s folder (one writer per folder at a time); elsewhere it
    is a ``path.lock`` file. The folder must exist: an ``OSError`` says so otherwise.
    """
    path = Path(path)
    try:
        import fcntl
    except ImportError:  # Windows, or a platform without flock
        with _locked_portably(Path(str(path) + LOCK_SUFFIX)):
            yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked_portably(lock_path: Path) -> Iterator[None]:
    try:
        import msvcrt
    except ImportError:
        with _locked_by_creation(lock_path):
            yield
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + _FALLBACK_WAIT_S
        while True:  # LK_LOCK itself gives up after ten tries of a second each
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
        try:
            yield
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked_by_creation(lock_path: Path) -> Iterator[None]:
    """The last resort: the lock is held by whoever created the lock file."""
    deadline = time.monotonic() + _FALLBACK_WAIT_S
    while True:
        try:
            fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock_path.stat().st_mtime > _FALLBACK_STALE_S:
                    lock_path.unlink()  # its command died without letting go
                    continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{lock_path} is held by another kata command for more than "
                    f"{_FALLBACK_WAIT_S:.0f} s. If no other kata command runs, delete it."
                ) from None
            time.sleep(0.05)
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()
