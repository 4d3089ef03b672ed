"""Named volumes: directories under the state dir that outlive the containers using them."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runtime_agent.errors import Conflict, InvalidSpec, NoSuchVolume
from runtime_agent.kernel.files import atomic_write

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass
class Volume:
    name: str
    mountpoint: str
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def inspect(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Driver": "local",
            "Mountpoint": self.mountpoint,
            "CreatedAt": self.created,
            "Labels": self.labels,
            "Scope": "local",
        }


class VolumeStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "volumes"
        self.containers = state_dir / "containers"

    def create(self, name: str | None = None, labels: dict[str, str] | None = None) -> Volume:
        anonymous = name is None
        name = name or os.urandom(32).hex()  # what secrets.token_hex does, minus its imports
        if not _NAME_RE.match(name):
            raise InvalidSpec(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed'
            )
        directory = self.root / name
        if (directory / "volume.json").exists():
            return self.get(name)  # docker volume create is idempotent
        (directory / "_data").mkdir(parents=True, exist_ok=True)
        volume = Volume(
            name, str(directory / "_data"), datetime.now(UTC).isoformat(), labels or {}, anonymous
        )
        atomic_write(directory / "volume.json", json.dumps(asdict(volume)).encode())
        return volume

    def get(self, name: str) -> Volume:
        try:
            return Volume(**json.loads((self.root / name / "volume.json").read_bytes()))
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchVolume(name) from None

    def list(self) -> list[Volume]:
        if not self.root.is_dir():
            return []
        return sorted(
            (self.get(p.name) for p in self.root.iterdir() if (p / "volume.json").exists()),
            key=lambda v: v.name,
        )

    def users(self, name: str) -> list[str]:
        """Ids of the containers (running or not) whose config mounts this volume."""
        users = []
        if not self.containers.is_dir():
            return users
        for config in self.containers.glob("*/config.json"):
            try:
                mounts = json.loads(config.read_bytes())["mounts"]
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            if any(m["type"] == "volume" and m["source"] == name for m in mounts):
                users.append(config.parent.name)
        return users

    def remove(self, name: str, force: bool = False) -> None:
        self.get(name)
        users = self.users(name)
        if users and not force:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        shutil.rmtree(self.root / name)
