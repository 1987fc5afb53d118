"""Atomic file writes and directory locks.

* Atomic writes: a reader sees the old file or the new one, never half of one.
* Directory locks (:func:`dir_lock`): one writer (a build, an import) per directory at a time,
  readers share. The lock is ``flock(2)`` on the directory itself, not a lock file: it leaves
  nothing behind in a user's data folder (which is under version control), works on a
  read-only directory, and is released by the kernel when its holder dies (even by SIGKILL), so
  there is never a stale lock to clear by hand. (The ``filelock`` library needs a lock file
  beside the data, which would be exactly such a leftover.)
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from pathlib import Path

from .errors import BusyError

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_new_file", "write_new_files", "dir_lock", "holds_lock", "fsync_dir", "LOCKED_ENV"]

# Set by a process that holds a directory's lock for the child processes it starts (report
# kernels read the data dir the build has locked): ``os.pathsep``-separated real paths.
LOCKED_ENV = "ANALYSIS_LOCKED_DIRS"
_HELD: dict[str, tuple[int, bool]] = {}  # real path -> (fd, exclusive), locks this process holds


def holds_lock(path: Path | str) -> bool:
    """True when this process (or the build that started it) holds the lock of ``path``."""
    key = os.path.realpath(path)
    return key in _HELD or key in os.environ.get(LOCKED_ENV, "").split(os.pathsep)


@contextlib.contextmanager
def dir_lock(path: Path | str, what: str, *, shared: bool = False, wait: float = 0.0):
    """Hold the lock of directory ``path`` (exclusive, or shared with other readers).

    Re-entrant within a process. Raises :class:`~analysis.errors.BusyError` (one line naming
    the directory and ``what`` holds it) when the lock is not free within ``wait`` seconds.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with dir_lock(d, "build"):
    ...     holds_lock(d)
    True
    >>> holds_lock(d)
    False
    """
    key = os.path.realpath(path)
    if holds_lock(key):
        yield
        return
    fd = os.open(key, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise BusyError(f"'{path}' is in use by another {what}; wait for it to finish "
                                f"(or use another directory)") from None
            time.sleep(0.1)
    _HELD[key] = (fd, not shared)
    try:
        yield
    finally:
        _HELD.pop(key, None)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def fsync_dir(path: Path | str) -> None:
    """Make the renames inside a directory durable (best effort where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path | str, data: bytes, *, tmp_dir: Path | str | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it into place.

    The file gets the usual mode (0666 less the umask; mkstemp alone would make it private).
    ``tmp_dir`` (same file system) holds the temporary file instead of ``path``'s folder: a
    build keeps all its temporary work in one folder it owns, so that a killed build leaves
    nothing beside the outputs and no clean-up ever has to guess what a ``.tmp`` file is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write_bytes(p, b"87,15"); p.read_bytes()
    b'87,15'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=tmp_dir or path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_new_file(path: Path | str, data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data`` and fsync it: for a file in a folder
    that is itself published by one rename once complete (a build's private work folder), where
    a temporary copy per file (:func:`atomic_write_bytes`) would only add work.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> write_new_file(p, b"87,15"); p.read_bytes()
    b'87,15'
    """
    write_new_files([(path, data)])


def write_new_files(files) -> None:
    """:func:`write_new_file` for several files (``(path, data)`` pairs): each is created and
    written, then all are fsynced, so the disk writes them together instead of one file per
    wait. When this returns every file is on disk, as with :func:`write_new_file` one by one.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_new_files([(d / "a.csv", b"1"), (d / "b.csv", b"2")]); sorted(p.name for p in d.iterdir())
    ['a.csv', 'b.csv']
    """
    opened = []
    try:
        for path, data in files:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            opened.append(fd)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        for fd in opened:
            os.fsync(fd)
    finally:
        for fd in opened:
            os.close(fd)


def atomic_write_text(path: Path | str, text: str, *, tmp_dir: Path | str | None = None) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text (line ends kept as given)."""
    atomic_write_bytes(path, text.encode("utf-8"), tmp_dir=tmp_dir)
