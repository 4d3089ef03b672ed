"""Removes what distribution stores for a repository or a project, straight from its storage.

distribution 2.8 has no call that deletes a repository: manifest deletes leave its layer links and upload
sessions, which let the next owner of the name read the old layers by digest. Everything a repository holds
lives under `docker/registry/v2/repositories/<name>/` (`_manifests`, `_layers`, `_uploads`); the blobs
themselves are shared by content and stay for distribution's garbage collection. On S3 the same paths are
keys under the driver's root, listed and deleted in batches with boto3.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

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


# -- S3 ----------------------------------------------------------------------------------------------------------

DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


class S3Storage:
    """The bucket distribution's S3 driver writes to: keys are `<root>/docker/registry/v2/…` without a leading /.

    boto3 signs the calls and finds credentials as distribution does: the keys given, else the environment or
    the instance's role.
    """

    def __init__(self, bucket: str, region: str, endpoint: str, access_key: str, secret_key: str, root: str,
                 client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = "/".join(part for part in (root.strip("/"), REPOSITORIES) if part) + "/"
        if client is None:
            import boto3
            from botocore.config import Config

            # distribution addresses a custom endpoint path-style (`endpoint/bucket`), AWS itself by virtual host.
            client = boto3.client(
                "s3", region_name=region, endpoint_url=endpoint or None,
                aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
                config=Config(s3={"addressing_style": "path" if endpoint else "auto"},
                              connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
            )
        self.client = client

    def remove_repository(self, name: str) -> None:
        for part in REPOSITORY_PARTS:
            self._remove_prefix(f"{self.prefix}{name}/{part}/")

    def remove_project(self, name: str) -> None:
        self._remove_prefix(f"{self.prefix}{name}/")

    def _remove_prefix(self, prefix: str) -> None:
        if ".." in prefix.split("/"):
            raise StorageError(f"storage prefix {prefix!r} leaves the registry's root")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": DELETE_BATCH})
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if not keys:
                    continue
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                failed = answer.get("Errors", [])
                if failed:
                    raise StorageError(f"S3 kept {len(failed)} of the deleted repository's objects, "
                                       f"e.g. {failed[0].get('Key')}: {failed[0].get('Message', '')}")
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 bucket {self.bucket} refused or failed the removal: {exc}") from exc


def storage_from_settings() -> RepositoryStorage:
    from django.conf import settings

    if settings.REGISTRY_STORAGE == "s3":
        return S3Storage(settings.REGISTRY_S3_BUCKET, settings.REGISTRY_S3_REGION, settings.REGISTRY_S3_ENDPOINT,
                         settings.REGISTRY_S3_ACCESS_KEY, settings.REGISTRY_S3_SECRET_KEY, settings.REGISTRY_S3_ROOT)
    return FilesystemStorage(Path(settings.REGISTRY_DATA_DIR))
