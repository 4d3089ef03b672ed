"""The `/v2/` registry API and `/service/token` as a bare ASGI app: a route table of checks in front of handlers.

Bodies stream both ways in chunks as they arrive (manifests excepted: ≤ 4 MiB, the index needs them).
Authorised manifest reads are answered from Berth's own caches; blobs in filesystem storage are sent
straight from disk with sendfile when the server offers the zero-copy extension.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from portal.utilities.requests import AUTHORIZATION_TOO_LONG, MAX_AUTHORIZATION_BYTES
from registry_proxy import errors
from registry_proxy.errors import RegistryError
from registry_proxy.plumbing import ClientGone, Context, Receive, Request, Scope_, Send, send_error
from registry_proxy.proxy import Proxy
from registry_proxy.routes import match

logger = logging.getLogger(__name__)


class RegistryApp(Proxy):
    """The ASGI entry for `/v2/` and `/service/token`: each request runs its route's checks, then its handler."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The latest answers with a 5xx status ("METHOD PATH -> STATUS"): a client's bad input must never be
        # one, and the registry tests assert that none of theirs was.
        self.server_errors: deque[str] = deque(maxlen=1000)

    async def __call__(self, scope: Scope_, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        send = self._watched(request, send)
        try:
            if "\x00" in request.path or "%00" in request.query_string:
                # No name, reference or parameter may hold one, and PostgreSQL refuses it in a query (a 500).
                raise errors.unsupported("the request's path or query contains a NUL byte", status=400)
            if len(request.headers.get("authorization", "")) > MAX_AUTHORIZATION_BYTES:
                raise errors.unsupported(AUTHORIZATION_TOO_LONG, status=431)
            route, params = match(request.method, request.path)
            context = Context(request, route.needs, params)
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

    def _watched(self, request: Request, send: Send) -> Send:
        async def watched(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 500:
                self.server_errors.append(f"{request.method} {request.path} -> {message['status']}")
            await send(message)

        return watched

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
