"""Files written whole or not at all: every file facejax writes for a user goes through here.

:func:`atomic_write` hands out a temporary file in the target's own folder; when the ``with``
block ends normally the data is flushed, ``fsync``-ed and the temporary file renamed over the
target (``os.replace``, atomic on POSIX and Windows within one file system). When the block
raises (a full disk, a killed writer, a bug halfway through) the temporary file is removed and
the previous file, if any, is left as it was. A reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

# Read once: os.umask can only be read by setting it, which is not safe once threads run.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """A file object whose content replaces ``path`` only once the block succeeds.

    Args:
      path: the file to (re)place; its folder must exist.
      mode: ``"w"`` (text) or ``"wb"`` (bytes).
      **open_kwargs: passed to ``open`` (e.g. ``encoding``, ``newline``).

    Raises:
      ValueError: for a mode other than ``"w"``/``"wb"``.
      OSError: from the write or the rename, naming ``path`` (the previous file is intact).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; a user's output gets the usual umask permissions.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.filename is None and err.errno is not None:
            # A failed write() names no file ("[Errno 28] No space left on device"): name it.
            raise OSError(err.errno, err.strerror, path) from err
        raise


def write_text_atomic(path, text: str) -> None:
    """Writes ``text`` (UTF-8) to ``path`` whole or not at all (:func:`atomic_write`)."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)
