"""The runtime agent's settings, each read once from the environment with its default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name) or default


# A NamedTuple rather than a dataclass: `--help` then never imports dataclasses (and inspect).
class Settings(NamedTuple):
    state_dir: Path
    bridge: str
    subnet: str
    cgroup_root: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            state_dir=Path(_env_str("BERTH_AGENT_STATE", "/var/lib/berth-agent")),
            bridge=_env_str("BERTH_BRIDGE", "berth0"),
            subnet=_env_str("BERTH_SUBNET", "10.213.0.0/24"),
            cgroup_root=_env_str("BERTH_CGROUP_ROOT", "berth"),
        )
