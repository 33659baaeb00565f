"""Writing files whole or not at all: the one atomic writer of diagnostics and the tools on it.

:func:`write_atomically` writes the new content to a temporary file in the destination's
folder and moves it over the old file with ``os.replace``: a reader (another process, a
merge of several processes' findings) sees the old file or the new one, never half of one,
and a run that is interrupted leaves no temporary file behind. The file keeps its permission
bits (a 644 file stays 644; a new file gets the usual mode for the user's umask, not the 600
of a temporary file).

It imports nothing but the standard library, so that tools built on diagnostics (the course's
``kata`` command) can use it without importing torch.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    encoding: str = "utf-8",
    durable: bool = True,
) -> None:
    """Replace the file at ``path`` with ``data`` in one step, keeping the file's mode.

    ``data`` is text (encoded with ``encoding``) or bytes. ``durable`` (the default) flushes
    the content to the disk before the file is moved into place, so that a power cut leaves
    the old file or the new one; pass ``durable=False`` for a file rewritten often while a
    program runs, where a crash of the program, not of the machine, is the risk.

    The parent folder must exist. On any error (an ``OSError``, or an interruption) the
    temporary file is removed, the old file is left as it was, and the error is raised.
    """
    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The permission bits the written file should have: its own, or a new file's."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # There is no way to read the umask without setting it: it is set straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
