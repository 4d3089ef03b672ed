"""Removes what distribution stores for a repository or a project, straight from its storage.

distribution 2.8 has no call that deletes a repository: manifest deletes leave its layer links and upload
sessions, which let the next owner of the name read the old layers by digest. Everything a repository holds
lives under `docker/registry/v2/repositories/<name>/` (`_manifests`, `_layers`, `_uploads`); the blobs
themselves are shared by content and stay for distribution's garbage collection. On S3 the same paths are
keys under the driver's root; they are listed and deleted with requests signed here (SigV4), which saves
Berth an SDK for two calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import httpx
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

S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


def _uri_encode(value: str, *, keep_slash: bool = False) -> str:
    return quote(value, safe="-_.~" + ("/" if keep_slash else ""))


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign_v4(method: str, url: str, headers: dict[str, str], payload_sha256: str, *, access_key: str,
            secret_key: str, region: str, now: datetime, service: str = "s3") -> dict[str, str]:
    """The headers of a request signed with AWS Signature Version 4 (`headers` must not hold host or date)."""
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {**{k.lower(): v.strip() for k, v in headers.items()}, "host": parts.netloc, "x-amz-date": amz_date,
              "x-amz-content-sha256": payload_sha256}
    pairs = [pair.partition("=") for pair in parts.query.split("&") if pair] if parts.query else []
    query = "&".join(sorted(f"{_uri_encode(unquote(k))}={_uri_encode(unquote(v))}" for k, _, v in pairs))
    names = sorted(signed)
    canonical = "\n".join([
        method, _uri_encode(unquote(parts.path) or "/", keep_slash=True), query,
        "".join(f"{name}:{signed[name]}\n" for name in names), ";".join(names), payload_sha256,
    ])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), amz_date[:8]), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {**signed, "authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                       f"SignedHeaders={';'.join(names)}, Signature={signature}"}


class S3Storage:
    """The bucket distribution's S3 driver writes to: keys are `<root>/docker/registry/v2/…` without a leading /."""

    def __init__(self, bucket: str, region: str, endpoint: str, access_key: str, secret_key: str, root: str,
                 session: httpx.Client | None = None) -> None:
        # distribution addresses a custom endpoint path-style (`endpoint/bucket`), AWS itself by virtual host.
        self.base = f"{endpoint.rstrip('/')}/{bucket}" if endpoint else f"https://{bucket}.s3.{region}.amazonaws.com"
        self.region, self.access_key, self.secret_key = region, access_key, secret_key
        self.prefix = "/".join(part for part in (root.strip("/"), REPOSITORIES) if part) + "/"
        self.session = session or httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))

    def remove_repository(self, name: str) -> None:
        for part in REPOSITORY_PARTS:
            self._remove_prefix(f"{self.prefix}{name}/{part}/")

    def remove_project(self, name: str) -> None:
        self._remove_prefix(f"{self.prefix}{name}/")

    def _remove_prefix(self, prefix: str) -> None:
        if ".." in prefix.split("/"):
            raise StorageError(f"storage prefix {prefix!r} leaves the registry's root")
        if not self.access_key:
            raise StorageError("removing a deleted repository from S3 needs BERTH_REGISTRY_S3_ACCESS_KEY and "
                               "BERTH_REGISTRY_S3_SECRET_KEY")
        batch: list[str] = []
        for key in self._keys(prefix):
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                self._delete(batch)
                batch = []
        if batch:
            self._delete(batch)

    def _keys(self, prefix: str) -> Iterator[str]:
        token = ""
        while True:
            query = f"list-type=2&prefix={_uri_encode(prefix)}"
            if token:
                query += f"&continuation-token={_uri_encode(token)}"
            document = self._call("GET", f"{self.base}/?{query}", b"")
            for item in document.iter(f"{S3_NAMESPACE}Contents"):
                yield item.findtext(f"{S3_NAMESPACE}Key") or ""
            token = document.findtext(f"{S3_NAMESPACE}NextContinuationToken") or ""
            if document.findtext(f"{S3_NAMESPACE}IsTruncated") != "true" or not token:
                return

    def _delete(self, keys: list[str]) -> None:
        root = ElementTree.Element("Delete", xmlns=S3_NAMESPACE.strip("{}"))
        ElementTree.SubElement(root, "Quiet").text = "true"
        for key in keys:
            ElementTree.SubElement(ElementTree.SubElement(root, "Object"), "Key").text = key
        body = ElementTree.tostring(root, xml_declaration=True, encoding="UTF-8")
        # DeleteObjects is refused without a checksum of its body.
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        document = self._call("POST", f"{self.base}/?delete=", body, {"content-md5": md5,
                                                                     "content-type": "application/xml"})
        failed = [error.findtext(f"{S3_NAMESPACE}Key") for error in document.iter(f"{S3_NAMESPACE}Error")]
        if failed:
            raise StorageError(f"S3 kept {len(failed)} of the deleted repository's objects, e.g. {failed[0]}")

    def _call(self, method: str, url: str, body: bytes, headers: dict[str, str] | None = None) -> ElementTree.Element:
        signed = sign_v4(method, url, headers or {}, hashlib.sha256(body).hexdigest(), access_key=self.access_key,
                         secret_key=self.secret_key, region=self.region, now=datetime.now(UTC))
        try:
            response = self.session.request(method, url, content=body, headers=signed)
        except httpx.TransportError as exc:
            raise StorageError(f"S3 at {self.base} cannot be reached: {exc}") from exc
        if response.status_code >= 300:
            raise StorageError(f"S3 answered {response.status_code} to {method} {url.split('?')[0]}: "
                               f"{response.text[:200]}")
        try:
            return ElementTree.fromstring(response.content)
        except ElementTree.ParseError as exc:
            raise StorageError(f"S3 answered what is not XML to {method}: {exc}") from exc


def storage_from_settings() -> RepositoryStorage:
    from django.conf import settings

    if settings.REGISTRY_STORAGE == "s3":
        return S3Storage(settings.REGISTRY_S3_BUCKET, settings.REGISTRY_S3_REGION, settings.REGISTRY_S3_ENDPOINT,
                         settings.REGISTRY_S3_ACCESS_KEY, settings.REGISTRY_S3_SECRET_KEY, settings.REGISTRY_S3_ROOT)
    return FilesystemStorage(Path(settings.REGISTRY_DATA_DIR))
