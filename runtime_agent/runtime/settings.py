"""The runtime agent's settings, each read once from the environment with its default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# A NamedTuple rather than a dataclass: `--help` then never imports dataclasses (and inspect).
class Settings(NamedTuple):
    state_dir: Path
    bridge: str
    subnet: str
    cgroup_root: str
    # First host uid/gid handed to --userns=auto containers, 65536 each: above the ranges
    # useradd gives /etc/subuid (100000 to 600100000), so no login user's range is reused.
    userns_base: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            state_dir=Path(_env_str("BERTH_AGENT_STATE", "/var/lib/berth-agent")),
            bridge=_env_str("BERTH_BRIDGE", "berth0"),
            subnet=_env_str("BERTH_SUBNET", "10.213.0.0/24"),
            cgroup_root=_env_str("BERTH_CGROUP_ROOT", "berth"),
            userns_base=_env_int("BERTH_USERNS_BASE", 1_000_000_000),
        )
