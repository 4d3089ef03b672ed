"""Serves Berth (portal and registry) with uvicorn, adding ASGI's zero-copy send so blobs go out with sendfile.

uvicorn implements no `http.response.zerocopysend`; its httptools cycle is extended here to offer it:
the headers are written as usual, then the file goes to the socket with `loop.sendfile` (os.sendfile on
the standard asyncio loop), and the cycle's byte accounting is kept right.

    python -m registry_proxy.server --bind 127.0.0.1:8000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http import httptools_impl

ZERO_COPY = "http.response.zerocopysend"


class ZeroCopyCycle(httptools_impl.RequestResponseCycle):
    def __init__(self, scope: Any, *args: Any, **kwargs: Any) -> None:
        scope.setdefault("extensions", {})[ZERO_COPY] = {}
        super().__init__(scope, *args, **kwargs)

    async def send(self, message: Any) -> None:
        if message["type"] != ZERO_COPY:
            await super().send(message)
            return
        if not self.response_started or self.response_complete or self.chunked_encoding:
            raise RuntimeError("zero-copy send needs a started response with a Content-Length")
        file, offset, count = message["file"], message.get("offset") or 0, message["count"]
        if self.scope["method"] != "HEAD" and not self.disconnected:
            if count > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            if self.flow.write_paused:
                await self.flow.drain()
            try:
                await asyncio.get_running_loop().sendfile(self.transport, file, offset, count)
            except (ConnectionError, OSError):
                self.disconnected = True
                return
            self.expected_content_length -= count
        await super().send({"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)})


# Longer than any path Berth routes (names are capped at 255 characters, references and digests far less) and
# what common proxies take; httptools itself has no limit, so a request line could grow as long as memory.
MAX_URL_BYTES = 16 * 1024


class RequestRefused(Exception):
    """A request refused while it is still being parsed, before any ASGI app sees it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ZeroCopyHttpToolsProtocol(httptools_impl.HttpToolsProtocol):
    """uvicorn's httptools protocol, whose request cycles offer the zero-copy extension, and whose refusals of
    requests it cannot parse are in the error format of the API the path belongs to, not plain text."""

    refusal: RequestRefused | None = None

    def on_message_begin(self) -> None:
        self.refusal = None
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            # Raised inside the parser's callback, it comes back out of feed_data as a parse error.
            self.refusal = RequestRefused(414, f"the request's URL is longer than {MAX_URL_BYTES} bytes")
            raise self.refusal

    def send_400_response(self, msg: str) -> None:
        from portal.utilities.errors import error_body
        from registry_proxy.errors import RegistryError
        from registry_proxy.plumbing import is_registry_path

        refusal = self.refusal or RequestRefused(
            400, "the request is not valid HTTP/1.1 (a malformed request line, header or Content-Length)")
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        if is_registry_path(path):
            body = RegistryError(refusal.status, "UNSUPPORTED", refusal.message).body()
        elif path.startswith("/api/"):
            body = json.dumps(error_body("malformed_request", refusal.message)).encode()
        else:
            super().send_400_response(msg)
            return
        reason = {400: b"Bad Request", 414: b"URI Too Long"}[refusal.status]
        self.transport.write(b"".join([
            b"HTTP/1.1 %d %s\r\n" % (refusal.status, reason), b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n", body,
        ]))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # With several workers uvicorn hands each one the listening socket rebuilt with protocol 0, so
        # asyncio's own TCP_NODELAY is skipped and every response waits on a delayed ACK: 340 req/s
        # instead of thousands. Set it here.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


# The protocol builds its cycles through this module-level name; pointing it at the subclass is the one
# hook uvicorn leaves (it has no setting for the cycle class).
httptools_impl.RequestResponseCycle = ZeroCopyCycle  # type: ignore[misc]


def options(bind: str, workers: int) -> dict[str, Any]:
    host, _, port = bind.rpartition(":")
    return {
        "host": host.strip("[]") or "127.0.0.1", "port": int(port), "workers": workers,
        # The standard loop: uvloop has no sendfile, and large blobs matter more than the last 10 % on tiny ones.
        "loop": "asyncio", "http": ZeroCopyHttpToolsProtocol, "lifespan": "on", "server_header": False,
        "proxy_headers": False, "access_log": False, "timeout_keep_alive": 30,
    }


def config(bind: str, workers: int, app: Any = "registry_proxy.asgi:application") -> uvicorn.Config:
    return uvicorn.Config(app, **options(bind, workers))


def prepare_metrics_dir() -> None:
    """Workers share Prometheus counters through files; the directory is named before any worker starts
    and emptied, as portal.system.gunicorn_conf does under gunicorn."""
    from portal.settings import VAR_DIR

    metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=os.environ.get("BERTH_BIND", "127.0.0.1:8000"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    prepare_metrics_dir()
    uvicorn.run("registry_proxy.asgi:application", **{**options(args.bind, args.workers),
                                                      "access_log": args.access_log})


if __name__ == "__main__":
    main()
