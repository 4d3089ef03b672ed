"""The `/v2/` registry API and `/service/token` as a bare ASGI app: a route table of checks in front of handlers.

Bodies stream both ways in chunks as they arrive (manifests excepted: ≤ 4 MiB, the index needs them).
Authorised manifest reads are answered from Berth's own caches; blobs in filesystem storage are sent
straight from disk with sendfile when the server offers the zero-copy extension.
"""

from __future__ import annotations

import logging

from portal.utilities.requests import AUTHORIZATION_TOO_LONG, MAX_AUTHORIZATION_BYTES
from registry_proxy import errors
from registry_proxy.errors import RegistryError
from registry_proxy.plumbing import ClientGone, Context, Receive, Request, Scope_, Send, send_error
from registry_proxy.proxy import Proxy
from registry_proxy.routes import match

logger = logging.getLogger(__name__)


class RegistryApp(Proxy):
    """The ASGI entry for `/v2/` and `/service/token`: each request runs its route's checks, then its handler."""

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
