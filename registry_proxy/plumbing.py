"""Request and response plumbing for `/v2/`: the ASGI request, the per-request context, JSON answers and errors."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from portal.registry.tokens import TokenPrincipal
from registry_proxy import errors
from registry_proxy.errors import RegistryError

Scope_ = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")
JSON = (b"content-type", b"application/json")
CHUNK = 1024 * 1024



def is_registry_path(path: str) -> bool:
    # All of /service/, not only its token route: the registry app answers unknown paths there in OCI JSON.
    return path in ("/v2", "/service") or path.startswith(("/v2/", "/service/"))


class Request:
    __slots__ = ("scope", "receive", "method", "path", "headers", "_query", "gone", "_body")

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
        self._body: bytes | None = None

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
        """The whole body, at most `limit` bytes; read once, so a check and then the handler may both ask."""
        if self._body is not None:
            if len(self._body) > limit:
                raise RegistryError(413, "SIZE_INVALID", f"body larger than {limit} bytes")
            return self._body
        chunks, size = [], 0
        async for chunk in self.body_chunks():
            size += len(chunk)
            if size > limit:
                raise RegistryError(413, "SIZE_INVALID", f"body larger than {limit} bytes")
            chunks.append(chunk)
        self._body = b"".join(chunks)
        return self._body


class ClientGone(Exception):
    """The client went away mid-request (a truncated upload): there is nobody to answer."""


@dataclass
class Context:
    request: Request
    needs: str | None  # the route's token action on the repository: pull, push, delete; "catalog"
    params: dict[str, str]
    principal: TokenPrincipal | None = None
    # Checks that need the pushed body: a route check adds them, the handler that reads the body runs them.
    body_checks: list[Callable[[bytes], None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.params.get("name", "")


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


def page_size(text: str | None, maximum: int) -> int | None:
    """`n` of a paginated list. ASCII digits only: str.isdigit() also accepts `²`, which int() refuses, and a
    number of thousands of digits is refused by int() too; both were 500s."""
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)) or int(text) > maximum:
        raise errors.invalid_request(f"invalid n {text[:20]!r}: a whole number up to {maximum}")
    return int(text)


_BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def is_single_range(header: str) -> bool:
    """A range `byte_range` serves; anything else is ignored and the whole blob sent."""
    found = _BYTE_RANGE.match(header.strip().replace(" ", ""))
    if found is None or found.group(1) == found.group(2) == "":
        return False
    first, last = found.groups()
    return first == "" or last == "" or int(last) >= int(first)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one `bytes=` range a blob GET asks for, as (first, last) inclusive; None to send the whole blob
    (no header, several ranges or a form this does not parse, which RFC 9110 lets a server ignore).
    A range that starts past the end is refused with the 416 the RFC prescribes."""
    if not header:
        return None
    found = _BYTE_RANGE.match(header.strip().replace(" ", ""))
    if found is None or found.group(1) == found.group(2) == "":
        return None
    first_text, last_text = found.groups()
    if first_text == "":  # a suffix: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise errors.range_outside(size)
        return max(size - length, 0), size - 1
    first = int(first_text)
    last = size - 1 if last_text == "" else min(int(last_text), size - 1)
    if last_text != "" and int(last_text) < first:
        return None  # syntactically invalid: ignored, as the RFC says
    if first >= size:
        raise errors.range_outside(size)
    return first, last
