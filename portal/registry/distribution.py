"""distribution (the CNCF registry) behind Berth: its configuration, its process, and a small sync client."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import bcrypt
import httpx

DISTRIBUTION_BINARY = "/usr/bin/docker-registry"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class DistributionError(Exception):
    """distribution answered something Berth cannot use."""


class DistributionUnavailable(DistributionError):
    """distribution cannot be reached, or answered with a server error."""


class DistributionNotFound(DistributionError):
    """The repository, manifest or blob does not exist in distribution."""


# --- configuration -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Storage:
    bucket: str
    region: str = "us-east-1"
    endpoint: str = ""
    access_key: str = ""
    secret_key: str = ""
    root: str = "/berth"

    def driver(self) -> dict[str, Any]:
        params: dict[str, Any] = {"bucket": self.bucket, "region": self.region, "rootdirectory": self.root}
        if self.endpoint:
            params["regionendpoint"] = self.endpoint
            params["secure"] = self.endpoint.startswith("https://")
        if self.access_key:
            params.update(accesskey=self.access_key, secretkey=self.secret_key)
        return {"s3": params}


@dataclass(frozen=True)
class DistributionSetup:
    """Everything distribution's configuration depends on; `from_settings()` reads Berth's settings."""

    listen: str  # host:port, always a loopback (or compose-network) address
    data_dir: Path
    config_dir: Path
    username: str
    password: str
    s3: S3Storage | None = None
    http_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Off only for the benchmark's baseline of distribution without its per-request bcrypt check.
    require_auth: bool = True
    # Descriptors with `urls` (non-distributable layers) are stored without their blob only where this matches;
    # Berth refuses the others before distribution sees them, with the same pattern.
    manifest_urls_allow: str = r"^https?://"

    @classmethod
    def from_settings(cls) -> DistributionSetup:
        from django.conf import settings

        s3 = None
        if settings.REGISTRY_STORAGE == "s3":
            s3 = S3Storage(
                bucket=settings.REGISTRY_S3_BUCKET,
                region=settings.REGISTRY_S3_REGION,
                endpoint=settings.REGISTRY_S3_ENDPOINT,
                access_key=settings.REGISTRY_S3_ACCESS_KEY,
                secret_key=settings.REGISTRY_S3_SECRET_KEY,
                root=settings.REGISTRY_S3_ROOT,
            )
        elif settings.REGISTRY_STORAGE != "filesystem":
            from portal.utilities.env import ConfigurationError

            raise ConfigurationError(f"BERTH_REGISTRY_STORAGE must be filesystem or s3, not {settings.REGISTRY_STORAGE!r}")
        url = urlsplit(settings.REGISTRY_URL)
        return cls(
            listen=f"{url.hostname}:{url.port or 80}",
            data_dir=Path(settings.REGISTRY_DATA_DIR),
            config_dir=Path(settings.VAR_DIR),
            username=settings.REGISTRY_USERNAME,
            password=settings.REGISTRY_PASSWORD,
            s3=s3,
            # Upload state (`_state`) is signed with this: it must survive restarts of distribution.
            http_secret=_persistent(Path(settings.VAR_DIR) / "registry_http_secret"),
            manifest_urls_allow=settings.REGISTRY_MANIFEST_URLS_ALLOW,
        )

    @property
    def url(self) -> str:
        return f"http://{self.listen}"

    @property
    def config_path(self) -> Path:
        return self.config_dir / "registry-config.yml"

    @property
    def htpasswd_path(self) -> Path:
        return self.config_dir / "registry.htpasswd"

    def config(self) -> dict[str, Any]:
        storage: dict[str, Any] = self.s3.driver() if self.s3 else {"filesystem": {"rootdirectory": str(self.data_dir)}}
        # No blob descriptor cache: it outlives the links Berth removes from storage when a repository or project
        # is deleted, and would serve the old layers to the next owner of the name.
        storage.update(
            delete={"enabled": True},
            # Every byte goes through Berth, which checks access: no redirects to pre-signed storage URLs.
            redirect={"disable": True},
            maintenance={"uploadpurging": {"enabled": True, "age": "168h", "interval": "24h", "dryrun": False}},
        )
        auth = {"htpasswd": {"realm": "berth-distribution", "path": str(self.htpasswd_path)}}
        return {
            "version": 0.1,
            "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": storage,
            **({"auth": auth} if self.require_auth else {}),
            # Relative Locations are rewritten by Berth to its own external URL.
            "http": {"addr": self.listen, "secret": self.http_secret, "relativeurls": True,
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
            "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
            "validation": {"manifests": {"urls": {"allow": [self.manifest_urls_allow]}}},
        }

    def write(self) -> Path:
        """Writes the config and the htpasswd file (mode 0600); returns the config's path."""
        # Layers of private projects are in the data directory: no other local user may read them.
        self.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.s3 is None:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The password is 32 random bytes, so bcrypt's work factor adds nothing but per-request CPU in
        # distribution, which checks it on every call: the minimum cost keeps that near 1 ms.
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=4)).decode()
        _write_private(self.htpasswd_path, f"{self.username}:{hashed}\n")
        # JSON is YAML: no YAML writer needed.
        _write_private(self.config_path, json.dumps(self.config(), indent=2) + "\n")
        return self.config_path


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _persistent(path: Path) -> str:
    from portal.utilities.env import persistent_secret

    return persistent_secret(path, 32)


# --- the process -------------------------------------------------------------------------------------------------


class DistributionProcess:
    """`docker-registry serve CONFIG` as a child process, started and stopped by Berth."""

    def __init__(self, setup: DistributionSetup, log_path: Path | None = None) -> None:
        self.setup = setup
        self.log_path = log_path or setup.config_dir / "registry.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        config = self.setup.write()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed when it exits
        # distribution 2.8's S3 driver gives the AWS SDK its own HTTP transport, and the SDK panics at start
        # ("unable to load custom CA bundle") whenever AWS_CA_BUNDLE is set, as some hosts set it globally.
        environment = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        self.process = subprocess.Popen(
            [DISTRIBUTION_BINARY, "serve", str(config)], env=environment,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = DistributionClient(self.setup.url, (self.setup.username, self.setup.password))
        try:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise DistributionUnavailable(
                        f"distribution exited with status {self.process.returncode}; see {self.log_path}"
                    )
                if client.ping():
                    return
                if time.monotonic() > deadline:
                    raise DistributionUnavailable(f"distribution did not answer at {self.setup.url} within {timeout}s")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> DistributionProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the client --------------------------------------------------------------------------------------------------


def repository_path(repository: str) -> str:
    # Names are validated before they get here; quoting keeps a stray character from changing the route.
    return quote(repository, safe="/")


class DistributionClient:
    """Synchronous calls to distribution for the index and the management commands (never the hot path)."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None, session: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))
        self.auth = httpx.BasicAuth(*auth) if auth else None

    @classmethod
    def from_settings(cls, session: httpx.Client | None = None) -> DistributionClient:
        from django.conf import settings

        return cls(settings.REGISTRY_URL, (settings.REGISTRY_USERNAME, settings.REGISTRY_PASSWORD), session)

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.session.request(method, self.base_url + path, auth=self.auth, **kwargs)
        except httpx.TransportError as exc:
            raise DistributionUnavailable(f"distribution at {self.base_url} cannot be reached: {exc}") from exc
        if response.status_code == 404:
            raise DistributionNotFound(_first_error(response) or f"{path} not found")
        if response.status_code >= 500:
            raise DistributionUnavailable(f"distribution answered {response.status_code} to {method} {path}")
        if response.status_code >= 400:
            raise DistributionError(f"distribution answered {response.status_code} to {method} {path}: "
                                    f"{_first_error(response)}")
        return response

    def ping(self) -> bool:
        try:
            self._request("GET", "/v2/")
        except DistributionError:
            return False
        return True

    def _paged(self, path: str, key: str) -> Iterator[str]:
        next_path: str | None = path
        while next_path:
            response = self._request("GET", next_path)
            yield from response.json().get(key) or []
            link = response.headers.get("link", "")
            # `Link: </v2/_catalog?last=x&n=1000>; rel="next"`
            next_path = link[link.index("<") + 1 : link.index(">")] if "<" in link and 'rel="next"' in link else None

    def catalog(self, page_size: int = 1000) -> list[str]:
        return list(self._paged(f"/v2/_catalog?n={page_size}", "repositories"))

    def tags(self, repository: str) -> list[str]:
        return sorted(self._paged(f"/v2/{repository_path(repository)}/tags/list", "tags"))

    def get_manifest(self, repository: str, reference: str, accept: str = MANIFEST_ACCEPT) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest by tag or digest."""
        path = f"/v2/{repository_path(repository)}/manifests/{quote(reference, safe=':')}"
        with self.session.stream("GET", self.base_url + path, auth=self.auth, headers={"Accept": accept}) as response:
            self._check_stream(response, path)
            body = _read_at_most(response, MAX_MANIFEST_BYTES, "manifest")
        digest = response.headers.get("docker-content-digest") or "sha256:" + hashlib.sha256(body).hexdigest()
        return body, response.headers.get("content-type", ""), digest

    def head_manifest(self, repository: str, reference: str, accept: str = MANIFEST_ACCEPT) -> tuple[str, str, int]:
        """(digest, media type, size) of a manifest; DistributionNotFound when absent."""
        path = f"/v2/{repository_path(repository)}/manifests/{quote(reference, safe=':')}"
        response = self._request("HEAD", path, headers={"Accept": accept})
        return (response.headers.get("docker-content-digest", ""), response.headers.get("content-type", ""),
                int(response.headers.get("content-length", "0")))

    def get_blob(self, repository: str, digest: str, max_bytes: int = MAX_MANIFEST_BYTES) -> bytes:
        """A small blob (an image config) read whole; DistributionError when it is larger than max_bytes."""
        path = f"/v2/{repository_path(repository)}/blobs/{quote(digest, safe=':')}"
        with self.session.stream("GET", self.base_url + path, auth=self.auth, follow_redirects=True) as response:
            self._check_stream(response, path)
            return _read_at_most(response, max_bytes, "blob")

    def blob_exists(self, repository: str, digest: str) -> bool:
        try:
            self._request("HEAD", f"/v2/{repository_path(repository)}/blobs/{quote(digest, safe=':')}")
        except DistributionNotFound:
            return False
        return True

    def blob_size(self, repository: str, digest: str) -> int:
        """The size of a blob the repository links; DistributionNotFound when it does not."""
        response = self._request("HEAD", f"/v2/{repository_path(repository)}/blobs/{quote(digest, safe=':')}")
        return int(response.headers.get("content-length", "0"))

    def delete_manifest(self, repository: str, digest: str) -> None:
        self._request("DELETE", f"/v2/{repository_path(repository)}/manifests/{quote(digest, safe=':')}")

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Stores a manifest; returns its digest. Used by tests and tools, not by the proxy."""
        path = f"/v2/{repository_path(repository)}/manifests/{quote(reference, safe=':')}"
        response = self._request("PUT", path, content=body, headers={"Content-Type": media_type})
        return response.headers.get("docker-content-digest", "")

    def _check_stream(self, response: httpx.Response, path: str) -> None:
        if response.status_code < 400:
            return
        response.read()
        if response.status_code == 404:
            raise DistributionNotFound(_first_error(response) or f"{path} not found")
        if response.status_code >= 500:
            raise DistributionUnavailable(f"distribution answered {response.status_code} to GET {path}")
        raise DistributionError(f"distribution answered {response.status_code} to GET {path}: {_first_error(response)}")


def _read_at_most(response: httpx.Response, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise DistributionError(f"{what} larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _first_error(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return ""
    return str(errors[0].get("message", "")) if errors and isinstance(errors[0], dict) else ""
