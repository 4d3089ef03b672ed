"""A container's directory and state on disk, with the table of allowed state transitions."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from runtime_agent.container.spec import ContainerSpec
from runtime_agent.errors import Conflict, NoSuchContainer
from runtime_agent.kernel.files import swap_write


class Status(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    RESTARTING = "restarting"
    EXITED = "exited"
    REMOVING = "removing"
    DEAD = "dead"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.RUNNING, Status.EXITED, Status.REMOVING, Status.DEAD}),
    Status.RUNNING: frozenset({Status.EXITED, Status.RESTARTING, Status.DEAD}),
    Status.RESTARTING: frozenset({Status.RUNNING, Status.EXITED, Status.REMOVING, Status.DEAD}),
    Status.EXITED: frozenset({Status.RUNNING, Status.REMOVING, Status.DEAD}),
    Status.DEAD: frozenset({Status.REMOVING}),
    Status.REMOVING: frozenset(),
}


@dataclass
class State:
    status: Status = Status.CREATED
    pid: int = 0
    shim_pid: int = 0
    shim_start: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: str = ""
    finished_at: str = ""
    restart_count: int = 0
    generation: int = 0
    stop_requested: bool = False
    ip_address: str = ""
    paused: bool = False  # running, every process frozen (Docker's State.Paused)
    health_status: str = ""  # "starting", "healthy" or "unhealthy" with a health check, as Docker's
    health_failing_streak: int = 0
    health_log: list[dict[str, Any]] = field(default_factory=list)  # the last few checks

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        known = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in known})
        state.status = Status(state.status)
        return state

    @property
    def running(self) -> bool:
        return self.status in (Status.RUNNING, Status.RESTARTING)


BLANK_PREFIX = ".blank-"


def make_blank(scratch: Path) -> Path:
    """A container directory made ahead, empty: upper and work dirs, empty config and state
    files. Filling it and renaming it into place makes nothing new on disk."""
    scratch.mkdir(exist_ok=True)
    tmp = scratch / f".making-{os.getpid()}-{os.urandom(8).hex()}"
    tmp.mkdir()
    for sub in ("upper", "work"):
        (tmp / sub).mkdir()
    for name in ("config.json", "state.json"):
        os.close(os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    # Whole or not at all under its final name: a half-made one is never taken.
    blank = scratch / f"{BLANK_PREFIX}{os.urandom(8).hex()}"
    os.rename(tmp, blank)
    return blank


class Container:
    def __init__(self, directory: Path, spec: ContainerSpec | None = None) -> None:
        self.dir = directory
        self.id = directory.name
        if spec is not None:
            self.__dict__["spec"] = spec

    @cached_property
    def spec(self) -> ContainerSpec:
        return ContainerSpec.from_dict(json.loads((self.dir / "config.json").read_bytes()))

    @classmethod
    def create(
        cls,
        directory: Path,
        spec: ContainerSpec,
        state: State,
        scratch: Path,
        owner: int | None = None,
        blank: Path | None = None,
    ) -> Container:
        """Fill a ``blank`` directory (see :func:`make_blank`; one is made if none is given, or
        another process took it first) and rename it into place.

        Readers see all of it or nothing, for one rename rather than one per file.
        ``owner`` (a host uid and gid: root of the container's user namespace) gets the upper
        and work dirs, which it may then write.
        """
        tmp = scratch / directory.name
        try:
            os.rename(blank or make_blank(scratch), tmp)
        except FileNotFoundError:
            os.rename(make_blank(scratch), tmp)
        try:
            contents = {
                "config.json": json.dumps(spec.to_dict()).encode(),
                "state.json": json.dumps(vars(state)).encode(),
            }
            for name, data in contents.items():
                fd = os.open(tmp / name, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            if owner is not None:
                for name in ("upper", "work"):
                    os.chown(tmp / name, owner, owner)
            os.rename(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(directory, spec)

    @property
    def state(self) -> State:
        try:
            return State.from_dict(json.loads((self.dir / "state.json").read_bytes()))
        except FileNotFoundError:
            raise NoSuchContainer(self.id) from None

    @contextmanager
    def locked(self) -> Iterator[State]:
        """The state, read under a lock shared with the shim; nothing is written back."""
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NoSuchContainer(self.id) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self.state
        finally:
            os.close(fd)

    @contextmanager
    def update(self) -> Iterator[State]:
        """Read-modify-write the state under a lock shared with the shim.

        The lock is the directory itself and an unchanged state is not written again: each
        file created or replaced is a metadata write that waits behind a busy disk journal.
        """
        with self.locked() as state:
            before = replace(state)
            yield state
            if state != before:
                # vars(), not asdict(): the fields are flat, and asdict deep-copies each one.
                swap_write(self.dir / "state.json", json.dumps(vars(state)).encode())

    @staticmethod
    def transition(state: State, new: Status) -> None:
        if new not in TRANSITIONS[state.status]:
            raise Conflict(f"cannot move container from {state.status} to {new}")
        state.status = new

    @property
    def upper(self) -> Path:
        return self.dir / "upper"

    @property
    def work(self) -> Path:
        return self.dir / "work"

    @property
    def log_path(self) -> Path:
        return self.dir / "container.log"
