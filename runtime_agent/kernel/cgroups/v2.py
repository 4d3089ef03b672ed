"""cgroup v2: one directory ``<root>/<id>`` on the unified hierarchy."""

from __future__ import annotations

import errno
from pathlib import Path

from runtime_agent.errors import InvalidSpec
from runtime_agent.kernel.cgroups.base import (
    CFS_PERIOD_US,
    Cgroup,
    CgroupStats,
    Resources,
    read_int,
    wait_for_file,
    write,
)

WANTED = ("cpu", "memory", "pids")


def shares_to_weight(shares: int) -> int:
    """The conversion runc and crun use from v1 cpu.shares (2..262144) to cpu.weight."""
    return 1 + ((shares - 2) * 9999) // 262142


class CgroupV2(Cgroup):
    def __init__(self, mount: Path, root: str, container_id: str) -> None:
        self.mount = mount
        self.parent = mount / root
        self.path = self.parent / container_id

    def paths(self) -> list[Path]:
        return [self.path]

    def available(self) -> set[str]:
        try:
            return set((self.mount / "cgroup.controllers").read_text().split())
        except FileNotFoundError:
            return set()

    def check(self, resources: Resources) -> None:
        wanted = {
            "memory": bool(resources.memory),
            "cpu": bool(resources.cpus or resources.cpu_shares),
            "pids": bool(resources.pids_limit and resources.pids_limit > 0),
        }
        available = self.available()
        for ctrl, needed in wanted.items():
            if needed and ctrl not in available:
                raise InvalidSpec(f"cgroup v2 controller {ctrl!r} is not available on this host")

    def create(self, resources: Resources) -> None:
        self.check(resources)
        available = self.available()
        self.parent.mkdir(exist_ok=True)
        enable = [c for c in WANTED if c in available]
        # Controllers must be enabled top-down in each parent's subtree_control.
        for directory in (self.mount, self.parent):
            if enable:
                try:
                    write(directory / "cgroup.subtree_control", " ".join(f"+{c}" for c in enable))
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        raise
        self.path.mkdir(exist_ok=True)
        self.apply(resources)

    def apply(self, resources: Resources) -> None:
        if resources.memory:
            write(self.path / "memory.max", resources.memory)
            if (self.path / "memory.swap.max").exists():
                write(self.path / "memory.swap.max", 0)
        if resources.cpus:
            write(self.path / "cpu.max", f"{int(resources.cpus * CFS_PERIOD_US)} {CFS_PERIOD_US}")
        if resources.cpu_shares:
            write(self.path / "cpu.weight", shares_to_weight(resources.cpu_shares))
        if resources.pids_limit and resources.pids_limit > 0:
            write(self.path / "pids.max", resources.pids_limit)

    def _keyed(self, name: str) -> dict[str, int]:
        try:
            text = (self.path / name).read_text()
        except FileNotFoundError:
            return {}
        result = {}
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                result[key] = int(value)
        return result

    def stats(self) -> CgroupStats:
        limit = read_int(self.path / "memory.max")
        return CgroupStats(
            memory_usage=read_int(self.path / "memory.current"),
            memory_limit=limit or None,
            cpu_usage_ns=self._keyed("cpu.stat").get("usage_usec", 0) * 1000,
            pids=read_int(self.path / "pids.current"),
        )

    def oom_kills(self) -> int:
        return self._keyed("memory.events").get("oom_kill", 0)

    def freeze(self) -> None:
        write(self.path / "cgroup.freeze", 1)
        wait_for_file(self.path / "cgroup.events", "frozen 1", "pause")

    def thaw(self) -> None:
        write(self.path / "cgroup.freeze", 0)
        wait_for_file(self.path / "cgroup.events", "frozen 0", "unpause")

    def kill(self) -> None:
        kill_file = self.path / "cgroup.kill"
        if kill_file.exists():
            try:
                write(kill_file, 1)
                return
            except OSError:
                pass
        super().kill()
