"""The worker's side of the fleet: `converge` drives one container towards its desired state through
its host's agent, and `reconcile_host` repairs records from what a host reports.

Both are idempotent and keep all state in the database, so any worker may run them, any number of
times. The Celery tasks in `tasks` call them; the services that record what is wanted sit above.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.fleet.agent_client import AgentClient, AgentFailure, HostUnreachable
from portal.fleet.models import Container, ContainerStatus, DesiredState, Host
from portal.utilities import encryption
from portal.webhooks import services as webhooks

log = logging.getLogger("berth.fleet")
CONTAINER_LABEL = "berth.container"



def _acquire(container_id: str) -> bool:
    now = timezone.now()
    return bool(
        Container.objects.filter(pk=container_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + timedelta(seconds=settings.FLEET_LEASE_SECONDS))
    )


def _renew(container_id: str) -> None:
    Container.objects.filter(pk=container_id).update(
        lease_until=timezone.now() + timedelta(seconds=settings.FLEET_LEASE_SECONDS)
    )


def _set(container: Container, **fields: Any) -> None:
    with transaction.atomic():
        webhooks.container_changed(container, fields)
        for key, value in fields.items():
            setattr(container, key, value)
        Container.objects.filter(pk=container.pk).update(**fields, updated_at=timezone.now())


def _fail(container: Container, code: str, message: str) -> None:
    _set(container, status=ContainerStatus.FAILED, error_code=code, error=message)


def _registry() -> str:
    from urllib.parse import urlsplit

    return settings.FLEET_REGISTRY or urlsplit(settings.EXTERNAL_URL).netloc


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def observed_fields(container: Container, actual: dict[str, Any]) -> dict[str, Any]:
    """What the record should say, given the agent's summary of the container."""
    status = actual["status"]
    fields: dict[str, Any] = {
        "agent_id": actual["id"], "exit_code": actual.get("exit_code"), "oom_killed": bool(actual.get("oom_killed")),
        "health": actual.get("health") or "",
        "started_at": _parse_time(actual.get("started_at", "")), "finished_at": _parse_time(actual.get("finished_at", "")),
    }  # fmt: skip
    if status == "running":
        fields.update(status=ContainerStatus.RUNNING, error="", error_code="")
    elif status == "restarting":
        fields.update(status=ContainerStatus.RESTARTING)
    elif status == "created":
        fields.update(status=ContainerStatus.CREATING)
    elif actual.get("oom_killed"):
        fields.update(status=ContainerStatus.FAILED, error_code="out_of_memory",
                      error=f"out of memory: the kernel killed the container (exit code {actual.get('exit_code')})")
    elif container.desired_state == DesiredState.STOPPED or actual.get("exit_code") == 0:
        fields.update(status=ContainerStatus.EXITED, error="", error_code="")
    else:
        fields.update(status=ContainerStatus.FAILED, error_code="exited",
                      error=actual.get("error") or f"the container exited with code {actual.get('exit_code')}")
    return fields


def apply_observed(host: Host, observed: list[dict[str, Any]], reported_at: float | None = None) -> list[str]:
    """Repairs the host's records from its full list of containers; returns the agent ids of orphans.

    A record a worker holds is left alone: the worker is changing that container right now. So is
    one changed after the report was taken (a report in flight while a worker acted is stale). A
    record whose container the host no longer has is marked failed, unless it was never created.
    """
    by_record: dict[str, dict[str, Any]] = {}
    orphans = []
    for actual in observed:
        record_id = (actual.get("labels") or {}).get(CONTAINER_LABEL)
        if record_id:
            by_record[record_id] = actual
    now = timezone.now()
    records = {str(c.pk): c for c in Container.objects.filter(host=host)}
    for record_id, actual in by_record.items():
        if record_id not in records:
            orphans.append(actual["id"])
    for record_id, container in records.items():
        leased = container.lease_until is not None and container.lease_until > now
        stale = reported_at is not None and container.updated_at.timestamp() > reported_at
        if leased or stale:
            continue
        reported = by_record.get(record_id)
        if reported is not None:
            if reported["status"] == "created":
                continue  # only ever seen between a worker's create and start
            fields = observed_fields(container, reported)
            changed = {k: v for k, v in fields.items() if getattr(container, k) != v}
            if changed:
                _set(container, **changed)
        elif container.agent_id and container.error_code != "removed_on_host":
            _set(container, status=ContainerStatus.FAILED, error_code="removed_on_host",
                 error=f"the container is gone from host {host.name} (removed by hand?)")
    return orphans


def _find(client: AgentClient, container: Container) -> dict[str, Any] | None:
    for actual in client.containers(label=f"{CONTAINER_LABEL}={container.pk}"):
        if (actual.get("labels") or {}).get(CONTAINER_LABEL) == str(container.pk):
            return actual
    return None


def converge(container_id: str) -> str:
    """Moves one container towards its desired state; safe to run again at any point.

    Returns what it did. Raises HostUnreachable for the task to retry with backoff.
    """
    dequeued = time.time()
    if not _acquire(container_id):
        return "busy"
    try:
        for _ in range(5):
            container = Container.objects.select_related("host", "project").filter(pk=container_id).first()
            if container is None:
                return "gone"
            seen = (container.desired_state, container.restarts_requested)
            try:
                outcome = _converge_once(container, dequeued)
            except AgentFailure as exc:
                if isinstance(exc, HostUnreachable):
                    raise
                _set(container, error_code=exc.code, error=exc.message)
                outcome = "refused"
            latest = Container.objects.filter(pk=container_id).values_list("desired_state", "restarts_requested").first()
            # Requests that arrived while this worker held the lease found it busy: serve them now.
            if latest is None or tuple(latest) == seen:
                return outcome
        return outcome
    finally:
        Container.objects.filter(pk=container_id).update(lease_until=None)


def _converge_once(container: Container, dequeued: float) -> str:
    host = container.host
    if host is None:
        if container.desired_state == DesiredState.REMOVED:
            container.delete()
            return "removed"
        _fail(container, "host_removed", f"host {container.host_name} was removed from the fleet")
        return "failed"
    with AgentClient(host) as client:
        actual = _find(client, container)
        if container.desired_state == DesiredState.REMOVED:
            if actual is not None:
                try:
                    client.remove(actual["id"])
                except AgentFailure as exc:
                    if exc.status != 404:
                        raise
            container.delete()
            return "removed"
        if actual is None:
            if container.status not in (ContainerStatus.PENDING, ContainerStatus.PULLING, ContainerStatus.CREATING):
                if container.agent_id and container.error_code != "removed_on_host":
                    _fail(container, "removed_on_host", f"the container is gone from host {host.name} (removed by hand?)")
                return "missing"
            if container.desired_state == DesiredState.STOPPED:
                _set(container, status=ContainerStatus.EXITED, error="stopped before it was created", error_code="")
                return "never started"
            return _create(client, container, dequeued)
        if container.desired_state == DesiredState.STOPPED and actual["status"] in ("running", "restarting"):
            _set(container, status=ContainerStatus.STOPPING)
            actual = client.stop(actual["id"])
        elif container.desired_state == DesiredState.RUNNING and container.restarts_requested > container.restarts_applied:
            actual = client.restart(actual["id"])
            _set(container, restarts_applied=container.restarts_requested)
        elif container.desired_state == DesiredState.RUNNING and actual["status"] == "exited" and container.status == ContainerStatus.STOPPING:
            actual = client.start(actual["id"])
        _set(container, **observed_fields(container, actual))
        return container.status


def _create(client: AgentClient, container: Container, dequeued: float) -> str:
    from portal.fleet.registry_tokens import issue_pull_token

    timings = dict(container.timings)
    timings["dequeued"] = dequeued
    timings["task_started"] = time.time()
    _set(container, status=ContainerStatus.PULLING, attempts=container.attempts + 1, error="", error_code="",
         timings=timings, progress={})
    reference = f"{_registry()}/{container.repository}@{container.digest}"
    token = issue_pull_token(container.repository)
    layers: dict[str, tuple[int, int]] = {}
    last_write = 0.0
    image_id = None
    # Berth served over plain http (development, compose's internal network) serves /v2/ so too.
    insecure = settings.EXTERNAL_URL.startswith("http://")
    with client.stream("POST", "/v1/images/pull", {"reference": reference, "token": token, "insecure": insecure}) as events:
        for event in events:
            if event.get("status") == "pulling":
                layers[event["layer"]] = (event["done"], event["total"])
                if time.monotonic() - last_write > 0.5:
                    last_write = time.monotonic()
                    done, total = sum(d for d, _ in layers.values()), sum(t for _, t in layers.values())
                    _set(container, progress={"bytes_done": done, "bytes_total": total, "layers": len(layers)})
                    _renew(str(container.pk))
            elif event.get("status") == "pulled":
                image_id = event["id"]
            elif event.get("status") == "error":
                code = event.get("code", "pull_failed")
                message = event.get("message", "the pull failed")
                if code == "image_not_found":
                    message = f"image not found: {container.image} ({message})"
                _fail(container, code, message)
                return "failed"
    if image_id is None:
        _fail(container, "pull_failed", "the agent's pull ended without a result")
        return "failed"
    done, total = sum(d for d, _ in layers.values()), sum(t for _, t in layers.values())
    timings["pulled"] = time.time()
    _set(container, status=ContainerStatus.CREATING, progress={"bytes_done": done, "bytes_total": total,
                                                              "layers": len(layers)}, timings=timings)
    try:
        body = agent_create_body(container, image_id)
    except encryption.DecryptionError as exc:
        _fail(container, "secret_unreadable", f"the secret environment of {container.name} cannot be decrypted: {exc}")
        return "failed"
    try:
        actual = client.create(body)
        timings["created"] = time.time()
        actual = client.start(actual["id"])
        timings["started"] = time.time()
    except AgentFailure as exc:
        if isinstance(exc, HostUnreachable):
            raise
        _fail(container, exc.code, exc.message)
        return "failed"
    _set(container, timings=timings, **observed_fields(container, actual))
    return container.status


def agent_create_body(container: Container, image_id: str) -> dict[str, Any]:
    """The agent's create request: the spec, with the secret environment decrypted at this moment only.

    The body is sent and dropped; it must not be logged or kept (it holds the secrets in clear).
    """
    spec = container.spec
    decrypted = [f"{name}={encryption.decrypt(token)}" for name, token in (container.secret_env or {}).items()]
    body = {
        "image": image_id, "name": container.name,
        "labels": {CONTAINER_LABEL: str(container.pk), "berth.project": container.project.name,
                   "berth.image": container.image},
        "env": [*(spec.get("env") or []), *decrypted], "ports": spec.get("ports") or [],
        "volumes": spec.get("volumes") or [], "restart": spec.get("restart") or "no", "start": False,
        # The agent keys the container's name and named volumes by project; host binds it takes only
        # while the project allows them now, not merely when the deployment was recorded.
        "project": container.project.name, "allow_host_binds": container.project.allow_host_binds,
    }  # fmt: skip
    for key in ("command", "memory", "cpus", "pids_limit", "healthcheck"):
        if spec.get(key) is not None:
            body[key] = spec[key]
    return body


def reconcile_host(host: Host) -> dict[str, int]:
    """Compares a host's containers with the records: repairs records, removes orphans, re-drives work."""
    with AgentClient(host) as client:
        asked_at = time.time()
        observed = client.containers()
        orphans = apply_observed(host, observed, reported_at=asked_at)
        for agent_id in orphans:
            try:
                client.remove(agent_id)
            except AgentFailure as exc:
                log.warning("could not remove orphan %s on %s: %s", agent_id, host.name, exc.message)
    return {"observed": len(observed), "orphans_removed": len(orphans)}


def stalled_containers(reachable_hosts: list[Any]) -> list[str]:
    """Records a worker should act on but none holds: lost tasks, killed workers, missed requests.

    Only on `reachable_hosts`, and records whose host was removed (their removal needs no host).
    """
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    quiet = Q(updated_at__lt=now - timedelta(seconds=2))
    pending = Q(status__in=(ContainerStatus.PENDING, ContainerStatus.PULLING, ContainerStatus.CREATING,
                            ContainerStatus.STOPPING), desired_state=DesiredState.RUNNING)
    wanted = Q(desired_state=DesiredState.REMOVED) | Q(desired_state=DesiredState.STOPPED,
                                                      status__in=(ContainerStatus.RUNNING, ContainerStatus.STOPPING,
                                                                  ContainerStatus.RESTARTING))
    restart = Q(desired_state=DesiredState.RUNNING, restarts_requested__gt=F("restarts_applied"))
    where = Q(host__in=reachable_hosts) | Q(host__isnull=True, desired_state=DesiredState.REMOVED)
    stuck = Container.objects.filter(where & free & quiet & (pending | wanted | restart))
    return [str(pk) for pk in stuck.values_list("pk", flat=True)]
