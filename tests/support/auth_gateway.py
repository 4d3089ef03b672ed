"""A tiny auth front for a test registry: Bearer with its own token endpoint, or Basic, then proxied."""

from __future__ import annotations

import base64
import http.client
import json
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, urlsplit

_REPOSITORY = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags)/")
_PASSED_HEADERS = ("Accept", "Range", "If-None-Match")
_RETURNED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
    "Docker-Content-Digest",
    "Docker-Distribution-Api-Version",
    "ETag",
    "Location",
)


@dataclass
class TokenRequest:
    user: str | None
    service: str | None
    scope: str | None


@dataclass
class AuthGateway:
    """Front `upstream` (`host:port`); `scheme` decides the challenge the client gets."""

    upstream: str
    scheme: Literal["bearer", "basic"] = "bearer"
    users: dict[str, str] = field(default_factory=dict)
    anonymous_pull: bool = False
    service: str = "berth-test-registry"
    token_requests: list[TokenRequest] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)

    def __enter__(self) -> AuthGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                gateway._handle(self)

            def do_HEAD(self) -> None:
                gateway._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def _user(self, request: BaseHTTPRequestHandler) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user if self.users.get(user) == password else None

    def _reply(
        self,
        request: BaseHTTPRequestHandler,
        status: int,
        body: Mapping[str, object],
        headers: dict[str, str],
    ) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        if url.path == "/token":
            self._token(request, parse_qs(url.query))
        elif self._authorized(request):
            self._proxy(request)
        else:
            self._challenge(request, url.path)

    def _token(self, request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        user = self._user(request)
        self.token_requests.append(
            TokenRequest(user, query.get("service", [None])[0], query.get("scope", [None])[0])
        )
        if user is None and ("Authorization" in request.headers or not self.anonymous_pull):
            error = {
                "errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]
            }
            self._reply(request, 401, error, {})
            return
        token = secrets.token_hex(16)
        self._tokens.add(token)
        self._reply(request, 200, {"token": token, "expires_in": 300}, {})

    def _authorized(self, request: BaseHTTPRequestHandler) -> bool:
        header = request.headers.get("Authorization", "")
        if self.scheme == "bearer":
            return header.startswith("Bearer ") and header[7:] in self._tokens
        return self._user(request) is not None

    def _challenge(self, request: BaseHTTPRequestHandler, path: str) -> None:
        if self.scheme == "bearer":
            challenge = f'Bearer realm="http://{self.host}/token",service="{self.service}"'
            repository = _REPOSITORY.match(path)
            if repository:
                challenge += f',scope="repository:{repository.group(1)}:pull"'
        else:
            challenge = 'Basic realm="berth \\"test\\" registry"'
        error = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        self._reply(request, 401, error, {"WWW-Authenticate": challenge})

    def _proxy(self, request: BaseHTTPRequestHandler) -> None:
        upstream = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            headers = {k: request.headers[k] for k in _PASSED_HEADERS if k in request.headers}
            upstream.request(request.command, request.path, headers=headers)
            response = upstream.getresponse()
            request.send_response(response.status)
            for name in _RETURNED_HEADERS:
                value = response.getheader(name)
                if value is not None:
                    request.send_header(name, value)
            if response.getheader("Content-Length") is None:
                request.send_header("Connection", "close")
                request.close_connection = True
            request.end_headers()
            while chunk := response.read(1 << 16):
                request.wfile.write(chunk)
        finally:
            upstream.close()
