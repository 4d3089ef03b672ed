"""The one plain streaming proxy to distribution, and the state checks and handlers share: config, caches, keys."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from django.conf import settings
from django.db import close_old_connections

from portal.accounts.authentication import forget_verified_passwords
from portal.artifacts.services import canonical_digest, distribution
from portal.registry.tokens import SERVICE, KeyRing, Scope, TokenVerifier
from portal.storage.services import record_blob_upload
from registry_proxy import errors
from registry_proxy.caches import (
    PROJECT_CACHE_SECONDS,
    SETTINGS_CACHE_SECONDS,
    ProjectInfo,
    TtlCache,
    load_project,
    load_read_only,
)
from registry_proxy.plumbing import API_VERSION, CHUNK, ClientGone, Context, Receive, Send
from registry_proxy.pulls import PullRecorder
from registry_proxy.sessions import UploadSessions

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Request headers distribution needs; everything else (Authorization above all) stays with Berth.
FORWARDED_REQUEST_HEADERS = frozenset(
    {"accept", "content-type", "content-length", "content-range", "range", "if-none-match", "if-match"}
)
# Response headers that describe one hop, or that Berth sets itself.
DROPPED_RESPONSE_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"proxy-authenticate",
     b"www-authenticate", b"date", b"server", b"docker-distribution-api-version"}
)


@dataclass
class ProxyConfig:
    upstream: str
    upstream_auth: tuple[str, str]
    external_url: str
    key_dir: Path
    data_dir: Path | None  # filesystem storage root, for sendfile; None when storage is elsewhere
    manifest_cache_seconds: float = 10.0
    redis_url: str = "redis://127.0.0.1:6379/0"  # upload sessions

    @cached_property
    def upstream_authorization(self) -> str:
        return aiohttp.encode_basic_auth(*self.upstream_auth)

    @classmethod
    def from_settings(cls) -> ProxyConfig:
        sendfile = settings.REGISTRY_SENDFILE and settings.REGISTRY_STORAGE == "filesystem"
        return cls(
            upstream=settings.REGISTRY_URL.rstrip("/"),
            upstream_auth=(settings.REGISTRY_USERNAME, settings.REGISTRY_PASSWORD),
            external_url=settings.EXTERNAL_URL.rstrip("/"),
            key_dir=Path(settings.REGISTRY_KEY_DIR),
            data_dir=Path(settings.REGISTRY_DATA_DIR) if sendfile else None,
            manifest_cache_seconds=float(getattr(settings, "MANIFEST_CACHE_SECONDS", 10)),
            redis_url=settings.REDIS_URL,
        )


class Proxy:
    """What every check and handler is given: the upstream pool, the caches, the token keys, the ORM threads."""

    def __init__(self, config: ProxyConfig | None = None) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="berth-registry")
        self.pulls = PullRecorder()
        self.manifests = TtlCache(20_000)
        self.projects = TtlCache(10_000)
        self.basic = TtlCache(10_000)
        self.read_only_cache = TtlCache(1)
        self.aliases = TtlCache(100_000)
        self._uploads: UploadSessions | None = None
        self._keys: KeyRing | None = None
        self._verifier: TokenVerifier | None = None

    @property
    def config(self) -> ProxyConfig:
        if self._config is None:
            self._config = ProxyConfig.from_settings()
        return self._config

    @property
    def uploads(self) -> UploadSessions:
        if self._uploads is None:
            self._uploads = UploadSessions(self.config.redis_url)
        return self._uploads

    @property
    def keys(self) -> KeyRing:
        if self._keys is None:
            self._keys = KeyRing(self.config.key_dir)
        return self._keys

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            self._verifier = TokenVerifier(self.keys)
        return self._verifier

    def reset(self, config: ProxyConfig | None = None) -> None:
        """Forgets every cache (tests change settings and the database under a running server)."""
        self._config = config
        self._keys = self._verifier = None
        self._uploads = None
        for cache in (self.manifests, self.projects, self.basic, self.read_only_cache, self.aliases):
            cache.clear()
        forget_verified_passwords()

    async def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, read_bufsize=CHUNK,
                timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=300),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._uploads is not None:
            await self._uploads.close()
        await asyncio.get_running_loop().run_in_executor(self.executor, self.pulls.flush)

    async def run_sync(self, function: Callable[..., T], *args: Any) -> T:
        """ORM work off the event loop, in a thread that returns its database connection in good order."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, _with_db, function, args)

    # --- policy data, cached briefly ---

    async def project(self, name: str) -> ProjectInfo | None:
        now = time.monotonic()
        found, info = self.projects.get(name, now)
        if not found:
            info = await self.run_sync(load_project, name)
            self.projects.put(name, info, now + PROJECT_CACHE_SECONDS)
        return info

    async def read_only(self) -> bool:
        now = time.monotonic()
        found, value = self.read_only_cache.get("read_only", now)
        if not found:
            value = await self.run_sync(load_read_only)
            self.read_only_cache.put("read_only", value, now + SETTINGS_CACHE_SECONDS)
        return bool(value)

    async def canonical(self, digest: str) -> str | None:
        """The sha256 distribution stores a sha512 digest's content under; sha256 digests are their own.
        An alias never changes once verified, so a found one is kept; a missing one is asked again."""
        if digest.startswith("sha256:"):
            return digest
        now = time.monotonic()
        found, canonical = self.aliases.get(digest, now)
        if not found:
            canonical = await self.run_sync(canonical_digest, digest)
            if canonical is not None:
                self.aliases.put(digest, canonical, now + 3600)
        return canonical

    def challenge(self, scope: Scope | None = None, error: str | None = None) -> str:
        parts = [f'Bearer realm="{self.config.external_url}/service/token"', f'service="{SERVICE}"']
        if scope is not None:
            parts.append(f'scope="{scope}"')
        if error:
            parts.append(f'error="{error}"')
        return ",".join(parts)

    # --- upstream ---

    async def upstream(self, context: Context, *, method: str | None = None, path: str | None = None,
                       query: str | None = None, data: Any = None, headers: dict[str, str] | None = None,
                       ) -> aiohttp.ClientResponse:
        request = context.request
        url = self.config.upstream + (path or quote(request.path, safe="/:@"))
        query = request.query_string if query is None else query
        if query:
            url += "?" + query
        forwarded = {k: v for k, v in request.headers.items() if k in FORWARDED_REQUEST_HEADERS}
        forwarded["Authorization"] = self.config.upstream_authorization
        for key, value in (headers or {}).items():
            # An empty value drops a header the client sent.
            forwarded.pop(key.lower(), None)
            if value:
                forwarded[key.lower()] = value
        try:
            session = await self.session()
            response = await session.request(method or request.method, aiohttp.client.URL(url, encoded=True),
                                             data=data, headers=forwarded, allow_redirects=False)
        except ClientGone:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if request.gone:
                # The client hung up mid-body; aiohttp reports it as its own failure to send.
                raise ClientGone() from exc
            raise errors.unavailable(
                f"the registry storage (distribution) is unavailable: {exc.__class__.__name__}"
            ) from None
        if response.status == 401:
            response.release()
            raise errors.unavailable("Berth cannot sign in to its registry storage (check BERTH_REGISTRY_PASSWORD)")
        return response

    def rewrite_headers(self, raw: Any, extra: list[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:
        """distribution's headers for the client; those named in `extra` are Berth's instead."""
        replaced = {key for key, _ in extra}
        headers = [API_VERSION]
        for key, value in raw:
            lowered = key.lower()
            if lowered in DROPPED_RESPONSE_HEADERS or lowered in replaced:
                continue
            if lowered == b"location" and value.startswith(b"/"):
                value = self.config.external_url.encode() + value
            headers.append((lowered, value))
        headers.extend(extra)
        return headers

    async def relay(self, response: aiohttp.ClientResponse, send: Send, extra: list[tuple[bytes, bytes]] = (),
                    receive: Receive | None = None) -> None:
        """Streams distribution's answer to the client, chunk by chunk as it arrives. With `receive`, a
        client that hangs up stops the transfer (uvicorn's send goes quiet instead of failing)."""
        if response.status >= 500:
            raise await _storage_failure(response)
        gone = asyncio.ensure_future(_disconnected(receive)) if receive is not None else None
        complete = False
        try:
            await send({"type": "http.response.start", "status": response.status,
                        "headers": self.rewrite_headers(response.raw_headers, extra)})
            # Whole MiB chunks: per-chunk Python work, not copying, bounds a streamed transfer.
            async for chunk in response.content.iter_chunked(CHUNK):
                if gone is not None and gone.done():
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            complete = True
        finally:
            if gone is not None:
                gone.cancel()
            # An unfinished body cannot go back to the pool: the connection is dropped instead.
            response.release() if complete else response.close()

    async def proxy(self, context: Context, send: Send, **kwargs: Any) -> None:
        """Forwards the request and relays the answer."""
        request = context.request
        if request.method in ("PUT", "PATCH", "POST") and "data" not in kwargs:
            kwargs["data"] = request.body_chunks()
        response = await self.upstream(context, **kwargs)
        await self.relay(response, send, receive=request.receive if request.method == "GET" else None)


async def _storage_failure(response: aiohttp.ClientResponse) -> errors.RegistryError:
    """distribution's 5xx as a clean OCI error: its details name storage paths, which stay in Berth's log."""
    try:
        detail = await response.content.read(4096)
    except (TimeoutError, aiohttp.ClientError, OSError):
        detail = b""
    finally:
        response.close()
    logger.warning("distribution answered %s to %s %s: %s", response.status, response.method, response.url.path,
                   detail.decode("utf-8", "replace"))
    blamed = _client_fault(detail)
    if blamed is not None:
        return blamed
    if response.status == 503:
        return errors.unavailable("the registry storage (distribution) is unavailable; try again later")
    return errors.RegistryError(response.status, "UNKNOWN",
                                "the registry storage (distribution) failed to answer; see Berth's log")


# Codes distribution puts beside its UNKNOWN in a 5xx when the request itself was wrong (a manifest's URLs it
# refuses come back as 500 with MANIFEST_BLOB_UNKNOWN): the client's error, answered as a 400.
CLIENT_FAULTS = frozenset({"MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "DIGEST_INVALID",
                           "SIZE_INVALID", "NAME_INVALID", "TAG_INVALID", "BLOB_UPLOAD_INVALID"})
_DIGEST_DETAIL = re.compile(r"^[a-z0-9]+:[a-f0-9]{32,128}$")


def _client_fault(detail: bytes) -> errors.RegistryError | None:
    try:
        listed = json.loads(detail).get("errors")
    except (ValueError, AttributeError):
        return None
    for error in listed if isinstance(listed, list) else []:
        code = error.get("code") if isinstance(error, dict) else None
        if code in CLIENT_FAULTS:
            message = str(error.get("message") or code.lower().replace("_", " "))[:200]
            # A digest says which descriptor was refused; anything else distribution details may be a path.
            digest = error.get("detail")
            return errors.RegistryError(400, code, message,
                                        digest if isinstance(digest, str) and _DIGEST_DETAIL.match(digest) else None)
    return None


async def record_blob(app: Proxy, context: Context, digest: str, size: int | None = None) -> None:
    """distribution stored `digest` in the repository (an upload's completion or a mount answered 201): the
    blob index learns it. The push has succeeded: a failure here is logged, and reconcile repairs it. Without
    a `size` (a mount) distribution is asked for it."""
    try:
        await app.run_sync(_record_blob_upload, context.name, digest, size)
    except Exception:
        logger.exception("indexing blob %s of %s failed", digest, context.name)


def _record_blob_upload(repository: str, digest: str, size: int | None) -> None:
    record_blob_upload(repository, digest, size, client=None if size is not None else distribution())


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _with_db[T](function: Callable[..., T], args: tuple[Any, ...]) -> T:
    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()
