"""Files written whole or not at all, and a lock that lets processes agree on who writes.

A process killed while it writes (a time limit, Ctrl-C, a node that dies) must never leave
a half-written file where a later run will read it: ``atomic_write`` writes to a
temporary file in the same folder, flushes it to disk and renames it over the target,
which POSIX makes atomic, so a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

#: Suffix of the temporary files; a folder may hold one left by a killed writer.
PARTIAL_SUFFIX = ".partial"


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it to
    ``path``; on any error (or a kill) ``path`` keeps its previous content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}"
    # os.open, not mkstemp: the file gets the permissions the umask gives any new file.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text.encode()))


def remove_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Delete what killed writers left in ``folder`` (not its subfolders); returns them."""
    left = sorted(Path(folder).glob(f".*{PARTIAL_SUFFIX}"))
    for path in left:
        with contextlib.suppress(OSError):
            path.unlink()
    return left


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` + ``.lock`` (created if missing) while the block
    runs; a second process that asks for it waits. Advisory, through ``fcntl.flock``
    (Unix); where that is missing, no lock is taken and writes stay atomic."""
    try:
        import fcntl
    except ImportError:  # Windows: atomic writes alone
        yield
        return
    lock_path = Path(f"{os.fspath(path)}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
