"""Removes what distribution stores for a repository or a project, straight from its storage.

distribution 2.8 has no call that deletes a repository: manifest deletes leave its layer links and upload
sessions, which let the next owner of the name read the old layers by digest. Everything a repository holds
lives under `docker/registry/v2/repositories/<name>/` (`_manifests`, `_layers`, `_uploads`); the blobs
themselves are shared by content, under `docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data`, and only Berth's
garbage collection removes them (`remove_blobs`, with the repositories' `_layers` links to them): distribution's API
never deletes blob data. On S3 the same paths are keys under the driver's root, listed and deleted in batches
with boto3.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

from rest_framework import status

from portal.utilities.errors import BerthError

REGISTRY_ROOT = "docker/registry/v2"
REPOSITORIES = f"{REGISTRY_ROOT}/repositories"
BLOBS = f"{REGISTRY_ROOT}/blobs"
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

    def remove_blobs(self, blobs: list[tuple[str, list[str]]]) -> None:
        """Removes each (digest, repositories linking it): the links first, then the blob's data; idempotent."""


def _blob_parts(digest: str) -> tuple[str, str]:
    algorithm, _, encoded = digest.partition(":")
    # Digests reach here from the index, validated; anything that could name another path is refused.
    if algorithm != "sha256" or len(encoded) != 64 or not all(c in "0123456789abcdef" for c in encoded):
        raise StorageError(f"cannot remove blob {digest[:100]!r}: not a sha256 digest")
    return algorithm, encoded


class FilesystemStorage:
    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / REPOSITORIES
        self.blobs = Path(data_dir) / BLOBS

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

    def remove_blobs(self, blobs: list[tuple[str, list[str]]]) -> None:
        for digest, repositories in blobs:
            algorithm, encoded = _blob_parts(digest)
            try:
                for name in repositories:
                    shutil.rmtree(self._directory(name) / "_layers" / algorithm / encoded, ignore_errors=True)
                directory = self.blobs / algorithm / encoded[:2] / encoded
                if directory.exists():
                    shutil.rmtree(directory)
            except OSError as exc:
                raise StorageError(f"cannot remove blob {digest} from the registry storage: {exc}") from exc


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
        self.blob_prefix = "/".join(part for part in (root.strip("/"), BLOBS) if part) + "/"
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

    def remove_blobs(self, blobs: list[tuple[str, list[str]]]) -> None:
        # The keys are known, so no listing: one DeleteObjects call per thousand.
        keys: list[str] = []
        for digest, repositories in blobs:
            algorithm, encoded = _blob_parts(digest)
            for name in repositories:
                if ".." in name.split("/"):
                    raise StorageError(f"repository name {name!r} leaves the registry's root")
                keys.append(f"{self.prefix}{name}/_layers/{algorithm}/{encoded}/link")
            keys.append(f"{self.blob_prefix}{algorithm}/{encoded[:2]}/{encoded}/data")
        for offset in range(0, len(keys), DELETE_BATCH):
            self._delete_keys(keys[offset:offset + DELETE_BATCH])

    def _remove_prefix(self, prefix: str) -> None:
        if ".." in prefix.split("/"):
            raise StorageError(f"storage prefix {prefix!r} leaves the registry's root")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": DELETE_BATCH})
            for page in pages:
                self._delete_keys([item["Key"] for item in page.get("Contents", [])])
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 bucket {self.bucket} refused or failed the removal: {exc}") from exc

    def _delete_keys(self, keys: list[str]) -> None:
        if not keys:
            return
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True})
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 bucket {self.bucket} refused or failed the removal: {exc}") from exc
        failed = answer.get("Errors", [])
        if failed:
            raise StorageError(f"S3 kept {len(failed)} of the objects to delete, "
                               f"e.g. {failed[0].get('Key')}: {failed[0].get('Message', '')}")


def storage_from_settings() -> RepositoryStorage:
    from django.conf import settings

    if settings.REGISTRY_STORAGE == "s3":
        return S3Storage(settings.REGISTRY_S3_BUCKET, settings.REGISTRY_S3_REGION, settings.REGISTRY_S3_ENDPOINT,
                         settings.REGISTRY_S3_ACCESS_KEY, settings.REGISTRY_S3_SECRET_KEY, settings.REGISTRY_S3_ROOT)
    return FilesystemStorage(Path(settings.REGISTRY_DATA_DIR))
