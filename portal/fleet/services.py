"""Writes to the fleet: join tokens, hosts, deployments and their operations, each checked and audited.

What a worker then does about them (driving containers through their hosts' agents) is in `convergence`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit.services import record
from portal.fleet.agent_client import AgentClient, AgentFailure, HostUnreachable
from portal.fleet.convergence import apply_observed
from portal.fleet.keys import portal_public_key
from portal.fleet.models import (
    ACTIVE_STATUSES,
    Container,
    ContainerStatus,
    DesiredState,
    Host,
    HostStatus,
    JoinToken,
)
from portal.fleet.tasks import converge_container
from portal.projects.models import Project
from portal.rbac.principals import Principal, Resource, require
from portal.rbac.roles import Action, ProjectResource, SystemResource
from portal.utilities import encryption
from portal.utilities.errors import BerthError, Conflict, Forbidden, InvalidInput, NotFound
from portal.utilities.secrets import display_prefix, hash_secret, new_secret
from portal.webhooks import services as webhooks
from runtime_agent.agent.signing import SignatureError, load_public_key, verify

if TYPE_CHECKING:
    from portal.artifacts.models import Artifact

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
HOST_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
LABEL_KEY_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_./-]{0,62}$")
RESTART_PATTERN = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$")


class Unauthenticated(BerthError):
    code = "unauthorized"
    status_code = 401


class HostUnavailable(BerthError):
    code = "host_unreachable"
    status_code = 503


class AgentRefused(BerthError):
    """The agent refused an operation: its status and words are passed on."""

    def __init__(self, failure: AgentFailure) -> None:
        super().__init__(failure.message, code=failure.code)
        self.status_code = failure.status if failure.status in (400, 404, 409, 422) else 502


def _host_resource() -> Resource:
    return Resource.system(SystemResource.HOST)


def validate_labels(labels: Any, field: str = "labels") -> dict[str, str]:
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise InvalidInput(f"{field} must map names to string values", detail={field: ["an object of strings"]})
    for key in labels:
        if not LABEL_KEY_PATTERN.match(key):
            raise InvalidInput(f"invalid label name {key!r}", detail={field: [f"invalid label name {key!r}"]})
    return dict(labels)


# -- join tokens ----------------------------------------------------------------------------------


def create_join_token(
    actor: Principal, *, description: str = "", expires_in_hours: int = 24, max_uses: int | None = 1,
    labels: dict[str, str] | None = None, source_ip: str | None = None,
) -> tuple[JoinToken, str]:  # fmt: skip
    """A new join token and its secret, which is shown this once and stored only as a hash."""
    require(actor, Action.CREATE, _host_resource())
    if not 1 <= expires_in_hours <= settings.FLEET_JOIN_TOKEN_MAX_HOURS:
        raise InvalidInput(
            f"a join token lasts 1 to {settings.FLEET_JOIN_TOKEN_MAX_HOURS} hours",
            detail={"expires_in_hours": [f"1 to {settings.FLEET_JOIN_TOKEN_MAX_HOURS}"]},
        )
    if max_uses is not None and max_uses < 1:
        raise InvalidInput("max_uses must be at least 1, or null for any number of hosts", detail={"max_uses": ["≥ 1 or null"]})
    secret = new_secret("berth_join")
    with transaction.atomic():
        token = JoinToken.objects.create(
            description=description, prefix=display_prefix(secret), secret_hash=hash_secret(secret),
            created_by=actor.audit_name, expires_at=_join_token_expiry(actor, expires_in_hours),
            max_uses=max_uses, labels=validate_labels(labels or {}),
        )  # fmt: skip
        record(actor, "create", "join_token", token.prefix, source_ip=source_ip,
               detail={"max_uses": max_uses, "expires_at": token.expires_at.isoformat()})
    return token, secret


def _join_token_expiry(actor: Principal, hours: int) -> datetime:
    """Hours from now, but never past the acting token's own expiry."""
    expires_at = timezone.now() + timedelta(hours=hours)
    deadline = actor.credentials_deadline
    return min(expires_at, deadline) if deadline is not None else expires_at


def revoke_join_token(actor: Principal, token: JoinToken, source_ip: str | None = None) -> None:
    require(actor, Action.DELETE, _host_resource())
    with transaction.atomic():
        JoinToken.objects.filter(pk=token.pk).update(revoked=True)
        record(actor, "delete", "join_token", token.prefix, source_ip=source_ip)


# -- hosts -------------------------------------------------------------------------------------------


def join_host(
    secret: str, *, name: str, labels: dict[str, str], address: str, facts: dict[str, Any], public_key: str,
    source_ip: str | None = None,
) -> Host:  # fmt: skip
    """Registers a host with a join token; the token's use is counted in the same transaction."""
    if not HOST_NAME_PATTERN.match(name):
        raise InvalidInput(f"invalid host name {name!r}: letters, digits, '_', '.', '-'", detail={"name": ["invalid"]})
    if not re.match(r"^https?://[^/\s]+/?$", address):
        raise InvalidInput(f"invalid agent address {address!r}: use http(s)://HOST:PORT", detail={"address": ["invalid"]})
    try:
        load_public_key(public_key)
    except SignatureError:
        raise InvalidInput("public_key is not an Ed25519 public key", detail={"public_key": ["invalid"]}) from None
    labels = validate_labels(labels)
    with transaction.atomic():
        token = JoinToken.objects.select_for_update().filter(secret_hash=hash_secret(secret)).first()
        if token is None or not token.usable():
            reason = "unknown" if token is None else "revoked" if token.revoked else "expired" if token.expires_at <= timezone.now() else "used up"
            record(None, "join", "host", name, outcome="failure", source_ip=source_ip, detail={"reason": reason})
            raise Unauthenticated(f"the join token is invalid, expired or used up ({reason})", code="invalid_join_token")
        token.use_count += 1
        token.save(update_fields=["use_count"])
        try:
            with transaction.atomic():
                host = Host.objects.create(
                    name=name, labels={**token.labels, **labels}, address=address.rstrip("/"),
                    public_key=public_key, facts=facts if isinstance(facts, dict) else {}, joined_with=token,
                )  # fmt: skip
        except IntegrityError:
            raise Conflict(f"a host named {name!r} has already joined", code="host_exists") from None
        record(None, "join", "host", name, source_ip=source_ip, actor_name=f"join token {token.prefix}",
               detail={"address": host.address, "labels": host.labels})
    return host


def join_answer(host: Host) -> dict[str, Any]:
    return {
        "id": str(host.id), "name": host.name, "portal_public_key": portal_public_key(),
        "heartbeat_seconds": settings.FLEET_HEARTBEAT_SECONDS,
    }  # fmt: skip


def accept_heartbeat(header: str | None, path: str, body: bytes) -> Host:
    """Checks the agent's signature and that it is newer than the last accepted, then records the beat."""
    try:
        key_id = header.split("key=", 1)[1].split(",", 1)[0] if header and "key=" in header else ""
        host = Host.objects.filter(pk=key_id).first() if re.fullmatch(r"[0-9a-f-]{36}", key_id) else None
        if host is None:
            raise SignatureError("unknown host credential: the host was removed or never joined")
        signed = verify(header, load_public_key(host.public_key), audience="portal", method="POST", target=path, body=body)
    except SignatureError as exc:
        raise Unauthenticated(str(exc), code="invalid_signature") from None
    try:
        import json

        report = json.loads(body)
        facts, observed = report.get("facts") or {}, report.get("containers") or []
        if not isinstance(facts, dict) or not isinstance(observed, list):
            raise ValueError
    except (ValueError, AttributeError):
        raise InvalidInput("a heartbeat is {\"facts\": {…}, \"containers\": […]}") from None
    # The conditional update is the replay check every portal process shares: only a newer
    # signature moves the mark, so a captured heartbeat sent again changes nothing.
    accepted = Host.objects.filter(pk=host.pk, last_signature_ts__lt=signed.ts).update(
        last_signature_ts=signed.ts, last_heartbeat_at=timezone.now(), facts=facts
    )
    if not accepted:
        raise Unauthenticated("signature replayed: not newer than the last heartbeat", code="invalid_signature")
    host.refresh_from_db()
    reported_at = report.get("reported_at")
    apply_observed(host, observed, reported_at=float(reported_at) if isinstance(reported_at, int | float) else None)
    return host


def host_with_status(name: str) -> Host:
    host = Host.objects.with_status().filter(name=name).first()
    if host is None:
        raise NotFound(f"host {name!r} not found", code="host_not_found")
    return host


def update_host(actor: Principal, host: Host, *, labels: dict[str, str] | None = None, draining: bool | None = None,
                source_ip: str | None = None) -> Host:
    require(actor, Action.UPDATE, _host_resource())
    changes: dict[str, Any] = {}
    if labels is not None:
        changes["labels"] = validate_labels(labels)
    if draining is not None:
        changes["draining"] = draining
    with transaction.atomic():
        Host.objects.filter(pk=host.pk).update(**changes)
        record(actor, "update", "host", host.name, source_ip=source_ip, detail=changes)
    return host_with_status(host.name)


def remove_host(actor: Principal, host: Host, *, force: bool = False, source_ip: str | None = None) -> None:
    """Forgets the host and its public key, which revokes its credential: its heartbeats fail from now on."""
    require(actor, Action.DELETE, _host_resource())
    with transaction.atomic():
        active = Container.objects.filter(host=host, status__in=ACTIVE_STATUSES)
        if active.exists() and not force:
            raise Conflict(
                f"host {host.name!r} still runs {active.count()} container(s); drain it and remove them, "
                "or remove the host with force=true",
                code="host_not_empty",
            )
        Container.objects.filter(host=host).exclude(status=ContainerStatus.FAILED).update(
            status=ContainerStatus.FAILED, error=f"host {host.name} was removed from the fleet",
            error_code="host_removed", desired_state=DesiredState.STOPPED,
        )  # fmt: skip
        record(actor, "delete", "host", host.name, source_ip=source_ip, detail={"force": force})
        host.delete()


def usage(hosts: list[Host]) -> dict[Any, dict[str, Any]]:
    """Per host: active containers, reserved memory and CPUs, and published host ports, in one query."""
    found: dict[Any, dict[str, Any]] = {
        host.pk: {"containers": 0, "memory_reserved": 0, "cpus_reserved": 0.0, "ports": set()} for host in hosts
    }
    rows = Container.objects.filter(host__in=hosts, status__in=ACTIVE_STATUSES).values_list(
        "host_id", "memory", "cpus", "spec"
    )
    for host_id, memory, cpus, spec in rows:
        entry = found[host_id]
        entry["containers"] += 1
        entry["memory_reserved"] += memory or 0
        entry["cpus_reserved"] += cpus or 0.0
        entry["ports"].update(_published(p) for p in (spec or {}).get("ports", []))
    return found


# -- deployments ---------------------------------------------------------------------------------------


def _parse_memory(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"(\d+)([kmg]?)b?", str(value).strip().lower())
        if not match:
            raise InvalidInput(f"invalid memory size {value!r}: bytes, or a number with k, m or g", detail={"memory": ["invalid"]})
        size = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]
    if size < 6 * 1024 * 1024:
        raise InvalidInput("the memory limit must be at least 6 MiB", detail={"memory": ["at least 6m"]})
    return size


def _published(port: dict[str, Any]) -> str:
    """A published port as the scheduler compares them: ``8080/tcp`` (records from before UDP have no protocol)."""
    return f"{port['host_port']}/{port.get('protocol', 'tcp')}"


def _parse_ports(values: list[Any]) -> list[dict[str, Any]]:
    ports = []
    for value in values:
        if isinstance(value, dict):
            raw = (value.get("host_ip") or "0.0.0.0", value.get("host_port"), value.get("container_port"))
            protocol = value.get("protocol") or "tcp"
        else:
            text, _, protocol = str(value).partition("/")
            protocol = protocol or "tcp"
            parts = text.split(":")
            if len(parts) == 2:
                parts = ["0.0.0.0", *parts]
            if len(parts) != 3:
                raise InvalidInput(f"invalid port {value!r}: use [HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp]", detail={"ports": ["invalid"]})
            raw = (parts[0], parts[1], parts[2])
        if protocol not in ("tcp", "udp"):
            raise InvalidInput(f"invalid port {value!r}: the protocol is tcp or udp", detail={"ports": ["invalid"]})
        try:
            host_ip, host_port, container_port = str(raw[0]), int(raw[1]), int(raw[2])  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInput(f"invalid port {value!r}: ports are numbers", detail={"ports": ["invalid"]}) from None
        if not (1 <= host_port <= 65535 and 1 <= container_port <= 65535):
            raise InvalidInput(f"invalid port {value!r}: 1 to 65535", detail={"ports": ["invalid"]})
        port = {"host_ip": host_ip, "host_port": host_port, "container_port": container_port}
        if protocol != "tcp":
            port["protocol"] = protocol  # tcp is implied, as in the records made before UDP
        ports.append(port)
    return ports


HEALTHCHECK_LIMITS = {"interval": (0.1, 86400.0), "timeout": (0.1, 3600.0), "start_period": (0.0, 86400.0)}


def _parse_healthcheck(value: dict[str, Any]) -> dict[str, Any]:
    """``{"cmd": "...", "interval": 30, "timeout": 5, "retries": 3, "start_period": 0}`` (seconds; all but cmd
    optional) or ``{"disabled": true}``, as the agent takes it: the image's HEALTHCHECK applies without one."""
    unknown = sorted(set(value) - {"cmd", "interval", "timeout", "retries", "start_period", "disabled"})
    if unknown:
        raise InvalidInput(f"unknown healthcheck field(s): {', '.join(unknown)}", detail={"healthcheck": ["invalid"]})
    if value.get("disabled") is True:
        return {"disabled": True}
    checked: dict[str, Any] = {}
    if "cmd" in value:
        if not isinstance(value["cmd"], str) or not value["cmd"].strip():
            raise InvalidInput("healthcheck cmd must be a non-empty shell command", detail={"healthcheck": ["cmd"]})
        checked["cmd"] = value["cmd"]
    for name, (low, high) in HEALTHCHECK_LIMITS.items():
        if name in value:
            number = value[name]
            if isinstance(number, bool) or not isinstance(number, int | float) or not low <= number <= high:
                raise InvalidInput(f"healthcheck {name} must be {low:g} to {high:g} seconds",
                                   detail={"healthcheck": [name]})
            checked[name] = number
    if "retries" in value:
        if isinstance(value["retries"], bool) or not isinstance(value["retries"], int) or not 1 <= value["retries"] <= 100:
            raise InvalidInput("healthcheck retries must be 1 to 100", detail={"healthcheck": ["retries"]})
        checked["retries"] = value["retries"]
    return checked


def _parse_volumes(project: Project, values: list[str]) -> list[str]:
    """Named volumes (the project's own on its host) and, where an administrator allowed it, host paths."""
    for value in values:
        source = value.split(":")[0]
        if source.startswith(("/", ".")) and ":" in value:
            if not project.allow_host_binds:
                # A bind mount of a host path would hand the host's files (and root) to whoever may deploy.
                raise Forbidden(f"bind mounts of host paths are not allowed in project {project.name}: {value!r}; "
                                "use a named volume, or ask an administrator to allow host binds for the project",
                                code="bind_mount_refused")
            if not re.fullmatch(r"/[^:]*:/[^:]*(:ro|:rw)?", value):
                raise InvalidInput(f"invalid bind {value!r}: /HOST_PATH:/PATH[:ro]", detail={"volumes": ["invalid"]})
        elif not re.fullmatch(r"([a-zA-Z0-9][a-zA-Z0-9_.-]+:)?/[^:]*(:ro|:rw)?", value):
            raise InvalidInput(f"invalid volume {value!r}: NAME:/PATH[:ro] or /PATH", detail={"volumes": ["invalid"]})
    return values


def _env_list(env: Any) -> list[str]:
    if isinstance(env, dict):
        return [f"{k}={v}" for k, v in env.items()]
    return [str(e) for e in env]


def _encrypt_secret_env(secret_env: dict[str, str], plain: list[str]) -> dict[str, str]:
    """name → ciphertext; a name may be plain or secret, not both (the agent would keep only one)."""
    plain_names = {entry.partition("=")[0] for entry in plain}
    for name, value in secret_env.items():
        if not ENV_NAME_PATTERN.match(name):
            raise InvalidInput(f"invalid variable name {name!r}: a letter or '_', then letters, digits, '_', '.', '-'",
                               detail={"secret_env": [f"invalid variable name {name!r}"]})
        if name in plain_names:
            raise InvalidInput(f"{name} is given both in env and in secret_env",
                               detail={"secret_env": [f"{name} is also in env"]})
        if not isinstance(value, str):
            raise InvalidInput(f"the value of secret {name} must be a string", detail={"secret_env": [name]})
    return {name: encryption.encrypt(value) for name, value in secret_env.items()}


def container_env(principal: Principal, container: Container) -> list[dict[str, Any]]:
    """The container's environment as `principal` may see it.

    Values are shown to those who may deploy in the project, as they could set them anyway; others
    see only the names. Secret values are shown to no one: they went to the agent, and stay encrypted here.
    """
    may_deploy = principal.can(Action.CREATE, Resource.of_project(container.project, ProjectResource.CONTAINER))
    shown = []
    for entry in (container.spec or {}).get("env") or []:
        name, _, value = str(entry).partition("=")
        shown.append({"name": name, "value": value if may_deploy else None, "secret": False})
    shown += [{"name": name, "value": None, "secret": True} for name in container.secret_env or {}]
    return shown


def container_volumes(container: Container) -> list[dict[str, Any]]:
    """The container's volumes and binds, each with its owner: a named or anonymous volume is its project's
    own on the host (the agent keys it so); a host path is the host's."""
    shown = []
    for entry in (container.spec or {}).get("volumes") or []:
        parts = str(entry).split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        readonly = len(parts) > 2 and parts[2] == "ro"
        bind = source.startswith(("/", "."))
        shown.append({
            "kind": "bind" if bind else "volume", "name": source, "target": target, "readonly": readonly,
            "owner": None if bind else container.project.name,
        })  # fmt: skip
    return shown


def choose_host(*, name: str | None, selector: dict[str, str] | None, memory: int | None, cpus: float | None,
                ports: list[dict[str, Any]]) -> Host:
    """The named host, or the least busy online host matching the selector with room for the limits.

    Called inside the deploy's transaction with the candidate rows locked, so two deploys at once
    see each other's reservations.
    """
    hosts = list(Host.objects.with_status().select_for_update(of=("self",)).order_by("name"))
    if name:
        hosts = [h for h in hosts if h.name == name]
        if not hosts:
            raise NotFound(f"host {name!r} not found", code="host_not_found")
    if selector:
        hosts = [h for h in hosts if all(h.labels.get(k) == v for k, v in selector.items())]
        if not hosts:
            raise Conflict(f"no host has the labels {selector}", code="no_host_available")
    reasons = []
    usage_by_host = usage(hosts)
    candidates = []
    for host in hosts:
        used = usage_by_host[host.pk]
        free_memory = host.memory_bytes - used["memory_reserved"]
        free_cpus = host.cpus - used["cpus_reserved"]
        if host.status == HostStatus.UNREACHABLE:  # type: ignore[attr-defined]
            reasons.append(f"{host.name} is unreachable")
        elif host.status == HostStatus.DRAINING:  # type: ignore[attr-defined]
            reasons.append(f"{host.name} is draining")
        elif memory and free_memory < memory:
            reasons.append(f"{host.name} has {free_memory // 2**20} MiB of memory free")
        elif cpus and free_cpus < cpus:
            reasons.append(f"{host.name} has {free_cpus:g} CPUs free")
        elif taken := sorted(used["ports"] & {_published(p) for p in ports}):
            reasons.append(f"{host.name} already publishes port {', '.join(map(str, taken))}")
        else:
            candidates.append((used["containers"], -free_memory, host.name, host))
    if not candidates:
        if name and len(reasons) == 1:
            code = "port_taken" if "publishes port" in reasons[0] else "host_unreachable" if "unreachable" in reasons[0] else "no_host_available"
            raise Conflict(f"cannot deploy on host {name}: {reasons[0].removeprefix(name + ' ')}", code=code)
        raise Conflict("no host can take this container: " + ("; ".join(reasons) or "the fleet has no hosts"),
                       code="no_host_available")
    return min(candidates)[3]


def deploy(
    actor: Principal, project: Project, *, repository: str, reference: str, name: str | None = None,
    host: str | None = None, selector: dict[str, str] | None = None, env: Any = (), command: list[str] | None = None,
    ports: Sequence[Any] = (), volumes: Sequence[str] = (), memory: Any = None, cpus: float | None = None,
    pids_limit: int | None = None, restart: str = "no", healthcheck: dict[str, Any] | None = None,
    secret_env: dict[str, str] | None = None, source_ip: str | None = None,
) -> Container:  # fmt: skip
    """Records a container to run an artifact of the project; a worker tells the host after commit.

    `secret_env` values are stored encrypted and leave the portal only in the agent's create request.
    """
    from portal.artifacts.services import repository_in, resolve_artifact

    require(actor, Action.CREATE, Resource.of_project(project, ProjectResource.CONTAINER))
    require(actor, Action.PULL, Resource.of_project(project, ProjectResource.REPOSITORY))
    repo = repository_in(project, repository)
    artifact = resolve_artifact(repo, reference)
    refuse_what_cannot_run(artifact)
    name = name or f"{repo.short_name.replace('/', '-')}-{str(time.time_ns())[-6:]}"
    if not NAME_PATTERN.match(name):
        raise InvalidInput(f"invalid container name {name!r}: letters, digits, '_', '.', '-'", detail={"name": ["invalid"]})
    if not RESTART_PATTERN.match(restart):
        raise InvalidInput(f"invalid restart policy {restart!r}: no, always, unless-stopped or on-failure[:N]",
                           detail={"restart": ["invalid"]})
    if cpus is not None and cpus <= 0:
        raise InvalidInput("cpus must be positive", detail={"cpus": ["positive"]})
    if pids_limit is not None and pids_limit < 1:
        raise InvalidInput("pids_limit must be at least 1", detail={"pids_limit": ["≥ 1"]})
    memory_bytes = _parse_memory(memory)
    parsed_ports = _parse_ports(list(ports))
    plain_env = _env_list(env)
    encrypted_env = _encrypt_secret_env(dict(secret_env or {}), plain_env)
    spec = {
        "command": list(command) if command else None, "env": plain_env, "ports": parsed_ports,
        "volumes": _parse_volumes(project, list(volumes)), "memory": memory_bytes, "cpus": cpus,
        "pids_limit": pids_limit, "restart": restart,
    }  # fmt: skip
    if healthcheck:
        spec["healthcheck"] = _parse_healthcheck(healthcheck)
    try:
        with transaction.atomic():
            chosen = choose_host(name=host, selector=selector, memory=memory_bytes, cpus=cpus, ports=parsed_ports)
            container = Container.objects.create(
                project=project, host=chosen, host_name=chosen.name, name=name, repository=repo.name,
                reference=reference, digest=artifact.digest, spec=spec, secret_env=encrypted_env, memory=memory_bytes,
                cpus=cpus, created_by=actor.audit_name, timings={"requested": time.time()},
            )  # fmt: skip
            # Names of secrets only: their values never reach the audit log.
            record(actor, "create", "container", f"{name}@{chosen.name}", project=project, source_ip=source_ip,
                   detail={"image": container.image, "reference": reference, "host": chosen.name,
                           "secret_env": sorted(encrypted_env)})
            webhooks.container_deployed(container)
            _enqueue_converge(container)
    except IntegrityError:
        raise Conflict(f"project {project.name} already has a container named {name!r} on that host",
                       code="container_exists") from None
    return container


def refuse_what_cannot_run(artifact: Artifact) -> None:
    """A Helm chart, a signature or an SBOM has no root filesystem or command: the agent would only fail later."""
    if not artifact.runnable:
        of_type = f" ({artifact.artifact_type})" if artifact.artifact_type else ""
        raise Conflict(
            f"artifact {artifact.digest} cannot run on a host: it is of kind {artifact.get_kind_display()}{of_type}, "
            "and only images and image indexes run",
            code="artifact_not_runnable",
        )


def _enqueue_converge(container: Container) -> None:
    converge_container.delay_on_commit(str(container.pk))


def _operate(actor: Principal, container: Container, action: Action, verb: str, source_ip: str | None,
             **changes: Any) -> Container:
    require(actor, action, Resource.of_project(container.project, ProjectResource.CONTAINER))
    with transaction.atomic():
        locked = Container.objects.select_for_update().get(pk=container.pk)
        for key, value in changes.items():
            setattr(locked, key, value(locked) if callable(value) else value)
        locked.save(update_fields=[*changes, "updated_at"])
        record(actor, verb, "container", f"{locked.name}@{locked.host_name}", project=locked.project,
               source_ip=source_ip)
        _enqueue_converge(locked)
    return locked


def stop_container(actor: Principal, container: Container, source_ip: str | None = None) -> Container:
    return _operate(actor, container, Action.UPDATE, "stop", source_ip, desired_state=DesiredState.STOPPED)


def restart_container(actor: Principal, container: Container, source_ip: str | None = None) -> Container:
    return _operate(actor, container, Action.UPDATE, "restart", source_ip, desired_state=DesiredState.RUNNING,
                    restarts_requested=lambda c: c.restarts_requested + 1)


def remove_container(actor: Principal, container: Container, source_ip: str | None = None) -> Container:
    return _operate(actor, container, Action.DELETE, "delete", source_ip, desired_state=DesiredState.REMOVED)


def _live(actor: Principal, container: Container, action: Action, verb: str, source_ip: str | None,
          detail: dict[str, Any] | None = None, wait_forever: bool = False) -> AgentClient:
    require(actor, action, Resource.of_project(container.project, ProjectResource.CONTAINER))
    if container.host is None or not container.agent_id:
        raise Conflict(f"container {container.name} has not been created on a host", code="container_not_created")
    record(actor, verb, "container", f"{container.name}@{container.host_name}", project=container.project,
           source_ip=source_ip, detail=detail)
    return AgentClient(container.host, wait_forever=wait_forever)


def _agent_call(call: Any) -> Any:
    try:
        return call()
    except HostUnreachable as exc:
        raise HostUnavailable(exc.message) from None
    except AgentFailure as exc:
        raise AgentRefused(exc) from None


def container_exec(actor: Principal, container: Container, command: list[str], *, env: Sequence[str] = (),
                   user: str | None = None, workdir: str | None = None, source_ip: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"command": command, "env": list(env)}
    if user:
        body["user"] = user
    if workdir:
        body["workdir"] = workdir
    with _live(actor, container, Action.UPDATE, "exec", source_ip, detail={"command": command}) as client:
        return _agent_call(lambda: client.exec(container.agent_id, body))


def container_stats(actor: Principal, container: Container, source_ip: str | None = None) -> dict[str, Any]:
    with _live(actor, container, Action.READ, "stats", source_ip) as client:
        return _agent_call(lambda: client.stats(container.agent_id))


def container_logs(actor: Principal, container: Container, *, follow: bool, tail: int | None,
                   source_ip: str | None = None) -> Iterator[dict[str, Any]]:
    """The host's log lines for the container, streamed as the agent sends them."""
    client = _live(actor, container, Action.READ, "logs", source_ip, detail={"follow": follow, "tail": tail},
                   wait_forever=follow)
    query = {"follow": "true" if follow else None, "tail": tail}
    stream = client.stream("GET", f"/v1/containers/{container.agent_id}/logs", query=query)
    events = _agent_call(stream.__enter__)

    def lines() -> Iterator[dict[str, Any]]:
        try:
            yield from events
        except HostUnreachable as exc:
            yield {"error": {"code": exc.code, "message": exc.message}}
        finally:
            stream.__exit__(None, None, None)
            client.close()

    return lines()


# -- where does it run ---------------------------------------------------------------------------------


def refuse_deleting_a_running_artifact(artifact: Any, force: bool) -> None:
    """The artifact index's delete guard: an artifact some container runs is kept unless forced."""
    digests = [artifact.digest, *artifact.child_links.values_list("child__digest", flat=True)]
    running = Container.objects.filter(repository=artifact.repository.name, digest__in=digests,
                                       status__in=ACTIVE_STATUSES)
    if running.exists() and not force:
        where = ", ".join(f"{c.name} on {c.host_name}" for c in running[:5])
        raise Conflict(
            f"artifact {artifact.digest} is running in {running.count()} container(s) ({where}); "
            "stop them first or delete with force=true",
            code="artifact_in_use",
        )


def containers_running_artifact(project: Project, repository: str, reference: str) -> Any:
    from portal.artifacts.services import repository_in, resolve_artifact

    repo = repository_in(project, repository)
    artifact = resolve_artifact(repo, reference)
    digests = [artifact.digest, *artifact.child_links.values_list("child__digest", flat=True)]
    return Container.objects.filter(project=project, repository=repo.name, digest__in=digests)
