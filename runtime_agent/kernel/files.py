"""Files written whole: an atomic replace, an exchange under a lock, a small JSON table under a lock."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime_agent.kernel import linux


def atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def swap_write(path: Path, data: bytes) -> None:
    """Like :func:`atomic_write`, for a caller holding a lock that excludes other writers.

    The new contents go to a sibling kept for the purpose, which then trades places with the
    file: no inode is made or freed, so no journal write for either (a state write costs 20 us
    here instead of 200).
    """
    swap = path.with_name(f".{path.name}.swap")
    fd = os.open(swap, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    try:
        linux.rename_exchange(swap, path)
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.EINVAL, errno.ENOSYS):
            raise
        os.replace(swap, path)  # the first write, or a filesystem that cannot exchange


@contextmanager
def locked_table(path: Path, empty: Callable[[], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A small JSON table read and written under a lock (``path`` with .lock) that every
    process using it takes; ``empty()`` makes it when there is none yet. Written back, with
    :func:`swap_write`, only if the caller changed it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            data = empty()
        before = json.dumps(data)
        yield data
        after = json.dumps(data)
        if after != before:
            swap_write(path, after.encode())
    finally:
        os.close(fd)
