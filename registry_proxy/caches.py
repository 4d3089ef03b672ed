"""The proxy's caches: a bounded TTL cache, what it holds (manifests, projects, settings), how long entries live."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from portal.projects.models import Project
from portal.system.services import get_system_settings

TAG_CACHE_SECONDS = 2.0  # how long another worker may serve a tag's previous manifest after a push moves it
PROJECT_CACHE_SECONDS = 5.0
SETTINGS_CACHE_SECONDS = 2.0
BASIC_CACHE_SECONDS = 30.0


@dataclass
class CachedManifest:
    body: bytes
    media_type: str
    digest: str
    expires: float


class TtlCache:
    """A small bounded LRU whose entries expire; used only from the event loop (no locking)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any, now: float) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < now:
            return False, None
        return True, entry[1]

    def put(self, key: Any, value: Any, expires: float) -> None:
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def pop(self, key: Any) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class ProjectInfo:
    id: int
    name: str
    public: bool


def load_project(name: str) -> ProjectInfo | None:
    row = Project.objects.filter(name=name).values_list("id", "name", "public").first()
    return ProjectInfo(*row) if row else None


def load_read_only() -> bool:
    return bool(get_system_settings().read_only)
