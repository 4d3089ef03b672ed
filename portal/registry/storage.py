"""Removes what distribution stores for a repository or a project, straight from its storage.

distribution 2.8 has no call that deletes a repository: manifest deletes leave its layer links and upload
sessions, which let the next owner of the name read the old layers by digest. Everything a repository holds
lives under `docker/registry/v2/repositories/<name>/` (`_manifests`, `_layers`, `_uploads`); the blobs
themselves are shared by content and stay for distribution's garbage collection.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from rest_framework import status

from portal.utilities.errors import BerthError

REPOSITORIES = "docker/registry/v2/repositories"
# What one repository owns inside its directory; anything else there is a repository nested below it.
REPOSITORY_PARTS = ("_manifests", "_layers", "_uploads")


class StorageError(BerthError):
    """The storage refused or failed a removal: nothing is deleted, the caller may try again."""

    code = "registry_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class RepositoryStorage(Protocol):
    def remove_repository(self, name: str) -> None:
        """Removes the repository's manifests, tags, layer links and uploads; leaves nested repositories."""

    def remove_project(self, name: str) -> None:
        """Removes every repository under the project, indexed by Berth or not."""


class FilesystemStorage:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / REPOSITORIES

    def _directory(self, name: str) -> Path:
        # Names reach here validated by the OCI grammar; a path that still leaves the root is refused.
        path = self.root / name
        if ".." in Path(name).parts or not path.resolve().is_relative_to(self.root.resolve()):
            raise StorageError(f"repository name {name!r} leaves the storage root")
        return path

    def remove_repository(self, name: str) -> None:
        directory = self._directory(name)
        try:
            for part in REPOSITORY_PARTS:
                if (directory / part).exists():
                    shutil.rmtree(directory / part)
            # Emptied directories go too, so a project's directory does not outlive its last repository.
            while directory != self.root and directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
                directory = directory.parent
        except OSError as exc:
            raise StorageError(f"cannot remove {name} from the registry storage: {exc}") from exc

    def remove_project(self, name: str) -> None:
        directory = self._directory(name)
        try:
            if directory.exists():
                shutil.rmtree(directory)
        except OSError as exc:
            raise StorageError(f"cannot remove project {name} from the registry storage: {exc}") from exc


def storage_from_settings() -> RepositoryStorage:
    from django.conf import settings

    return FilesystemStorage(Path(settings.REGISTRY_DATA_DIR))
