"""Resource limits and accounting through cgroups, v1 or v2 behind one small interface."""

from __future__ import annotations

import os
from pathlib import Path

from runtime_agent.kernel.cgroups.base import Cgroup, CgroupStats, Resources
from runtime_agent.kernel.cgroups.v1 import CgroupV1
from runtime_agent.kernel.cgroups.v2 import CgroupV2

CGROUP_MOUNT = Path("/sys/fs/cgroup")

__all__ = [
    "Cgroup", "CgroupStats", "CgroupV1", "CgroupV2", "Resources", "cgroup_for", "is_unified",
]


def is_unified(mount: Path = CGROUP_MOUNT) -> bool:
    return os.path.exists(mount / "cgroup.controllers")


def cgroup_for(
    container_id: str, root: str = "berth", mount: Path = CGROUP_MOUNT, unified: bool | None = None
) -> Cgroup:
    """The cgroup of one container on this host's hierarchy: ``<mount>/[<ctrl>/]<root>/<id>``."""
    if unified if unified is not None else is_unified(mount):
        return CgroupV2(mount, root, container_id)
    return CgroupV1(mount, root, container_id)
