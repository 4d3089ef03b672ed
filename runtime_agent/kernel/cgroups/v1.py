"""cgroup v1: one directory per controller hierarchy, created under ``<ctrl>/<root>/<id>``."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
from pathlib import Path

from runtime_agent.errors import Conflict
from runtime_agent.kernel.cgroups.base import (
    CFS_PERIOD_US,
    Cgroup,
    CgroupStats,
    Resources,
    read_int,
    wait_for_file,
    write,
)

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "devices", "freezer")

# Docker's default device rules: mknod anything, but read/write only the harmless devices.
DEVICE_RULES = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
)  # fmt: skip


@functools.cache
def hierarchies(mount: Path) -> tuple[tuple[str, Path], ...]:
    """(controller, real hierarchy root) for the controllers present; cached, they do not move."""
    found = []
    for ctrl in CONTROLLERS:
        base = mount / ctrl
        if base.is_dir():
            # cpu and cpuacct are often co-mounted behind two symlinks to one hierarchy.
            found.append((ctrl, Path(os.path.realpath(base))))
    return tuple(found)


@functools.cache
def _bases(mount: Path, root: str) -> tuple[tuple[str, Path], ...]:
    return tuple((ctrl, real / root) for ctrl, real in hierarchies(mount))


@functools.cache
def devices_inherited(parent: Path) -> bool:
    """Whether a new cgroup under ``parent`` starts with Docker's device rules.

    A v1 devices cgroup copies its parent's rules when it is made, so the rules written once
    into Berth's own parent spare each container thirteen writes. The kernel refuses to change
    a parent's default once it has children: an older parent left as it was keeps the
    per-container writes.
    """
    wanted = set(DEVICE_RULES)
    try:
        if set((parent / "devices.list").read_text().split("\n")) - {""} == wanted:
            return True
        if any(entry.is_dir() for entry in parent.iterdir()):
            return False
        write(parent / "devices.deny", "a")
        for rule in DEVICE_RULES:
            write(parent / "devices.allow", rule)
    except OSError:
        return False
    return set((parent / "devices.list").read_text().split("\n")) - {""} == wanted


class CgroupV1(Cgroup):
    def __init__(self, mount: Path, root: str, container_id: str) -> None:
        self.mount = mount
        self.root = root
        self.id = container_id
        self._dirs = {ctrl: base / container_id for ctrl, base in _bases(mount, root)}
        self._paths = list(dict.fromkeys(self._dirs.values()))

    def paths(self) -> list[Path]:
        return self._paths

    def create(self, resources: Resources) -> None:
        for path in self.paths():
            path.parent.mkdir(parents=True, exist_ok=True)
        dev = self._dirs.get("devices")
        inherited = dev is not None and devices_inherited(dev.parent)
        for path in self.paths():
            path.mkdir(exist_ok=True)
        if dev is not None and not inherited:
            write(dev / "devices.deny", "a")
            for rule in DEVICE_RULES:
                write(dev / "devices.allow", rule)
        self.apply(resources)

    def adopt(self, spare: Cgroup) -> bool:
        moved: list[tuple[Path, Path]] = []
        try:
            for source, target in zip(spare.paths(), self.paths(), strict=True):
                try:
                    os.rename(source, target)
                except OSError as e:
                    if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EBUSY):
                        raise
                    # An earlier run's cgroup, empty since that run exited: replaced, as Docker
                    # gives every run a fresh one.
                    os.rmdir(target)
                    os.rename(source, target)
                moved.append((source, target))
        except OSError:
            for source, target in reversed(moved):
                with contextlib.suppress(OSError):
                    os.rename(target, source)
            return False
        return True

    def apply(self, resources: Resources) -> None:
        if "memory" in self._dirs and resources.memory:
            mem = self._dirs["memory"]
            memsw = mem / "memory.memsw.limit_in_bytes"
            # Equal memory+swap limit means no swap, as Docker does without --memory-swap. The
            # kernel keeps memory <= memory+swap at every step: a raise goes memsw first.
            files = [mem / "memory.limit_in_bytes"]
            if memsw.exists():
                raising = resources.memory > read_int(memsw)
                files = [memsw, *files] if raising else [*files, memsw]
            for path in files:
                write(path, resources.memory)
        if "cpu" in self._dirs:
            cpu = self._dirs["cpu"]
            if resources.cpus:
                write(cpu / "cpu.cfs_period_us", CFS_PERIOD_US)
                write(cpu / "cpu.cfs_quota_us", int(resources.cpus * CFS_PERIOD_US))
            if resources.cpu_shares:
                write(cpu / "cpu.shares", resources.cpu_shares)
        if "pids" in self._dirs and resources.pids_limit and resources.pids_limit > 0:
            write(self._dirs["pids"] / "pids.max", resources.pids_limit)

    def stats(self) -> CgroupStats:
        mem = self._dirs.get("memory")
        limit = read_int(mem / "memory.limit_in_bytes") if mem else 0
        return CgroupStats(
            memory_usage=read_int(mem / "memory.usage_in_bytes") if mem else 0,
            # v1 reports "no limit" as a huge page-rounded number.
            memory_limit=limit if limit and limit < 1 << 62 else None,
            cpu_usage_ns=read_int(self._dirs["cpuacct"] / "cpuacct.usage")
            if "cpuacct" in self._dirs
            else 0,
            pids=read_int(self._dirs["pids"] / "pids.current") if "pids" in self._dirs else 0,
        )

    def freeze(self) -> None:
        state = self._freezer_state()
        write(state, "FROZEN")
        wait_for_file(state, "FROZEN", "pause")

    def thaw(self) -> None:
        state = self._freezer_state()
        write(state, "THAWED")
        wait_for_file(state, "THAWED", "unpause")

    def _freezer_state(self) -> Path:
        if "freezer" not in self._dirs:
            raise Conflict("pausing needs the freezer cgroup, which this host does not mount")
        return self._dirs["freezer"] / "freezer.state"

    def oom_kills(self) -> int:
        mem = self._dirs.get("memory")
        if not mem:
            return 0
        try:
            text = (mem / "memory.oom_control").read_text()
        except FileNotFoundError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0
