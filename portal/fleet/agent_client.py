"""The portal's client of one agent: signed requests, JSON answers, streamed NDJSON, clear failures."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings

from portal.fleet.keys import portal_signer
from portal.fleet.models import Host


class AgentFailure(Exception):
    """The agent answered with an error: its status, stable code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class HostUnreachable(AgentFailure):
    def __init__(self, host: str, reason: str) -> None:
        super().__init__(503, "host_unreachable", f"host {host} is unreachable: {reason}")


def _failure(response: httpx.Response) -> AgentFailure:
    try:
        error = json.loads(response.read())["error"]
        return AgentFailure(response.status_code, error["code"], error["message"])
    except (ValueError, KeyError, TypeError):
        return AgentFailure(response.status_code, "agent_error", f"the agent answered HTTP {response.status_code}")


class AgentClient:
    """`transport` lets tests of pure logic answer for the agent (httpx.MockTransport)."""

    def __init__(self, host: Host, transport: httpx.BaseTransport | None = None, *, wait_forever: bool = False) -> None:
        """`wait_forever` drops the read timeout, for streams that may stay quiet (followed logs)."""
        self.host = host
        self.signer = portal_signer()
        read_timeout = None if wait_forever else settings.FLEET_AGENT_TIMEOUT_SECONDS
        self.http = httpx.Client(
            base_url=host.address.rstrip("/"), transport=transport or _transport_override(),
            timeout=httpx.Timeout(read_timeout, connect=5.0),
        )  # fmt: skip

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self, method: str, path: str, body: Any, query: dict[str, Any] | None) -> httpx.Request:
        target = path + (("?" + urlencode({k: v for k, v in query.items() if v is not None})) if query else "")
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"Authorization": self.signer.header(str(self.host.id), method, target, content)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.http.build_request(method, target, content=content, headers=headers)

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        try:
            response = self.http.send(self._build(method, path, body, query))
        except httpx.HTTPError as exc:
            raise HostUnreachable(self.host.name, str(exc) or type(exc).__name__) from None
        if response.status_code >= 400:
            raise _failure(response)
        return response.json() if response.content else None

    @contextlib.contextmanager
    def stream(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Iterator[Iterator[dict[str, Any]]]:
        """Yields the agent's NDJSON events as they arrive."""
        try:
            response = self.http.send(self._build(method, path, body, query), stream=True)
        except httpx.HTTPError as exc:
            raise HostUnreachable(self.host.name, str(exc) or type(exc).__name__) from None
        try:
            if response.status_code >= 400:
                raise _failure(response)

            def events() -> Iterator[dict[str, Any]]:
                try:
                    for line in response.iter_lines():
                        if line:
                            yield json.loads(line)
                except httpx.HTTPError as exc:
                    raise HostUnreachable(self.host.name, f"the stream broke off: {exc}") from None

            yield events()
        finally:
            response.close()

    # The agent's API, one method per route the portal uses.

    def info(self) -> dict[str, Any]:
        return self.call("GET", "/v1/info")

    def containers(self, label: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "/v1/containers", query={"all": "true", "label": label})

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/v1/containers", body)

    def inspect(self, ref: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/containers/{ref}")

    def stop(self, ref: str, timeout: float = 10) -> dict[str, Any]:
        return self.call("POST", f"/v1/containers/{ref}/stop", query={"timeout": timeout})

    def start(self, ref: str) -> dict[str, Any]:
        return self.call("POST", f"/v1/containers/{ref}/start")

    def restart(self, ref: str, timeout: float = 10) -> dict[str, Any]:
        return self.call("POST", f"/v1/containers/{ref}/restart", query={"timeout": timeout})

    def remove(self, ref: str) -> None:
        self.call("DELETE", f"/v1/containers/{ref}", query={"force": "true"})

    def exec(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/v1/containers/{ref}/exec", body)

    def stats(self, ref: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/containers/{ref}/stats")


_TRANSPORT: httpx.BaseTransport | None = None


def _transport_override() -> httpx.BaseTransport | None:
    return _TRANSPORT


@contextlib.contextmanager
def agents_answered_by(transport: httpx.BaseTransport) -> Iterator[None]:
    """Tests of the portal's logic: every AgentClient made meanwhile talks to `transport`."""
    global _TRANSPORT
    previous, _TRANSPORT = _TRANSPORT, transport
    try:
        yield
    finally:
        _TRANSPORT = previous
