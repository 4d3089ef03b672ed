"""A Docker/OCI Registry API v2 client: manifests and streamed blobs, with Bearer and Basic auth."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from .errors import AuthenticationFailed, DigestMismatch, ManifestUnknown, RegistryError
from .manifest import ACCEPT, MAX_METADATA_SIZE, Descriptor, verify_blob

# A challenge is `scheme` then auth-params (`k=v` or `k="quoted \" string"`), comma-separated;
# several challenges can share one header (RFC 7235 section 4.1).
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict[str, str]


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate header into its challenges; scheme names are lowercased."""
    challenges: list[Challenge] = []
    pos = 0
    header = header.strip()
    while pos < len(header):
        if header[pos] in ", ":
            pos += 1
            continue
        scheme = _SCHEME.match(header, pos)
        if not scheme:
            raise AuthenticationFailed(f"cannot parse WWW-Authenticate header {header!r}")
        pos = scheme.end()
        params: dict[str, str] = {}
        while pos < len(header):
            param = _PARAM.match(header, pos)
            if not param:
                break  # the next challenge's scheme (or a token68 we do not use)
            quoted, plain = param.group(2), param.group(3)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain
            params[param.group(1).lower()] = value
            pos = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _error_message(response: httpx.Response) -> str:
    """The registry's own words from an OCI error body, else the HTTP reason."""
    with contextlib.suppress(ValueError, KeyError, TypeError, IndexError, httpx.ResponseNotRead):
        errors = json.loads(response.content)["errors"]
        return "; ".join(
            f"{e.get('code', '?')}: {e.get('message', '')}".rstrip(": ") for e in errors
        )
    return f"HTTP {response.status_code} {response.reason_phrase}"


class RegistryClient:
    """One registry; safe to share between threads (one pull downloads layers in parallel).

    http is used for loopback registries or when `insecure` is set, https otherwise.
    A pre-issued bearer `token` (the portal's pull token) is presented on every request and
    never replaced: a 401 then fails instead of asking a token service for another.
    `transport` lets tests of pure logic swap in `httpx.MockTransport`.
    """

    def __init__(
        self,
        registry: str,
        *,
        credentials: tuple[str, str] | None = None,
        token: str | None = None,
        insecure: bool = False,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.registry = registry
        host = (
            registry[: registry.index("]") + 1]
            if registry.startswith("[")
            else registry.split(":")[0]
        )
        self.plain_http = insecure or _is_loopback(host)
        self._credentials = credentials
        self._token = token
        self._http = httpx.Client(
            base_url=f"{'http' if self.plain_http else 'https'}://{registry}",
            transport=transport,
            follow_redirects=True,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._authorization: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- auth ------------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, repository: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Send with the scope's credentials, answering one 401 challenge; the body streams."""
        scope = f"repository:{repository}:pull"
        for attempt in range(2):
            request_headers = dict(headers or {})
            with self._lock:
                authorization = self._authorization.get(scope)
            if self._token is not None:
                authorization = f"Bearer {self._token}"
            if authorization:
                request_headers["Authorization"] = authorization
            try:
                request = self._http.build_request(method, path, headers=request_headers)
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise RegistryError(f"cannot reach registry {self.registry}: {exc}") from None
            if response.status_code != 401:
                return response
            response.read()
            response.close()
            if self._token is not None:
                raise AuthenticationFailed(
                    f"{self.registry}: the given token was refused for {repository} "
                    f"(expired or not granted): {_error_message(response)}"
                )
            if attempt == 1:
                raise AuthenticationFailed(
                    f"{self.registry}: access to {repository} denied: {_error_message(response)}"
                )
            self._authenticate(response.headers.get("WWW-Authenticate", ""), scope)
        raise AssertionError("unreachable")

    def _authenticate(self, header: str, scope: str) -> None:
        challenges = {c.scheme: c for c in parse_www_authenticate(header)}
        if "bearer" in challenges:
            token = self._fetch_token(challenges["bearer"], scope)
            authorization = f"Bearer {token}"
        elif "basic" in challenges:
            if self._credentials is None:
                raise AuthenticationFailed(f"{self.registry} requires a username and password")
            authorization = self._basic()
        else:
            raise AuthenticationFailed(
                f"{self.registry} asks for unsupported authentication {header!r}"
            )
        with self._lock:
            self._authorization[scope] = authorization

    def _basic(self) -> str:
        assert self._credentials is not None
        user, password = self._credentials
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _fetch_token(self, challenge: Challenge, scope: str) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthenticationFailed(f"{self.registry}: Bearer challenge without a realm")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https"):
            raise AuthenticationFailed(f"{self.registry}: token realm {realm!r} is not http(s)")
        headers = {}
        if self._credentials is not None:
            # A password goes over plain http only where the registry itself is plain http.
            if parts.scheme == "http" and not self.plain_http:
                raise AuthenticationFailed(
                    f"refusing to send credentials to plain-http realm {realm}"
                )
            headers["Authorization"] = self._basic()
        params: dict[str, Any] = {"scope": challenge.params.get("scope") or scope}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        try:
            response = self._http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise AuthenticationFailed(f"cannot reach token service {realm}: {exc}") from None
        if response.status_code in (401, 403):
            who = f"user {self._credentials[0]!r}" if self._credentials else "anonymous access"
            raise AuthenticationFailed(
                f"token service {realm} refused {who}: {_error_message(response)}"
            )
        if response.status_code != 200:
            raise AuthenticationFailed(f"token service {realm}: {_error_message(response)}")
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthenticationFailed(f"token service {realm} returned no token")
        return token

    # -- content ---------------------------------------------------------------------------

    def _read_small(self, response: httpx.Response, what: str) -> bytes:
        data = bytearray()
        try:
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_METADATA_SIZE:
                    raise RegistryError(f"{what} is larger than {MAX_METADATA_SIZE} bytes")
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.registry}: reading {what} failed: {exc}") from None
        finally:
            response.close()
        return bytes(data)

    def _check(self, response: httpx.Response, what: str, manifest: bool = False) -> None:
        if response.status_code == 200:
            return
        response.read()
        response.close()
        message = f"{self.registry}: {what}: {_error_message(response)}"
        if response.status_code == 404 and manifest:
            raise ManifestUnknown(message)
        raise RegistryError(message)

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index: (body, media type, digest), the digest checked."""
        what = (
            f"manifest {repository}:{reference}"
            if ":" not in reference
            else f"manifest {repository}@{reference}"
        )
        response = self._send(
            "GET", f"/v2/{repository}/manifests/{reference}", repository, {"Accept": ACCEPT}
        )
        self._check(response, what, manifest=True)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        claimed = response.headers.get("Docker-Content-Digest")
        data = self._read_small(response, what)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        expected = reference if reference.startswith("sha256:") else claimed
        if expected and expected != digest:
            raise DigestMismatch(f"{what}: content has digest {digest}, expected {expected}")
        return data, media_type, digest

    def get_blob(self, repository: str, descriptor: Descriptor, what: str = "blob") -> bytes:
        """Fetch a small blob (an image config) whole, verified against its descriptor."""
        if descriptor.size > MAX_METADATA_SIZE:
            raise RegistryError(f"{what} {descriptor.digest} is {descriptor.size} bytes; too large")
        response = self._send("GET", f"/v2/{repository}/blobs/{descriptor.digest}", repository)
        self._check(response, f"{what} {descriptor.digest}")
        data = self._read_small(response, what)
        verify_blob(data, descriptor, what)
        return data

    @contextlib.contextmanager
    def open_blob(
        self, repository: str, digest: str, offset: int = 0
    ) -> Iterator[tuple[int, Iterator[bytes]]]:
        """Stream a blob from `offset` (a Range request); yields where it really starts, and chunks.

        A registry that ignores Range answers 200 with the whole blob: the start is then 0.
        """
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._send("GET", f"/v2/{repository}/blobs/{digest}", repository, headers)
        try:
            if response.status_code == 206 and offset:
                content_range = response.headers.get("Content-Range", "")
                if not content_range.startswith(f"bytes {offset}-"):
                    raise RegistryError(
                        f"blob {digest}: unexpected Content-Range {content_range!r}"
                    )
                start = offset
            else:
                self._check(response, f"blob {digest}")
                start = 0
            yield start, self._chunks(response, digest)
        finally:
            response.close()

    def _chunks(self, response: httpx.Response, digest: str) -> Iterator[bytes]:
        try:
            yield from response.iter_raw(_CHUNK)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.registry}: download of {digest} broke off: {exc}") from None
