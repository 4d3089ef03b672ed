"""What a host is and has: CPUs, memory, disk, kernel, cgroup version, and what runs on it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from runtime_agent.kernel import cgroups

AGENT_VERSION = "1"


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values


def host_facts(state_dir: Path, running: int, total: int) -> dict[str, Any]:
    memory = _meminfo()
    disk = shutil.disk_usage(state_dir)
    uname = os.uname()
    load1, _, _ = os.getloadavg()
    return {
        "hostname": uname.nodename,
        "cpus": os.cpu_count() or 1,
        "memory_bytes": memory.get("MemTotal", 0),
        "memory_available_bytes": memory.get("MemAvailable", 0),
        "disk_bytes": disk.total,
        "disk_free_bytes": disk.free,
        "kernel": uname.release,
        "os": uname.sysname.lower(),
        "architecture": uname.machine,
        "cgroup_version": 2 if cgroups.is_unified() else 1,
        "load_1m": round(load1, 2),
        "containers_running": running,
        "containers_total": total,
        "agent_version": AGENT_VERSION,
    }
