"""An in-memory agent behind httpx.MockTransport, for tests of the portal's own logic."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx


class FakeAgent:
    """Answers the routes the portal uses; `fail` makes the next matching call fail like a real agent."""

    def __init__(self) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.create_bodies: list[dict[str, Any]] = []
        self.pull_error: tuple[str, str] | None = None
        self.create_error: tuple[int, str, str] | None = None
        self.unreachable = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _error(self, status: int, code: str, message: str) -> httpx.Response:
        return httpx.Response(status, json={"error": {"code": code, "message": message}})

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.unreachable:
            raise httpx.ConnectError("connection refused")
        assert request.headers["authorization"].startswith("Berth-Signature ")
        url = urlsplit(str(request.url))
        path, method = url.path, request.method
        self.calls.append(f"{method} {path}")
        body = json.loads(request.content) if request.content else {}
        parts = path.strip("/").split("/")
        if path == "/v1/images/pull":
            if self.pull_error:
                event = {"status": "error", "code": self.pull_error[0], "message": self.pull_error[1]}
            else:
                event = {"status": "pulled", "id": "sha256:" + "1" * 64, "digest": "sha256:" + "2" * 64, "size": 10}
            lines = [{"status": "pulling", "layer": "sha256:aa", "done": 5, "total": 10}, event]
            return httpx.Response(200, content="".join(json.dumps(e) + "\n" for e in lines))
        if path == "/v1/containers" and method == "GET":
            return httpx.Response(200, json=list(self.containers.values()))
        if path == "/v1/containers" and method == "POST":
            self.create_bodies.append(body)
            if self.create_error:
                return self._error(*self.create_error)
            cid = secrets.token_hex(32)
            self.containers[cid] = {
                "id": cid, "name": body["name"], "labels": body.get("labels", {}), "status": "created",
                "exit_code": 0, "oom_killed": False, "error": "", "started_at": "", "finished_at": "",
                "ports": body.get("ports", []), "healthcheck": body.get("healthcheck"),
                "health": "starting" if body.get("healthcheck") else "",
            }  # fmt: skip
            return httpx.Response(201, json=self.containers[cid])
        if len(parts) >= 3 and parts[1] == "containers":
            container = self.containers.get(parts[2])
            if container is None:
                return self._error(404, "no_such_container", f"No such container: {parts[2]}")
            action = parts[3] if len(parts) > 3 else None
            if method == "DELETE":
                del self.containers[parts[2]]
                return httpx.Response(204)
            if action in ("start", "restart"):
                container.update(status="running", started_at="2026-01-01T00:00:00+00:00")
            elif action == "stop":
                container.update(status="exited", exit_code=143)
            elif action == "exec":
                return httpx.Response(200, json={"exit_code": 0, "stdout": " ".join(body["command"]), "stderr": ""})
            elif action == "stats":
                return httpx.Response(200, json={"memory_usage": 1, "pids": 1})
            elif action == "logs":
                return httpx.Response(200, content=json.dumps({"time": "t", "stream": "stdout", "data": "hi\n"}) + "\n")
            return httpx.Response(200, json=container)
        return self._error(404, "not_found", f"no route {method} {path}")

    def finish(self, record_id: str, exit_code: int, oom: bool = False) -> None:
        for container in self.containers.values():
            if container["labels"].get("berth.container") == record_id:
                container.update(status="exited", exit_code=exit_code, oom_killed=oom)
