"""The agent's HTTP API: the runtime over signed requests, with JSON errors and streamed NDJSON.

Routes are a table of (method, path pattern, handler). Every route but `/health` needs a request
signed by the portal the agent joined (see `signing`). Handlers return a JSON-able value, or an
iterator of JSON-able events that is streamed as NDJSON with chunked transfer encoding (pull
progress, followed logs). A threaded stdlib server suits the runtime, whose calls block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from runtime_agent.agent import credential as credentials
from runtime_agent.agent.facts import host_facts
from runtime_agent.agent.pull import pull_with_token
from runtime_agent.agent.signing import DEFAULT_WINDOW_SECONDS, NonceCache, SignatureError, verify
from runtime_agent.container.spec import (
    HealthOptions,
    MountSpec,
    RestartPolicy,
    RunOptions,
    parse_memory,
    parse_port,
    parse_restart,
    parse_tmpfs,
    parse_volume,
)
from runtime_agent.container.state import Container, Status
from runtime_agent.errors import Conflict, InvalidSpec, NotFound, RuntimeAgentError, StartFailed
from runtime_agent.images import ImageError, ImageNotFound, InvalidReference
from runtime_agent.images.errors import AuthenticationFailed, ImageInUse, RegistryError
from runtime_agent.isolation.network import PortAllocated, PortMapping, port_taken, published_ports
from runtime_agent.isolation.volumes import PROJECT_RE
from runtime_agent.kernel.cgroups import Resources
from runtime_agent.runtime.api import ImageLike, Runtime

log = logging.getLogger("berth.agent")

MAX_BODY = 1 << 20
LABEL_PREFIX = "berth."


class AgentError(Exception):
    """An answer other than success: HTTP status, stable code, and a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PortTaken(AgentError):
    def __init__(self, port: PortMapping) -> None:
        super().__init__(
            409,
            "port_taken",
            f"port {port.host_ip}:{port.host_port} is already allocated on this host",
        )


@dataclass
class Request:
    method: str
    path: str
    target: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise AgentError(
                400, "malformed_json", f"the request body is not JSON: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise AgentError(400, "malformed_json", "the request body must be a JSON object")
        return data

    def flag(self, name: str) -> bool:
        value = self.query.get(name, "").lower()
        if value in ("", "0", "false", "no"):
            return False
        if value in ("1", "true", "yes"):
            return True
        raise AgentError(
            400, "invalid", f"query parameter {name} must be true or false, not {value!r}"
        )

    def number(self, name: str, default: float | None) -> float | None:
        if name not in self.query:
            return default
        try:
            return float(self.query[name])
        except ValueError:
            raise AgentError(400, "invalid", f"query parameter {name} must be a number") from None


Handler = Callable[[Request], Any]


@dataclass
class Reply:
    status: int
    body: Any


def _checked(body: dict[str, Any], schema: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """Refuses unknown fields and wrong types with a message naming the field."""
    unknown = sorted(set(body) - set(schema))
    if unknown:
        raise AgentError(400, "invalid", f"unknown field(s): {', '.join(unknown)}")
    for name, kind in schema.items():
        if name in body and body[name] is not None and not isinstance(body[name], kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise AgentError(400, "invalid", f"field {name} must be {names}")
        if (
            name in body
            and isinstance(body[name], list)
            and not all(isinstance(item, str | dict) for item in body[name])
        ):
            raise AgentError(400, "invalid", f"field {name} must be a list of strings")
    return body


def _strings(body: dict[str, Any], name: str) -> list[str]:
    values = body.get(name) or []
    if not all(isinstance(v, str) for v in values):
        raise AgentError(400, "invalid", f"field {name} must be a list of strings")
    return list(values)


def _health_options(value: dict[str, Any] | None) -> HealthOptions:
    """``{"cmd": "curl -f localhost", "interval": 30, "timeout": 5, "retries": 3,
    "start_period": 0}`` (seconds), or ``{"disabled": true}``: the image's check otherwise."""
    if not value:
        return HealthOptions()
    _checked(
        value,
        {"cmd": str, "interval": (int, float), "timeout": (int, float), "retries": int,
         "start_period": (int, float), "disabled": bool},
    )  # fmt: skip
    return HealthOptions(
        cmd=value.get("cmd"),
        interval=value.get("interval"),
        timeout=value.get("timeout"),
        retries=value.get("retries"),
        start_period=value.get("start_period"),
        disabled=bool(value.get("disabled")),
    )


def container_summary(container: Container) -> dict[str, Any]:
    spec, state = container.spec, container.state
    return {
        "id": container.id,
        "name": spec.name,
        "image": spec.image,
        "image_id": spec.image_id,
        "labels": spec.labels,
        "status": str(state.status),
        "exit_code": state.exit_code,
        "oom_killed": state.oom_killed,
        "health": state.health_status,  # "" without a health check
        "error": state.error,
        "pid": state.pid,
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "restart_count": state.restart_count,
        "ports": [
            {
                "host_ip": p.host_ip,
                "host_port": p.host_port,
                "container_port": p.container_port,
                "protocol": p.protocol,
            }
            for p in spec.ports
        ],
        "ip_address": state.ip_address,
        "memory": spec.resources.memory,
        "cpus": spec.resources.cpus,
    }


class Agent:
    """The routes and the state they share: one runtime, the credential and the replay guard."""

    def __init__(self, runtime: Runtime, *, window_seconds: int = DEFAULT_WINDOW_SECONDS) -> None:
        self.runtime = runtime
        self.state_dir = Path(runtime.state_dir)
        self.window_seconds = window_seconds
        self.nonces = NonceCache(window_seconds)
        self._create_lock = threading.Lock()
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        route = self._route
        route("GET", r"/health", self.health, public=True)
        route("GET", r"/v1/info", self.info)
        route("GET", r"/v1/containers", self.list_containers)
        route("POST", r"/v1/containers", self.create_container)
        route("GET", r"/v1/containers/(?P<ref>[^/]+)", self.inspect_container)
        route("DELETE", r"/v1/containers/(?P<ref>[^/]+)", self.remove_container)
        route("POST", r"/v1/containers/(?P<ref>[^/]+)/start", self.start_container)
        route("POST", r"/v1/containers/(?P<ref>[^/]+)/stop", self.stop_container)
        route("POST", r"/v1/containers/(?P<ref>[^/]+)/restart", self.restart_container)
        route("POST", r"/v1/containers/(?P<ref>[^/]+)/kill", self.kill_container)
        route("GET", r"/v1/containers/(?P<ref>[^/]+)/logs", self.container_logs)
        route("POST", r"/v1/containers/(?P<ref>[^/]+)/exec", self.exec_in_container)
        route("GET", r"/v1/containers/(?P<ref>[^/]+)/stats", self.container_stats)
        route("GET", r"/v1/images", self.list_images)
        route("POST", r"/v1/images/pull", self.pull_image)
        route("DELETE", r"/v1/images", self.remove_image)
        route("GET", r"/v1/volumes", self.list_volumes)
        route("POST", r"/v1/volumes", self.create_volume)
        route("GET", r"/v1/volumes/(?P<name>(?:[^/]+/)?[^/]+)", self.inspect_volume)
        route("DELETE", r"/v1/volumes/(?P<name>(?:[^/]+/)?[^/]+)", self.remove_volume)

    def _route(self, method: str, pattern: str, handler: Handler, public: bool = False) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler, public))

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply:
        allowed = []
        for method, pattern, handler, public in self.routes:
            match = pattern.match(request.path)
            if not match:
                continue
            allowed.append(method)
            if method != request.method:
                continue
            request.params = match.groupdict()
            if not public:
                self.authenticate(request)
            result = handler(request)
            return result if isinstance(result, Reply) else Reply(200, result)
        if allowed:
            raise AgentError(
                405, "method_not_allowed", f"{request.method} is not allowed on {request.path}"
            )
        raise AgentError(404, "not_found", f"no route {request.method} {request.path}")

    def authenticate(self, request: Request) -> None:
        credential = credentials.load(self.state_dir)
        if credential is None:
            raise AgentError(503, "not_joined", "this agent has not joined a portal yet")
        try:
            signed = verify(
                request.headers.get("authorization"),
                credential.portal_key,
                audience=credential.host_id,
                method=request.method,
                target=request.target,
                body=request.body,
                window_seconds=self.window_seconds,
            )
            self.nonces.check(signed)
        except SignatureError as exc:
            raise AgentError(401, exc.code, str(exc)) from None

    # -- host ----------------------------------------------------------------------------------

    def health(self, request: Request) -> Any:
        return {"status": "ok"}

    def facts(self) -> dict[str, Any]:
        containers = self.runtime.list(all=True)
        running = sum(1 for c in containers if c.state.status == Status.RUNNING)
        return host_facts(self.state_dir, running, len(containers))

    def info(self, request: Request) -> Any:
        return self.facts()

    # -- containers ----------------------------------------------------------------------------

    def list_containers(self, request: Request) -> Any:
        """`?all=true` includes stopped ones; `?label=k=v` keeps those carrying that label."""
        key, _, value = request.query.get("label", "").partition("=")
        if not key:
            return [container_summary(c) for c in self.runtime.list(all=request.flag("all"))]
        # Only the containers carrying the label are checked against their supervisors.
        found = []
        for directory in self.runtime.containers_dir.iterdir():
            container = Container(directory)
            try:
                if container.spec.labels.get(key) != value:
                    continue
                state = self.runtime.reconcile(container)
            except (FileNotFoundError, NotADirectoryError, ValueError):
                continue  # being created or removed right now
            if request.flag("all") or state.running:
                found.append(container_summary(container))
        return found

    def inspect_container(self, request: Request) -> Any:
        container = self.runtime.get(request.params["ref"])
        return {**container_summary(container), "inspect": self.runtime.inspect(container)}

    def create_container(self, request: Request) -> Any:
        body = _checked(
            request.json(),
            {
                "image": str, "name": str, "command": list, "entrypoint": list, "env": list,
                "labels": dict, "ports": list, "volumes": list, "tmpfs": list, "network": str,
                "memory": (int, str), "cpus": (int, float), "pids_limit": int, "restart": str,
                "workdir": str, "user": str, "hostname": str, "start": bool, "healthcheck": dict,
                "project": str, "allow_host_binds": bool,
            },
        )  # fmt: skip
        if not body.get("image"):
            raise AgentError(400, "invalid", "field image is required")
        options = self._run_options(body)
        if body.get("project") is not None:
            options = _owned_by(body["project"], options, bool(body.get("allow_host_binds")))
        with self._create_lock:
            published = published_ports()
            for port in options.ports:
                if port_taken(port, published):
                    raise PortTaken(port)
            try:
                image = self.runtime.images.get(body["image"])
            except ImageNotFound:
                raise AgentError(
                    404,
                    "image_not_found",
                    f"image {body['image']} is not on this host; pull it first",
                ) from None
            # A frozen Image satisfies the runtime's protocol in everything but mypy's eyes.
            container = self.runtime.create(cast(ImageLike, image), options)
        if body.get("start", True):
            try:
                self.runtime.start(container)
            except StartFailed:
                with contextlib.suppress(RuntimeAgentError):
                    self.runtime.remove(container, force=True)
                raise
        return Reply(201, container_summary(container))

    def _run_options(self, body: dict[str, Any]) -> RunOptions:
        labels = body.get("labels") or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise AgentError(400, "invalid", "field labels must map strings to strings")
        ports: list[PortMapping] = []
        for port in body.get("ports") or []:
            if isinstance(port, str):
                ports.append(parse_port(port))
            elif isinstance(port, dict):
                try:
                    ports.append(
                        PortMapping(
                            int(port["container_port"]),
                            int(port.get("host_port") or port["container_port"]),
                            str(port.get("host_ip") or "0.0.0.0"),
                            str(port.get("protocol") or "tcp"),
                        )
                    )
                except (KeyError, ValueError, TypeError):
                    raise AgentError(400, "invalid", f"invalid port mapping {port!r}") from None
        mounts: list[MountSpec] = [parse_volume(v) for v in _strings(body, "volumes")]
        mounts += [parse_tmpfs(t) for t in _strings(body, "tmpfs")]
        memory = body.get("memory")
        restart = body.get("restart")
        return RunOptions(
            name=body.get("name"),
            command=_strings(body, "command") or None,
            entrypoint=_strings(body, "entrypoint") if body.get("entrypoint") is not None else None,
            env=_strings(body, "env"),
            workdir=body.get("workdir"),
            user=body.get("user"),
            hostname=body.get("hostname"),
            labels=dict(labels),
            mounts=mounts,
            ports=ports,
            network=body.get("network") or "bridge",
            resources=Resources(
                memory=parse_memory(memory) if isinstance(memory, str) else memory,
                cpus=float(body["cpus"]) if body.get("cpus") is not None else None,
                pids_limit=body.get("pids_limit"),
            ),
            restart=parse_restart(restart) if restart else RestartPolicy(),
            health=_health_options(body.get("healthcheck")),
        )

    def start_container(self, request: Request) -> Any:
        return container_summary(self.runtime.start(request.params["ref"]))

    def stop_container(self, request: Request) -> Any:
        container = self.runtime.get(request.params["ref"])
        self.runtime.stop(container, request.number("timeout", 10.0) or 0.0)
        return container_summary(container)

    def restart_container(self, request: Request) -> Any:
        container = self.runtime.get(request.params["ref"])
        self.runtime.restart(container, request.number("timeout", 10.0) or 0.0)
        return container_summary(container)

    def kill_container(self, request: Request) -> Any:
        import signal

        name = request.query.get("signal", "KILL").upper()
        try:
            sig = (
                int(name)
                if name.isdigit()
                else signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
            )
        except KeyError:
            raise AgentError(400, "invalid", f"unknown signal {name}") from None
        container = self.runtime.get(request.params["ref"])
        self.runtime.kill(container, sig)
        return container_summary(container)

    def remove_container(self, request: Request) -> Any:
        self.runtime.remove(request.params["ref"], force=request.flag("force"))
        return Reply(204, None)

    def container_logs(self, request: Request) -> Any:
        container = self.runtime.get(request.params["ref"])
        tail = request.number("tail", None)
        entries = self.runtime.logs(
            container, follow=request.flag("follow"), tail=int(tail) if tail is not None else None
        )
        return (
            {"time": e.time, "stream": e.stream, "data": e.data.decode("utf-8", "replace")}
            for e in entries
        )

    def exec_in_container(self, request: Request) -> Any:
        body = _checked(request.json(), {"command": list, "env": list, "user": str, "workdir": str})
        command = _strings(body, "command")
        if not command:
            raise AgentError(
                400, "invalid", "field command is required: the program and its arguments"
            )
        result = self.runtime.exec(
            request.params["ref"], command, env=_strings(body, "env"), user=body.get("user"),
            workdir=body.get("workdir"),
        )  # fmt: skip
        return {
            "exit_code": result.exit_code,
            "stdout": result.stdout.decode("utf-8", "replace"),
            "stderr": result.stderr.decode("utf-8", "replace"),
        }

    def container_stats(self, request: Request) -> Any:
        return self.runtime.stats(request.params["ref"])

    # -- images ----------------------------------------------------------------------------------

    def list_images(self, request: Request) -> Any:
        return [
            {
                "id": image.id, "digest": image.digest, "repo_tags": image.repo_tags,
                "repo_digests": image.repo_digests, "size": image.size, "created": image.created,
                "platform": image.platform,
            }
            for image in self.runtime.images.list()
        ]  # fmt: skip

    def pull_image(self, request: Request) -> Any:
        """Streams progress events while the pull runs; the last event says how it ended."""
        body = _checked(request.json(), {"reference": str, "token": str, "insecure": bool})
        reference = body.get("reference")
        if not reference:
            raise AgentError(400, "invalid", "field reference is required")
        if "@sha256:" in reference:
            # Content named by digest cannot change: an image already stored under it is the answer.
            try:
                image = self.runtime.images.get(reference)
                return iter(
                    [
                        {
                            "status": "pulled",
                            "id": image.id,
                            "digest": image.digest,
                            "size": image.size,
                        }
                    ]
                )
            except ImageError:
                pass
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        abandoned = threading.Event()
        last_sent: dict[str, float] = {}

        def progress(layer: str, done: int, total: int) -> None:
            if abandoned.is_set():
                raise ImageError("the client that asked for this pull went away")
            now = time.monotonic()
            # A few events a second per layer is enough to draw a progress bar.
            if done < total and now - last_sent.get(layer, 0.0) < 0.2:
                return
            last_sent[layer] = now
            events.put({"status": "pulling", "layer": layer, "done": done, "total": total})

        def work() -> None:
            try:
                image = pull_with_token(
                    self.runtime.images, reference, body.get("token"), progress=progress,
                    insecure=bool(body.get("insecure")),
                )  # fmt: skip
                events.put(
                    {"status": "pulled", "id": image.id, "digest": image.digest, "size": image.size}
                )
            except Exception as exc:  # noqa: BLE001 - every failure becomes the stream's last event
                code, message = _image_error(exc)
                events.put({"status": "error", "code": code, "message": message})
            finally:
                events.put(None)

        threading.Thread(target=work, name=f"pull {reference}", daemon=True).start()

        def stream() -> Iterator[dict[str, Any]]:
            try:
                while (event := events.get()) is not None:
                    yield event
            finally:
                abandoned.set()

        return stream()

    def remove_image(self, request: Request) -> Any:
        reference = request.query.get("reference")
        if not reference:
            raise AgentError(400, "invalid", "query parameter reference is required")
        return {"done": self.runtime.images.remove(reference, force=request.flag("force"))}

    # -- volumes ----------------------------------------------------------------------------------

    def list_volumes(self, request: Request) -> Any:
        """`?project=p` keeps that project's volumes."""
        return [v.inspect() for v in self.runtime.volumes.list(request.query.get("project"))]

    def create_volume(self, request: Request) -> Any:
        body = _checked(request.json(), {"name": str, "labels": dict, "project": str})
        volume = self.runtime.volumes.create(
            body.get("name"), body.get("labels"), project=body.get("project") or ""
        )
        return Reply(201, volume.inspect())

    def inspect_volume(self, request: Request) -> Any:
        return self.runtime.volumes.get(request.params["name"]).inspect()

    def remove_volume(self, request: Request) -> Any:
        self.runtime.volumes.remove(request.params["name"], force=request.flag("force"))
        return Reply(204, None)


def _owned_by(project: str, options: RunOptions, allow_host_binds: bool) -> RunOptions:
    """The options of a project's container: its name and named volumes are the project's own on this
    host, so another project's container of the same name or volume name never meets them."""
    if not PROJECT_RE.match(project):
        raise AgentError(400, "invalid", f"field project must be a project name, not {project!r}")
    mounts = []
    for mount in options.mounts:
        if mount.type == "bind" and not allow_host_binds:
            raise AgentError(
                403, "bind_mount_refused",
                f"project {project} may not bind host paths: {mount.source}",
            )  # fmt: skip
        if mount.type == "volume":
            if "/" in mount.source:
                raise AgentError(400, "invalid", f"invalid volume name {mount.source!r}")
            # "project/" alone: an anonymous volume, the project's too.
            mount = dataclasses.replace(mount, source=f"{project}/{mount.source}")
        mounts.append(mount)
    # The first "__" ends the project's part: project names never hold one.
    name = f"{project}__{options.name}" if options.name else None
    return dataclasses.replace(options, name=name, mounts=mounts)


def _image_error(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ImageNotFound):
        return "image_not_found", f"image not found: {exc}"
    if isinstance(exc, AuthenticationFailed):
        return "registry_unauthorized", str(exc)
    if isinstance(exc, RegistryError) and any(
        code in str(exc) for code in ("MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN")
    ):
        return "image_not_found", str(exc)
    if isinstance(exc, RegistryError):
        return "registry_error", str(exc)
    if isinstance(exc, InvalidReference):
        return "invalid_reference", str(exc)
    if isinstance(exc, ImageError):
        return getattr(exc, "code", "image_error"), str(exc)
    log.exception("pull failed")
    return "internal_error", f"{type(exc).__name__}: {exc}"


def error_for(exc: Exception) -> AgentError:
    """The one mapping from runtime and image errors to HTTP statuses and codes."""
    if isinstance(exc, AgentError):
        return exc
    if isinstance(exc, PortAllocated):  # taken between the check and the create
        return PortTaken(exc.port)
    if isinstance(exc, RuntimeAgentError):
        status = (
            404
            if isinstance(exc, NotFound)
            else 409
            if isinstance(exc, Conflict)
            else 400
            if isinstance(exc, InvalidSpec)
            else 500
        )
        if isinstance(exc, StartFailed):
            status = 422
        return AgentError(status, exc.code, exc.message)
    if isinstance(exc, ImageInUse):
        return AgentError(409, exc.code, str(exc))
    if isinstance(exc, ImageNotFound):
        return AgentError(404, "image_not_found", str(exc))
    if isinstance(exc, ImageError):
        return AgentError(
            400 if isinstance(exc, InvalidReference) else 502,
            getattr(exc, "code", "image_error"),
            str(exc),
        )
    if isinstance(exc, TimeoutError):
        return AgentError(504, "timeout", str(exc))
    log.exception("unexpected error")
    return AgentError(500, "internal_error", f"{type(exc).__name__}: {exc}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AgentServer
    _status: int | str = "-"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self._status = code

    def _serve(self) -> None:
        started = time.monotonic()
        self._status = "-"
        try:
            if self.command == "GET":
                self._answer()
            else:
                with self.server.change():
                    self._answer()
        finally:
            log.info(
                "%s %s %s %.3f s",
                self.command,
                self.path.split("?")[0],
                self._status,
                time.monotonic() - started,
            )

    def _answer(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if "chunked" in headers.get("transfer-encoding", ""):
                raise AgentError(
                    411, "length_required", "send request bodies with a Content-Length"
                )
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError:
                raise AgentError(400, "invalid", "Content-Length is not a number") from None
            if length > MAX_BODY:
                raise AgentError(
                    413, "too_large", f"request bodies are limited to {MAX_BODY} bytes"
                )
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, split.path, self.path, query, headers, body)
            reply = self.server.agent.dispatch(request)
        except Exception as exc:  # noqa: BLE001 - every failure is answered as JSON
            error = error_for(exc)
            self._json(error.status, {"error": {"code": error.code, "message": error.message}})
            return
        if isinstance(reply.body, Iterator):
            self._stream(reply.status, reply.body)
        else:
            self._json(reply.status, reply.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def _json(self, status: int, body: Any) -> None:
        data = b"" if status == 204 else json.dumps(body).encode()
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, status: int, events: Iterator[Any]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            try:
                for event in events:
                    line = json.dumps(event).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            except Exception as exc:  # noqa: BLE001 - headers are gone: the error is the last line
                error = error_for(exc)
                line = (
                    json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
                    + b"\n"
                )
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()


class AgentServer(ThreadingHTTPServer):
    """Handler threads are daemons, so a followed log never holds up a stop; requests that change
    something are counted instead, and `drain` lets them finish first."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], agent: Agent) -> None:
        self.agent = agent
        self.changing = 0
        self.changing_lock = threading.Condition()
        super().__init__(address, _Handler)

    @contextlib.contextmanager
    def change(self) -> Iterator[None]:
        with self.changing_lock:
            self.changing += 1
        try:
            yield
        finally:
            with self.changing_lock:
                self.changing -= 1
                self.changing_lock.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Waits for requests that change containers, images or volumes; False if some outlast `timeout`."""
        with self.changing_lock:
            return self.changing_lock.wait_for(lambda: self.changing == 0, timeout)


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen takes HOST:PORT, not {listen!r}")
    return host.strip("[]"), int(port)
