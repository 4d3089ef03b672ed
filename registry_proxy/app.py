"""The `/v2/` registry API and `/service/token` as a bare ASGI app: a route table of checks in front of handlers.

Bodies stream both ways in chunks as they arrive (manifests excepted: ≤ 4 MiB, the index needs them).
Authorised manifest reads are answered from Berth's own caches; blobs in filesystem storage are sent
straight from disk with sendfile when the server offers the zero-copy extension.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlencode

import aiohttp

from portal.registry.distribution import MAX_MANIFEST_BYTES, OCI_INDEX
from portal.registry.tokens import (
    MAX_NAME_LENGTH,
    NAME,
    SERVICE,
    InvalidToken,
    KeyRing,
    Scope,
    TokenPrincipal,
    TokenVerifier,
    access_for,
    issue,
    parse_scopes,
)
from registry_proxy import errors
from registry_proxy.errors import RegistryError
from registry_proxy.pulls import PullRecorder

logger = logging.getLogger(__name__)

Scope_ = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
T = TypeVar("T")

TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
SHA256 = re.compile(r"^sha256:[a-f0-9]{64}$")
SHA512 = re.compile(r"^sha512:[a-f0-9]{128}$")

API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")
JSON = (b"content-type", b"application/json")
# Request headers distribution needs; everything else (Authorization above all) stays with Berth.
FORWARDED_REQUEST_HEADERS = frozenset(
    {"accept", "content-type", "content-length", "content-range", "range", "if-none-match", "if-match"}
)
# Response headers that describe one hop, or that Berth sets itself.
DROPPED_RESPONSE_HEADERS = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"proxy-authenticate",
     b"www-authenticate", b"date", b"server", b"docker-distribution-api-version"}
)
TAG_CACHE_SECONDS = 2.0  # how long another worker may serve a tag's previous manifest after a push moves it
PROJECT_CACHE_SECONDS = 5.0
SETTINGS_CACHE_SECONDS = 2.0
BASIC_CACHE_SECONDS = 30.0
CHUNK = 1024 * 1024
MAX_CATALOG_PAGE = 10_000
# Larger than any repository Berth is sized for (100,000 tags), small enough for every database's LIMIT.
MAX_TAGS_PAGE = 1_000_000


# --- requests and routes -----------------------------------------------------------------------------------------


class Request:
    __slots__ = ("scope", "receive", "method", "path", "headers", "_query", "gone")

    def __init__(self, scope: Scope_, receive: Receive) -> None:
        self.scope, self.receive = scope, receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name, text = key.decode("latin-1"), value.decode("latin-1")
            # Clients send Accept once per media type: repeated headers are one comma-separated list.
            self.headers[name] = f"{self.headers[name]}, {text}" if name in self.headers else text
        self._query: dict[str, list[str]] | None = None
        self.gone = False

    @property
    def query_string(self) -> str:
        return self.scope.get("query_string", b"").decode("latin-1")

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True)
        return self._query

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def client_ip(self) -> str | None:
        client = self.scope.get("client")
        return client[0] if client else None

    async def body_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives. A reader task keeps taking it from the client while the previous chunks
        are still being written upstream, so the two legs run at once (up to 8 chunks, ~2.5 MiB, apart)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)

        async def read() -> None:
            while True:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    self.gone = True
                    await queue.put(None)
                    return
                chunk = message.get("body", b"")
                if chunk:
                    await queue.put(chunk)
                if not message.get("more_body", False):
                    await queue.put(b"")
                    return

        reader = asyncio.ensure_future(read())
        try:
            while True:
                chunk = await queue.get()
                if chunk is None:
                    raise ClientGone()
                if not chunk:
                    return
                yield chunk
        finally:
            reader.cancel()

    async def read_body(self, limit: int) -> bytes:
        chunks, size = [], 0
        async for chunk in self.body_chunks():
            size += len(chunk)
            if size > limit:
                raise RegistryError(413, "SIZE_INVALID", f"body larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


class ClientGone(Exception):
    """The client went away mid-request (a truncated upload): there is nobody to answer."""


@dataclass
class Context:
    request: Request
    route: Route
    params: dict[str, str]
    principal: TokenPrincipal | None = None

    @property
    def name(self) -> str:
        return self.params.get("name", "")


Check = Callable[["RegistryApp", Context], Awaitable[None]]
Handler = Callable[["RegistryApp", Context, Send], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    checks: tuple[Check, ...]
    handler: Handler
    needs: str | None = None  # the token action on the repository: pull, push, delete; "catalog"


# --- the app -----------------------------------------------------------------------------------------------------


@dataclass
class ProxyConfig:
    upstream: str
    upstream_auth: tuple[str, str]
    external_url: str
    key_dir: Path
    data_dir: Path | None  # filesystem storage root, for sendfile; None when storage is elsewhere
    manifest_cache_seconds: float = 10.0

    @cached_property
    def upstream_authorization(self) -> str:
        return aiohttp.encode_basic_auth(*self.upstream_auth)

    @classmethod
    def from_settings(cls) -> ProxyConfig:
        from django.conf import settings

        sendfile = settings.REGISTRY_SENDFILE and settings.REGISTRY_STORAGE == "filesystem"
        return cls(
            upstream=settings.REGISTRY_URL.rstrip("/"),
            upstream_auth=(settings.REGISTRY_USERNAME, settings.REGISTRY_PASSWORD),
            external_url=settings.EXTERNAL_URL.rstrip("/"),
            key_dir=Path(settings.REGISTRY_KEY_DIR),
            data_dir=Path(settings.REGISTRY_DATA_DIR) if sendfile else None,
            manifest_cache_seconds=float(getattr(settings, "MANIFEST_CACHE_SECONDS", 10)),
        )


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


class RegistryApp:
    """Holds the upstream pool and the caches; `__call__` is the ASGI entry for `/v2/` and `/service/token`."""

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
        self._keys: KeyRing | None = None
        self._verifier: TokenVerifier | None = None

    @property
    def config(self) -> ProxyConfig:
        if self._config is None:
            self._config = ProxyConfig.from_settings()
        return self._config

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
        for cache in (self.manifests, self.projects, self.basic, self.read_only_cache):
            cache.clear()
        from portal.accounts.authentication import forget_verified_passwords

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
        await asyncio.get_running_loop().run_in_executor(self.executor, self.pulls.flush)

    async def run_sync(self, function: Callable[..., T], *args: Any) -> T:
        """ORM work off the event loop, in a thread that returns its database connection in good order."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, _with_db, function, args)

    # --- ASGI ---

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            if "\x00" in request.path or "%00" in request.query_string:
                # No name, reference or parameter may hold one, and PostgreSQL refuses it in a query (a 500).
                raise errors.unsupported("the request's path or query contains a NUL byte", status=400)
            route, params = match(request.method, request.path)
            context = Context(request, route, params)
            for check in route.checks:
                await check(self, context)
            await route.handler(self, context, send)
        except RegistryError as exc:
            await send_error(send, exc)
        except ClientGone:
            return
        except Exception:
            logger.exception("registry request %s %s failed", request.method, request.path)
            await send_error(send, RegistryError(500, "UNKNOWN", "internal error; see Berth's log"))

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pulls.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- policy data, cached briefly ---

    async def project(self, name: str) -> ProjectInfo | None:
        now = time.monotonic()
        found, info = self.projects.get(name, now)
        if not found:
            info = await self.run_sync(_load_project, name)
            self.projects.put(name, info, now + PROJECT_CACHE_SECONDS)
        return info

    async def read_only(self) -> bool:
        now = time.monotonic()
        found, value = self.read_only_cache.get("read_only", now)
        if not found:
            value = await self.run_sync(_load_read_only)
            self.read_only_cache.put("read_only", value, now + SETTINGS_CACHE_SECONDS)
        return bool(value)

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
        if headers:
            forwarded.update(headers)
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
        headers = [API_VERSION]
        for key, value in raw:
            lowered = key.lower()
            if lowered in DROPPED_RESPONSE_HEADERS:
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
        request = context.request
        if request.method in ("PUT", "PATCH", "POST") and "data" not in kwargs:
            kwargs["data"] = request.body_chunks()
        response = await self.upstream(context, **kwargs)
        await self.relay(response, send, receive=request.receive if request.method == "GET" else None)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _with_db[T](function: Callable[..., T], args: tuple[Any, ...]) -> T:
    from django.db import close_old_connections

    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


def _load_project(name: str) -> ProjectInfo | None:
    from portal.projects.models import Project

    row = Project.objects.filter(name=name).values_list("id", "name", "public").first()
    return ProjectInfo(*row) if row else None


def _load_read_only() -> bool:
    from portal.system.services import get_system_settings

    return bool(get_system_settings().read_only)


async def send_json(send: Send, status: int, document: Any, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(document).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [API_VERSION, JSON, (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: RegistryError) -> None:
    body = error.body()
    try:
        await send({"type": "http.response.start", "status": error.status,
                    "headers": [API_VERSION, JSON, (b"content-length", str(len(body)).encode()), *error.headers]})
        await send({"type": "http.response.body", "body": body})
    except RuntimeError:
        # The response had already started (the error came mid-stream): the connection is closed instead.
        pass


def check_basic_credentials(username: str, secret: str, source_ip: str | None) -> Any:
    """Basic credentials → principal; repeated password checks are remembered by the accounts app."""
    from portal.accounts.authentication import authenticate_credentials

    return authenticate_credentials(username, secret, source_ip)


# --- checks ------------------------------------------------------------------------------------------------------


def route_scope(context: Context) -> Scope | None:
    needs = context.route.needs
    if needs == "catalog":
        return Scope("registry", "catalog", ("*",))
    if needs is None or not context.name:
        return None
    # Clients ask for pull and push together when pushing; the challenge says what this route needs.
    actions = ("pull", "push") if needs == "push" else (needs,)
    return Scope("repository", context.name, actions)


async def authenticate(app: RegistryApp, context: Context) -> None:
    header = context.request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        try:
            context.principal = app.verifier.verify(value.strip())
        except InvalidToken as exc:
            raise errors.unauthorized(
                f"invalid token: {exc}", app.challenge(route_scope(context), "invalid_token")
            ) from None
        return
    if scheme == "basic":
        context.principal = await basic_principal(app, context, header)
        return
    raise errors.unauthorized("authentication required", app.challenge(route_scope(context)))


async def basic_principal(app: RegistryApp, context: Context, header: str) -> TokenPrincipal:
    """Basic credentials straight on /v2/: checked once (scrypt is slow), then remembered briefly,
    with the grants for this route's scope computed as the token service would."""
    scope = route_scope(context)
    key = hashlib.sha256(f"{header}\n{scope}".encode()).digest()
    now = time.monotonic()
    found, principal = app.basic.get(key, now)
    if found:
        return principal
    principal = await app.run_sync(_basic_principal, header, scope, context.request.client_ip)
    if principal is None:
        raise errors.unauthorized("invalid username or password", app.challenge(scope))
    app.basic.put(key, principal, now + BASIC_CACHE_SECONDS)
    return principal


def _basic_principal(header: str, scope: Scope | None, source_ip: str | None) -> TokenPrincipal | None:
    from portal.accounts.authentication import InvalidCredentials, parse_basic
    from portal.utilities.errors import TooManyAttempts

    credentials = parse_basic(header)
    if credentials is None:
        return None
    try:
        principal = check_basic_credentials(*credentials, source_ip)
    except InvalidCredentials:
        return None
    except TooManyAttempts as exc:
        raise errors.too_many_requests(exc.message) from None
    access = access_for(principal, [scope] if scope else [])
    return TokenPrincipal(principal.audit_name, principal.kind, access, time.time() + BASIC_CACHE_SECONDS,
                          request_scoped=True)


async def valid_name(app: RegistryApp, context: Context) -> None:
    name = context.name
    if len(name) > MAX_NAME_LENGTH or not NAME.match(name):
        raise errors.name_invalid(
            f"invalid repository name {name[:300]!r}: expected project/name[/…] in lower-case letters, digits "
            "and separators (. _ __ -)"
        )


async def project_exists(app: RegistryApp, context: Context) -> None:
    project_name = context.name.split("/", 1)[0]
    if await app.project(project_name) is None:
        raise errors.name_unknown(f"project {project_name} does not exist")


async def authorize(app: RegistryApp, context: Context) -> None:
    principal = context.principal
    assert principal is not None
    needs = context.route.needs
    if needs is None:
        return
    if needs == "catalog":
        if principal.allows("registry", "catalog", "*"):
            return
        kind, name, action = "registry", "catalog", "*"
    else:
        kind, name, action = "repository", context.name, needs
        if principal.allows(kind, name, action):
            return
    scope = route_scope(context)
    if principal.is_anonymous_subject or not (principal.request_scoped or principal.has_entry(kind, name)):
        # The client may not have asked for this scope yet: tell it which one to ask for.
        raise errors.unauthorized(f"authentication required to {action} {kind} {name}",
                                  app.challenge(scope, "insufficient_scope"))
    if needs == "catalog":
        raise errors.denied(f"{principal.audit_name} may not list the catalog: administrators only")
    # The same words whether the project is missing or private: a stranger must not learn its name exists.
    message = (f"{principal.audit_name} may not {action} repository {name} "
               "(it does not exist, or you have no access to it)")
    if action in ("push", "delete"):
        # A refused write is audited, as the API audits its own; refused reads are not (clients probe freely).
        await app.run_sync(_record_refused_write, principal, action, name, message, context.request.client_ip)
    raise errors.denied(message)


def _record_refused_write(principal: TokenPrincipal, action: str, repository: str, message: str,
                          source_ip: str | None) -> None:
    from portal.audit.models import Outcome
    from portal.audit.services import record
    from portal.projects.models import Project

    project = Project.objects.filter(name=repository.split("/", 1)[0]).first()
    record(principal, action, "repository", repository, project=project, outcome=Outcome.DENIED,
           source_ip=source_ip, detail={"message": message})


async def writable(app: RegistryApp, context: Context) -> None:
    if await app.read_only():
        raise errors.denied("Berth is in read-only mode: pushes and deletes are refused until an administrator "
                            "turns it off")


# The name is checked first: the 401 challenge repeats it in `scope="…"`, where a quote would let the path add
# its own `realm` (clients keep the last one, and send their credentials there) and CR/LF broke the response.
# Authorisation comes before the project lookup, so NAME_UNKNOWN ("project … does not exist") reaches only
# callers granted the repository (a token issued before its project was deleted); everyone else gets the
# refusal a private project gets.
REPOSITORY_CHECKS: tuple[Check, ...] = (valid_name, authenticate, authorize, project_exists)
WRITE_CHECKS: tuple[Check, ...] = (*REPOSITORY_CHECKS, writable)


def valid_reference(reference: str) -> str:
    if ":" in reference:
        return valid_digest(reference)
    if not TAG.match(reference):
        raise RegistryError(400, "TAG_INVALID", f"invalid tag {reference[:200]!r}")
    return reference


def valid_digest(digest: str) -> str:
    if not DIGEST.match(digest):
        raise errors.digest_invalid(f"invalid digest {digest[:200]!r}")
    algorithm = digest.split(":", 1)[0]
    if algorithm == "sha256" and not SHA256.match(digest) or algorithm == "sha512" and not SHA512.match(digest):
        raise errors.digest_invalid(f"invalid {algorithm} digest {digest[:200]!r}")
    if algorithm not in ("sha256", "sha512"):
        raise errors.unsupported(f"unsupported digest algorithm {algorithm!r}", status=400)
    return digest


# --- handlers ----------------------------------------------------------------------------------------------------


async def base(app: RegistryApp, context: Context, send: Send) -> None:
    await send_json(send, 200, {})


async def token(app: RegistryApp, context: Context, send: Send) -> None:
    """The Docker token service: GET with Basic credentials or none; POST as an OAuth2 password grant."""
    request = context.request
    if request.method == "POST":
        form = parse_qs((await request.read_body(64 * 1024)).decode("utf-8", "replace"))
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "password":
            await send_json(send, 400, {"error": "unsupported_grant_type",
                                        "error_description": "only the password grant is supported"})
            return
        username, password = (form.get("username") or [""])[0], (form.get("password") or [""])[0]
        scopes = parse_scopes(form.get("scope", []))
        credentials: tuple[str, str] | None = (username, password)
        service = (form.get("service") or [None])[0]
    else:
        scopes = parse_scopes(request.query.get("scope", []))
        header = request.headers.get("authorization", "")
        credentials = None
        if header:
            from portal.accounts.authentication import parse_basic

            credentials = parse_basic(header)
            if credentials is None:
                raise errors.unauthorized("malformed Basic credentials", 'Basic realm="berth"')
        service = request.param("service")
    if service and service != SERVICE:
        raise RegistryError(400, "UNSUPPORTED", f"unknown service {service!r}; this is {SERVICE!r}")
    issued = await app.run_sync(_issue_token, app.keys, credentials, scopes, request.client_ip)
    if issued is None:
        raise errors.unauthorized("invalid username or password", 'Basic realm="berth"')
    signed, lifetime, issued_at = issued
    await send_json(send, 200, {
        "token": signed, "access_token": signed, "expires_in": lifetime,
        "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued_at)),
    }, [(b"cache-control", b"no-store")])


def _issue_token(keys: KeyRing, credentials: tuple[str, str] | None, scopes: list[Scope],
                 source_ip: str | None) -> tuple[str, int, int] | None:
    from portal.accounts.authentication import InvalidCredentials
    from portal.rbac.principals import AnonymousPrincipal, Principal
    from portal.system.services import get_system_settings
    from portal.utilities.errors import TooManyAttempts

    principal: Principal = AnonymousPrincipal()
    if credentials is not None:
        try:
            principal = check_basic_credentials(*credentials, source_ip)
        except InvalidCredentials:
            return None
        except TooManyAttempts as exc:
            raise errors.too_many_requests(exc.message) from None
    lifetime = int(get_system_settings().registry_token_lifetime_seconds)
    signed, _, issued_at = issue(keys, principal, scopes, lifetime)
    return signed, lifetime, issued_at


def page_size(text: str | None, maximum: int) -> int | None:
    """`n` of a paginated list. ASCII digits only: str.isdigit() also accepts `²`, which int() refuses, and a
    number of thousands of digits is refused by int() too; both were 500s."""
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)) or int(text) > maximum:
        raise errors.invalid_request(f"invalid n {text[:20]!r}: a whole number up to {maximum}")
    return int(text)


async def catalog(app: RegistryApp, context: Context, send: Send) -> None:
    page_size(context.request.param("n"), MAX_CATALOG_PAGE)
    await app.proxy(context, send)


async def tags_list(app: RegistryApp, context: Context, send: Send) -> None:
    """Sorted and paginated from Berth's index (distribution 2.8 neither sorts reliably nor deletes tags)."""
    n, last = page_size(context.request.param("n"), MAX_TAGS_PAGE), context.request.param("last")
    tags = await app.run_sync(_list_tags, context.name, None if n is None else n + 1, last or None)
    if tags is None:
        raise errors.name_unknown(f"repository {context.name} is not known")
    headers: list[tuple[bytes, bytes]] = []
    if n is not None and len(tags) > n:
        tags = tags[:n]
        link = f"</v2/{context.name}/tags/list?{urlencode({'n': n, 'last': tags[-1]})}>; rel=\"next\""
        headers.append((b"link", link.encode()))
    await send_json(send, 200, {"name": context.name, "tags": tags}, headers)


def _list_tags(repository: str, n: int | None, last: str | None) -> list[str] | None:
    from portal.artifacts.models import Repository
    from portal.artifacts.services import list_tags

    tags = list_tags(repository, n, last)
    if not tags and not Repository.objects.filter(name=repository).exists():
        return None
    return tags


def accepts(accept_header: str, media_type: str) -> bool:
    if not accept_header:
        return False
    for part in accept_header.split(","):
        value = part.split(";", 1)[0].strip()
        if value == media_type or value == "*/*":
            return True
    return False


_MISSING = object()


async def manifest_get(app: RegistryApp, context: Context, send: Send) -> None:
    request = context.request
    reference = valid_reference(context.params["reference"])
    name = context.name
    now = time.monotonic()
    found, cached = app.manifests.get((name, reference), now)
    if not found:
        cached = await app.run_sync(_indexed_manifest, name, reference)
        if cached is _MISSING:
            raise errors.manifest_unknown(f"manifest {name}:{reference} is not known")
        if cached is not None:
            body, media_type, digest = cached
            lifetime = app.config.manifest_cache_seconds if ":" in reference else TAG_CACHE_SECONDS
            cached = CachedManifest(body, media_type, digest, now + lifetime)
            app.manifests.put((name, reference), cached, now + lifetime)
    if cached is not None and accepts(request.headers.get("accept", ""), cached.media_type):
        await send({"type": "http.response.start", "status": 200, "headers": [
            API_VERSION, (b"content-type", cached.media_type.encode()),
            (b"content-length", str(len(cached.body)).encode()),
            (b"docker-content-digest", cached.digest.encode()), (b"etag", f'"{cached.digest}"'.encode()),
        ]})
        await send({"type": "http.response.body", "body": cached.body if request.method == "GET" else b""})
        if request.method == "GET":
            app.pulls.add(name, cached.digest, None if ":" in reference else reference, _actor(context))
        return
    # Not indexed (pushed around Berth, or the index lags), or the client wants another format.
    response = await app.upstream(context)
    if response.status == 200 and request.method == "GET":
        digest = response.headers.get("docker-content-digest", "")
        if digest:
            app.pulls.add(name, digest, None if ":" in reference else reference, _actor(context))
    await app.relay(response, send)


def _indexed_manifest(repository: str, reference: str) -> tuple[bytes, str, str] | object | None:
    from portal.artifacts.services import cached_manifest, tag_deleted

    found = cached_manifest(repository, reference)
    if found is None and ":" not in reference and tag_deleted(repository, reference):
        return _MISSING
    return found


def _actor(context: Context) -> str:
    return context.principal.audit_name if context.principal is not None else "anonymous"


async def manifest_put(app: RegistryApp, context: Context, send: Send) -> None:
    request = context.request
    reference = valid_reference(context.params["reference"])
    body = await request.read_body(MAX_MANIFEST_BYTES)
    if reference.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != reference:
        raise errors.digest_invalid(f"the manifest's digest is not {reference}")
    media_type = request.headers.get("content-type", "")
    subject = _subject_of(body)
    response = await app.upstream(context, data=body)
    extra: list[tuple[bytes, bytes]] = []
    if response.status == 201:
        digest = response.headers.get("docker-content-digest", "")
        if subject:
            # distribution 2.8 knows nothing of subjects: Berth's index serves the referrers API.
            extra.append((b"oci-subject", subject.encode()))
        media_type = media_type or _media_type_of(body)
        try:
            await app.run_sync(_record_push, context.principal, context.name, reference, digest, media_type, body,
                               request.client_ip)
        except Exception:
            # distribution has the manifest; the scheduled reconcile indexes what this could not.
            logger.exception("indexing %s@%s failed", context.name, digest)
        app.manifests.pop((context.name, reference))
        app.manifests.pop((context.name, digest))
    await app.relay(response, send, extra)


def _record_push(principal: Any, repository: str, reference: str, digest: str, media_type: str, body: bytes,
                 source_ip: str | None) -> None:
    from portal.artifacts.services import record_manifest_push

    record_manifest_push(principal, repository, reference, digest, media_type, body, source_ip)


def _subject_of(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    subject = document.get("subject") if isinstance(document, dict) else None
    digest = subject.get("digest") if isinstance(subject, dict) else None
    return digest if isinstance(digest, str) and DIGEST.match(digest) else None


def _media_type_of(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    value = document.get("mediaType") if isinstance(document, dict) else None
    return value if isinstance(value, str) else ""


async def manifest_delete(app: RegistryApp, context: Context, send: Send) -> None:
    reference = valid_reference(context.params["reference"])
    name = context.name
    if ":" not in reference:
        # distribution 2.8 cannot delete a tag; Berth's index is the source of truth for tags.
        await app.run_sync(_delete_tag, context.principal, name, reference, context.request.client_ip)
        app.manifests.pop((name, reference))
        await send({"type": "http.response.start", "status": 202, "headers": [API_VERSION,
                                                                              (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    response = await app.upstream(context)
    if response.status == 202:
        try:
            await app.run_sync(_record_delete, context.principal, name, reference, context.request.client_ip)
        except Exception:
            logger.exception("unindexing %s@%s failed", name, reference)
        app.manifests.clear()  # tags pointing at the digest go with it
    await app.relay(response, send)


def _delete_tag(principal: Any, repository: str, tag: str, source_ip: str | None) -> None:
    from portal.artifacts.services import delete_tag
    from portal.utilities.errors import Forbidden, NotFound

    try:
        delete_tag(principal, repository, tag, source_ip)
    except NotFound as exc:
        raise errors.manifest_unknown(exc.message) from None
    except Forbidden as exc:
        raise errors.denied(exc.message) from None


def _record_delete(principal: Any, repository: str, digest: str, source_ip: str | None) -> None:
    from portal.artifacts.services import record_manifest_delete

    record_manifest_delete(principal, repository, digest, source_ip)


async def blob_get(app: RegistryApp, context: Context, send: Send) -> None:
    digest = valid_digest(context.params["digest"])
    request = context.request
    data_dir = app.config.data_dir
    zero_copy = "http.response.zerocopysend" in request.scope.get("extensions", {})
    from_disk = data_dir is not None and zero_copy and "range" not in request.headers and digest.startswith("sha256:")
    if from_disk and await send_blob_from_disk(data_dir, context.name, digest, request.method, send):  # type: ignore[arg-type]
        return
    await app.proxy(context, send)


async def send_blob_from_disk(data_dir: Path, repository: str, digest: str, method: str, send: Send) -> bool:
    """Sends a blob straight from distribution's filesystem storage, if this repository links it.
    The name is validated against the OCI grammar and the digest is hex, so neither can leave the root."""
    hex_digest = digest.split(":", 1)[1]
    root = data_dir / "docker" / "registry" / "v2"
    link = root / "repositories" / repository / "_layers" / "sha256" / hex_digest / "link"
    blob = root / "blobs" / "sha256" / hex_digest[:2] / hex_digest / "data"
    try:
        if not link.is_file():
            return False
        handle = open(blob, "rb")  # noqa: SIM115 - closed below, after sendfile
    except OSError:
        return False
    try:
        size = os.fstat(handle.fileno()).st_size
        await send({"type": "http.response.start", "status": 200, "headers": [
            API_VERSION, (b"content-type", b"application/octet-stream"),
            (b"content-length", str(size).encode()), (b"docker-content-digest", digest.encode()),
            (b"etag", f'"{digest}"'.encode()), (b"accept-ranges", b"bytes"),
            (b"cache-control", b"max-age=31536000"),
        ]})
        if method == "HEAD" or size == 0:
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.zerocopysend", "file": handle, "offset": 0, "count": size})
    finally:
        handle.close()
    return True


async def upload_start(app: RegistryApp, context: Context, send: Send) -> None:
    request = context.request
    mount, source = request.param("mount"), request.param("from")
    if mount is not None:
        valid_digest(mount)
        if not await may_mount_from(app, context, source or ""):
            # The spec's answer to a refused mount: a plain upload session (202), never the source's blob.
            query = {k: v for k, v in request.query.items() if k not in ("mount", "from")}
            await app.proxy(context, send, query=urlencode(query, doseq=True))
            return
    await app.proxy(context, send)


async def may_mount_from(app: RegistryApp, context: Context, source: str) -> bool:
    principal = context.principal
    assert principal is not None
    if len(source) > MAX_NAME_LENGTH or not NAME.match(source):
        return False
    if principal.allows("repository", source, "pull"):
        return True
    if not principal.request_scoped:
        return False
    # Basic credentials on /v2/: decide pull on the source as the token service would.
    header = context.request.headers.get("authorization", "")
    source_principal = await app.run_sync(
        _basic_principal, header, Scope("repository", source, ("pull",)), context.request.client_ip
    )
    return source_principal is not None and source_principal.allows("repository", source, "pull")


async def upload(app: RegistryApp, context: Context, send: Send) -> None:
    digest = context.request.param("digest")
    if context.request.method == "PUT" and digest is not None:
        valid_digest(digest)
    await app.proxy(context, send)


async def referrers(app: RegistryApp, context: Context, send: Send) -> None:
    digest = valid_digest(context.params["digest"])
    artifact_type = context.request.param("artifactType") or None
    descriptors = await app.run_sync(_referrers, context.name, digest, artifact_type)
    headers = [(b"content-type", OCI_INDEX.encode())]
    if artifact_type:
        headers.append((b"oci-filters-applied", b"artifactType"))
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [API_VERSION, *headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _referrers(repository: str, digest: str, artifact_type: str | None) -> list[dict[str, Any]]:
    from portal.artifacts.services import referrers as indexed_referrers

    return indexed_referrers(repository, digest, artifact_type)


async def passthrough(app: RegistryApp, context: Context, send: Send) -> None:
    if "digest" in context.params:
        valid_digest(context.params["digest"])
    await app.proxy(context, send)


# --- the route table ---------------------------------------------------------------------------------------------

_NAME = r"(?P<name>[^?#]+?)"


def _route(methods: str, pattern: str, checks: tuple[Check, ...], handler: Handler, needs: str | None = None,
           ) -> Route:
    return Route(frozenset(methods.split()), re.compile(pattern), checks, handler, needs)


ROUTES: tuple[Route, ...] = (
    _route("GET HEAD", r"^/v2/?$", (authenticate,), base),
    _route("GET POST", r"^/service/token/?$", (), token),
    _route("GET", r"^/v2/_catalog$", (authenticate, authorize), catalog, "catalog"),
    _route("GET", rf"^/v2/{_NAME}/tags/list$", REPOSITORY_CHECKS, tags_list, "pull"),
    _route("GET HEAD", rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$", REPOSITORY_CHECKS, manifest_get, "pull"),
    _route("PUT", rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$", WRITE_CHECKS, manifest_put, "push"),
    _route("DELETE", rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$", WRITE_CHECKS, manifest_delete, "delete"),
    _route("POST", rf"^/v2/{_NAME}/blobs/uploads/?$", WRITE_CHECKS, upload_start, "push"),
    _route("GET PATCH PUT DELETE", rf"^/v2/{_NAME}/blobs/uploads/(?P<uuid>[^/]+)$", WRITE_CHECKS, upload, "push"),
    _route("GET HEAD", rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$", REPOSITORY_CHECKS, blob_get, "pull"),
    _route("DELETE", rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$", WRITE_CHECKS, passthrough, "delete"),
    _route("GET", rf"^/v2/{_NAME}/referrers/(?P<digest>[^/]+)$", REPOSITORY_CHECKS, referrers, "pull"),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    path_matched = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        path_matched = True
        if method in route.methods:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}
    if path_matched:
        raise errors.unsupported(f"{method} is not supported on {path[:200]}")
    raise RegistryError(404, "NOT_FOUND", f"no registry route for {path[:200]}")
