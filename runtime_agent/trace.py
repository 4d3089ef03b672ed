"""Start-path timing marks, written only when BERTH_TRACE names a file (the start bench's --trace)."""

from __future__ import annotations

import os
import time

# Read once: every process of a start (agent, zygote, shim, container) inherits the variable.
_path = os.environ.get("BERTH_TRACE", "")
_fd = -1
_inode = 0


def enable(path: str) -> None:
    """Trace to ``path`` from now on, here and in every process started after this call."""
    global _path
    _path = os.environ["BERTH_TRACE"] = path


def mark(name: str) -> None:
    """Append ``<monotonic ns> <pid> <process CPU ns> <name>``; one O_APPEND write keeps it whole."""
    global _fd, _inode
    if not _path:
        return
    # The descriptor is kept because a container process past pivot_root cannot reopen the
    # path; it is checked because the shim closes every inherited descriptor.
    try:
        current = _fd >= 0 and os.fstat(_fd).st_ino == _inode
    except OSError:
        current = False
    try:
        if not current:
            _fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            _inode = os.fstat(_fd).st_ino
        line = f"{time.perf_counter_ns()} {os.getpid()} {time.process_time_ns()} {name}\n"
        os.write(_fd, line.encode())
    except OSError:
        _fd = -1
