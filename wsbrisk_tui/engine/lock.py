"""One writer per history store: an exclusive ``flock`` on ``<db>.lock`` beside the database.

The lock is ``fcntl.flock(LOCK_EX | LOCK_NB)`` on a file opened by the writer for as long as it
records. The kernel releases it when the process dies, however it dies (``kill -9`` included), so a
stale lock never needs cleaning up: the next writer simply gets it. The pid written into the file
is informative only (it names the holder in the refusal message); it is never used to decide who
holds the lock. The lock file is never deleted (deleting it would let two writers lock two
different files of the same name).

Limits: ``flock`` is reliable on local file systems; on NFS it may be emulated or absent, which is
one more reason the history belongs on a local disk.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from wsbrisk_tui.errors import InputError


def lock_path_for(db_path: str | os.PathLike[str]) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".lock")


class StoreLock:
    """The writer lock of the store at ``db_path``. Use as a context manager or acquire/release."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path_for(db_path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder_pid(self) -> int | None:
        """The pid written by the current (or last) holder, if readable."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot create the writer lock ({exc.strerror or exc}): "
                             "the history folder must be writable (or set history.path)") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise InputError(f"{self.path}: cannot lock ({exc.strerror or exc}): the history must be "
                             "on a local file system") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return True

    def acquire(self) -> StoreLock:
        """Take the lock or raise InputError naming the holder's pid."""
        if not self.try_acquire():
            pid = self.holder_pid()
            who = f"pid {pid}" if pid is not None else "pid unknown"
            raise InputError(f"another wsbrisk-tui daemon ({who}) is recording to {self.db_path}: stop "
                             "it first, or watch it with `wsbrisk-tui --attach`")
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
