"""The interface every cgroup implementation offers to the runtime."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

CFS_PERIOD_US = 100_000


@dataclass
class Resources:
    """The limits a cgroup enforces: a container's --memory, --cpus, --cpu-shares, --pids-limit."""

    memory: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None


@dataclass
class CgroupStats:
    memory_usage: int
    memory_limit: int | None
    cpu_usage_ns: int
    pids: int


class Cgroup(ABC):
    @abstractmethod
    def create(self, resources: Resources) -> None:
        """Make the cgroup (and its parents) and apply the limits."""

    @abstractmethod
    def apply(self, resources: Resources) -> None:
        """Write the limits into the existing cgroup."""

    def check(self, resources: Resources) -> None:  # noqa: B027 - most hierarchies take any limit
        """Refuse limits this host cannot enforce, before anything is made."""

    def adopt(self, spare: Cgroup) -> bool:
        """Take over ``spare``'s directories, with the processes already in them, under this
        cgroup's names; False where the hierarchy cannot rename (the caller joins instead)."""
        return False

    @abstractmethod
    def paths(self) -> list[Path]:
        """Every directory that makes up this cgroup, one per hierarchy."""

    @abstractmethod
    def stats(self) -> CgroupStats: ...

    @abstractmethod
    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer has killed in this cgroup."""

    @abstractmethod
    def freeze(self) -> None:
        """Stop every process of the cgroup where it is, until thaw()."""

    @abstractmethod
    def thaw(self) -> None: ...

    def procs_files(self) -> list[str]:
        """The files a process writes "0" to (from the host's mount namespace) to join."""
        return [os.fspath(p / "cgroup.procs") for p in self.paths()]

    def join(self, pid: int = 0) -> None:
        for path in self.procs_files():
            write(Path(path), pid)

    def exists(self) -> bool:
        return any(p.is_dir() for p in self.paths())

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.paths():
            with contextlib.suppress(FileNotFoundError):
                found.update(int(x) for x in (path / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove_if_empty(self) -> None:
        """Remove every directory left empty, and nothing else: never kills."""
        for path in self.paths():
            with contextlib.suppress(OSError):
                os.rmdir(path)

    def destroy(self, timeout: float = 5.0) -> None:
        """Kill what is left and remove every directory; rmdir is EBUSY until tasks are reaped."""
        deadline = time.monotonic() + timeout
        for path in self.paths():
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise
                    self.kill()
                    time.sleep(0.005)


def read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return default
    return default if text in ("", "max") else int(text)


def write(path: Path, value: str | int) -> None:
    # open(path, "w") in one write(2), without a buffered text file: a container takes ~20.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def wait_for_file(path: Path, wanted: str, what: str, timeout: float = 5.0) -> None:
    """Until ``path`` holds ``wanted`` (a freezer's state): freezing waits for every task."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while wanted not in path.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {path} did not become {wanted!r} in {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
