"""Named volumes: directories under the state dir that outlive the containers using them.

A volume made for a project (the portal's deployments) is that project's: it is named
``<project>/<name>`` on the host and kept apart from other projects' volumes of the same name.
"""

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
# The portal's project names: single separators, so "__" never occurs in one.
PROJECT_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
# No volume may have this name (names start with a letter or digit), so no volume's directory is it.
PROJECTS_DIR = "_projects"
OWNER_LABEL = "berth.project"


@dataclass
class Volume:
    name: str
    mountpoint: str
    created: str
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    # The project owning it; "" for the host's own volumes (made with the runtime's CLI).
    project: str = ""

    @property
    def ref(self) -> str:
        """How containers' mounts name it on this host."""
        return f"{self.project}/{self.name}" if self.project else self.name

    def inspect(self) -> dict[str, Any]:
        return {
            "Name": self.ref,
            "Driver": "local",
            "Mountpoint": self.mountpoint,
            "CreatedAt": self.created,
            "Labels": self.labels,
            "Scope": "local",
            "Project": self.project or None,
        }


def split_ref(ref: str) -> tuple[str, str]:
    """``project/name`` → (project, name); a plain name is the host's own: ("", name)."""
    project, _, name = ref.rpartition("/")
    if project and not PROJECT_RE.match(project):
        raise InvalidSpec(f"invalid project {project!r} in volume {ref!r}")
    return project, name


class VolumeStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "volumes"
        self.containers = state_dir / "containers"

    def directory(self, ref: str) -> Path:
        project, name = split_ref(ref)
        if not _NAME_RE.match(name):
            raise NoSuchVolume(ref)
        return self.root / PROJECTS_DIR / project / name if project else self.root / name

    def create(
        self, name: str | None = None, labels: dict[str, str] | None = None, project: str = ""
    ) -> Volume:
        anonymous = not name
        name = name or os.urandom(32).hex()  # what secrets.token_hex does, minus its imports
        if not _NAME_RE.match(name):
            raise InvalidSpec(
                f'create {name}: "{name}" includes invalid characters for a local volume name, '
                'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed'
            )
        if project and not PROJECT_RE.match(project):
            raise InvalidSpec(f"invalid project {project!r} for volume {name}")
        ref = f"{project}/{name}" if project else name
        directory = self.directory(ref)
        if (directory / "volume.json").exists():
            return self.get(ref)  # docker volume create is idempotent
        (directory / "_data").mkdir(parents=True, exist_ok=True)
        # The owner label is the store's to set: a caller's labels cannot claim another owner.
        labels = {**(labels or {}), **({OWNER_LABEL: project} if project else {})}
        volume = Volume(
            name,
            str(directory / "_data"),
            datetime.now(UTC).isoformat(),
            labels,
            anonymous,
            project,
        )
        atomic_write(directory / "volume.json", json.dumps(asdict(volume)).encode())
        return volume

    def ensure(self, ref: str) -> Volume:
        """The volume a mount names (``project/`` alone: a new anonymous one of that project)."""
        project, name = split_ref(ref)
        return self.create(name or None, project=project)

    def get(self, ref: str) -> Volume:
        try:
            return Volume(**json.loads((self.directory(ref) / "volume.json").read_bytes()))
        except (FileNotFoundError, NotADirectoryError):
            raise NoSuchVolume(ref) from None

    def list(self, project: str | None = None) -> list[Volume]:
        """Every volume on the host, or only those of `project` ("" for the host's own)."""
        directories = [self.root] if project in (None, "") else []
        projects = self.root / PROJECTS_DIR
        if project is None and projects.is_dir():
            directories += sorted(projects.iterdir())
        elif project:
            directories.append(projects / project)
        found = [
            Volume(**json.loads((p / "volume.json").read_bytes()))
            for directory in directories
            if directory.is_dir()
            for p in directory.iterdir()
            if (p / "volume.json").exists()
        ]
        return sorted(found, key=lambda v: (v.project, v.name))

    def users(self, ref: str) -> list[str]:
        """Ids of the containers (running or not) whose config mounts this volume."""
        users = []
        if not self.containers.is_dir():
            return users
        for config in self.containers.glob("*/config.json"):
            try:
                mounts = json.loads(config.read_bytes())["mounts"]
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            if any(m["type"] == "volume" and m["source"] == ref for m in mounts):
                users.append(config.parent.name)
        return users

    def remove(self, ref: str, force: bool = False) -> None:
        self.get(ref)
        users = self.users(ref)
        if users and not force:
            raise Conflict(f"remove {ref}: volume is in use - [{', '.join(users)}]")
        shutil.rmtree(self.directory(ref))
