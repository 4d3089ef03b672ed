"""Webhooks: events written in the transaction of the change they report (an outbox), the policies that
want them, and the sending of each delivery, in event order per policy, retried, by workers.

`emit` is what other services call. It writes nothing when no enabled policy wants the event, so an
event nobody listens to costs one small query.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.audit.services import record
from portal.projects.models import Project
from portal.rbac.principals import Principal, Resource, require
from portal.rbac.roles import Action, ProjectResource, SystemResource
from portal.utilities import encryption
from portal.utilities.errors import Conflict, InvalidInput, NotFound
from portal.webhooks import outbox, sender
from portal.webhooks.delivery import next_pending
from portal.webhooks.models import (
    PROJECT_EVENT_TYPES,
    EventType,
    PayloadFormat,
    WebhookDelivery,
    WebhookEvent,
    WebhookPolicy,
)
from portal.webhooks.tasks import deliver_event, deliver_webhook

log = logging.getLogger("berth.webhooks")


def webhook_resource(project: Project | None) -> Resource:
    if project is None:
        return Resource.system(SystemResource.WEBHOOK)
    return Resource.of_project(project, ProjectResource.WEBHOOK)


def allowed_event_types(project: Project | None) -> list[str]:
    """System-level policies hear every project's events and the fleet's; a project's, only its own."""
    types = set(EventType) - {EventType.TEST} if project is None else PROJECT_EVENT_TYPES
    return sorted(str(t) for t in types)


# -- events (the outbox) ----------------------------------------------------------------------------


def _enqueue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


class _Publisher:
    """Sends new events' messages to the broker from a thread of its own, so the request that made the
    change does not wait for Redis. A message lost with the process is only a delay: the rows are the
    truth, and the sweep sends what no message announced."""

    def __init__(self) -> None:
        self.pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def put(self, event_id: int) -> None:
        self.pending.put(event_id)
        with self.lock:
            # A forked process (a gunicorn or Celery child) inherits the object but not the thread.
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="berth-webhook-publisher", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            event_id = self.pending.get()
            try:
                deliver_event.delay(event_id)
            except Exception:
                log.exception("could not enqueue webhook event %s; the sweep will send it", event_id)


_publisher = _Publisher()


def _enqueue_event(event_id: int) -> None:
    _publisher.put(event_id)


def emit(event_type: EventType | str, project: Project | None, data: dict[str, Any], *, operator: str = "",
         subject: str = "", occurred_at: datetime | None = None) -> WebhookEvent | None:
    """Records an event and a delivery for each enabled policy that wants it; call it inside the
    transaction of the change, so the event exists exactly when the change does. The sending is
    enqueued after the commit; if that enqueue is lost, the sweep finds the rows."""
    event, _ = outbox.write_event(event_type, project, data, operator=operator, subject=subject,
                                  occurred_at=occurred_at)
    if event is not None:
        # One message per event however many policies listen: the fan-out is the worker's, off the change's path.
        event_id = event.pk
        transaction.on_commit(lambda: _enqueue_event(event_id))
    return event


def emit_pulls(project: Project, repository: str, digest: str, count: int, tags: list[str], when: datetime) -> None:
    """Pulls of one artifact fold into one event per minute, so a pull storm is not an event storm.

    The first flush in a minute writes the event; later flushes in that minute add to its count, which a
    delivery not yet sent carries (the delivery log shows what was sent)."""
    window = when.replace(second=0, microsecond=0)
    key = f"pull:{repository}@{digest}:{window.isoformat()}"
    with transaction.atomic():
        existing = WebhookEvent.objects.select_for_update().filter(aggregate_key=key).first()
        if existing is not None:
            existing.payload["count"] = int(existing.payload.get("count", 0)) + count
            existing.payload["tags"] = sorted(set(existing.payload.get("tags", [])) | set(tags))
            existing.save(update_fields=["payload"])
            return
        data = {"repository": repository, "digest": digest, "tag": tags[0] if len(tags) == 1 else None,
                "tags": sorted(tags), "count": count, "window_start": window.isoformat(), "public": project.public}
        event = emit(EventType.ARTIFACT_PULLED, project, data, subject=f"{repository}@{digest}", occurred_at=when)
        if event is not None:
            try:
                with transaction.atomic():
                    WebhookEvent.objects.filter(pk=event.pk).update(aggregate_key=key)
            except IntegrityError:
                # Another flush wrote this minute's event first: this one's deliveries go too, as in
                # any race, but the key stays with the first.
                pass


def artifact_data(project: Project, repository: str, digest: str, tag: str | None, **extra: Any) -> dict[str, Any]:
    return {"repository": repository, "digest": digest, "tag": tag, "public": project.public, **extra}


def container_changed(container: Any, fields: dict[str, Any]) -> None:
    """The events a change of a container's record announces: running, exited, failed, OOM-killed,
    unhealthy. Called by the fleet in the transaction that writes `fields`."""
    status = fields.get("status", container.status)
    kind = None
    if "status" in fields and status != container.status:
        error_code = fields.get("error_code", container.error_code)
        if status == "running":
            kind = EventType.CONTAINER_RUNNING
        elif status == "exited":
            kind = EventType.CONTAINER_EXITED
        elif status == "failed":
            kind = EventType.CONTAINER_OOM_KILLED if error_code == "out_of_memory" else EventType.CONTAINER_FAILED
    elif fields.get("health") == "unhealthy" and container.health != "unhealthy":
        kind = EventType.CONTAINER_UNHEALTHY
    if kind is None:
        return
    data = {
        "container": container.name, "id": str(container.pk), "host": container.host_name,
        "image": container.image, "repository": container.repository, "digest": container.digest,
        "status": status, "exit_code": fields.get("exit_code", container.exit_code),
        "error": fields.get("error", container.error), "error_code": fields.get("error_code", container.error_code),
    }  # fmt: skip
    emit(kind, container.project, data, subject=f"{container.name}@{container.host_name}")


def container_deployed(container: Any) -> None:
    emit(EventType.CONTAINER_DEPLOYED, container.project,
         {"container": container.name, "id": str(container.pk), "host": container.host_name, "image": container.image,
          "repository": container.repository, "digest": container.digest, "reference": container.reference},
         operator=container.created_by, subject=f"{container.name}@{container.host_name}")


# -- policies -----------------------------------------------------------------------------------


def policies_of(project: Project | None) -> QuerySet[WebhookPolicy]:
    return WebhookPolicy.objects.filter(project=project)


def find_policy(project: Project | None, id_or_name: str) -> WebhookPolicy:
    policies = policies_of(project)
    policy = policies.filter(pk=int(id_or_name)).first() if id_or_name.isdigit() else None
    if policy is None and len(id_or_name) <= 255:
        policy = policies.filter(name=id_or_name).first()
    if policy is None:
        raise NotFound(f"webhook policy {id_or_name!r} not found", code="webhook_not_found")
    return policy


def _validate_target(url: str) -> str:
    try:
        _, host, port = sender.validate_url(url)
    except ValueError as exc:
        raise InvalidInput(f"invalid target URL: {exc}", code="invalid_target", detail={"target_url": [str(exc)]}) from None
    try:
        addresses = sender.resolve(host, port)
    except sender.TargetRefused:
        # A name that does not resolve yet may later; every delivery checks again.
        return url
    for address in addresses:
        reason = sender.refusal(address)
        if reason:
            raise InvalidInput(f"target {host} refused: {reason}", code="target_refused",
                               detail={"target_url": [reason]})
    return url


def _validate_event_types(project: Project | None, event_types: list[str]) -> list[str]:
    allowed = allowed_event_types(project)
    unknown = sorted(set(event_types) - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown event type(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}",
                           code="invalid_event_type", detail={"event_types": unknown})
    if not event_types:
        raise InvalidInput("a webhook policy needs at least one event type", detail={"event_types": ["at least one"]})
    return sorted(set(event_types))


def _apply(policy: WebhookPolicy, changes: dict[str, Any]) -> dict[str, Any]:
    """Sets the fields; the audit detail says which secrets changed, never their values."""
    audit: dict[str, Any] = {}
    for key in ("name", "description", "enabled", "verify_tls", "payload_format"):
        if key in changes:
            setattr(policy, key, changes[key])
            audit[key] = changes[key]
    if "target_url" in changes:
        policy.target_url = _validate_target(changes["target_url"])
        audit["target_url"] = policy.target_url
    if "event_types" in changes:
        policy.event_types = _validate_event_types(policy.project, changes["event_types"])
        audit["event_types"] = policy.event_types
    for key in ("secret", "auth_header"):
        if key in changes:
            value = changes[key] or ""
            setattr(policy, f"{key}_encrypted", encryption.encrypt(value) if value else "")
            audit[key] = "set" if value else "removed"
    if policy.payload_format not in PayloadFormat.values:
        raise InvalidInput(f"unknown payload format {policy.payload_format!r}", detail={"payload_format": ["invalid"]})
    return audit


def _audit(actor: Principal, verb: str, policy: WebhookPolicy, source_ip: str | None, detail: dict[str, Any]) -> None:
    record(actor, verb, "webhook", policy.name, project=policy.project, source_ip=source_ip, detail=detail)


def create_policy(actor: Principal, project: Project | None, *, name: str, target_url: str, event_types: list[str],
                  source_ip: str | None = None, **fields: Any) -> WebhookPolicy:
    require(actor, Action.CREATE, webhook_resource(project))
    policy = WebhookPolicy(project=project, created_by=actor.audit_name)
    audit = _apply(policy, {"name": name, "target_url": target_url, "event_types": event_types, **fields})
    try:
        with transaction.atomic():
            policy.save()
            _audit(actor, "create", policy, source_ip, audit)
    except IntegrityError:
        raise Conflict(f"a webhook policy named {name!r} already exists", code="webhook_exists") from None
    return policy


def update_policy(actor: Principal, policy: WebhookPolicy, changes: dict[str, Any],
                  source_ip: str | None = None) -> WebhookPolicy:
    require(actor, Action.UPDATE, webhook_resource(policy.project))
    audit = _apply(policy, changes)
    try:
        with transaction.atomic():
            policy.save()
            _audit(actor, "update", policy, source_ip, audit)
    except IntegrityError:
        raise Conflict(f"a webhook policy named {policy.name!r} already exists", code="webhook_exists") from None
    return policy


def delete_policy(actor: Principal, policy: WebhookPolicy, source_ip: str | None = None) -> None:
    require(actor, Action.DELETE, webhook_resource(policy.project))
    with transaction.atomic():
        _audit(actor, "delete", policy, source_ip, {})
        policy.delete()


def resume_policy(actor: Principal, policy: WebhookPolicy, source_ip: str | None = None) -> WebhookPolicy:
    """Lifts a pause: the policy's pending deliveries go out again, in order."""
    require(actor, Action.UPDATE, webhook_resource(policy.project))
    with transaction.atomic():
        was = policy.paused_reason
        WebhookPolicy.objects.filter(pk=policy.pk).update(paused_reason="", paused_at=None, consecutive_failures=0)
        _audit(actor, "resume", policy, source_ip, {"paused_reason": was})
        first = next_pending(policy.pk)
        if first is not None:
            transaction.on_commit(lambda: _enqueue([first.pk]))
    policy.refresh_from_db()
    return policy


def redeliver(actor: Principal, delivery: WebhookDelivery, source_ip: str | None = None) -> WebhookDelivery:
    """A new delivery of the same event; the old one stays in the log as it was."""
    policy = delivery.policy
    require(actor, Action.UPDATE, webhook_resource(policy.project))
    with transaction.atomic():
        again = WebhookDelivery.objects.create(policy=policy, event=delivery.event, next_attempt_at=timezone.now(),
                                               redelivery_of=delivery)
        _audit(actor, "redeliver", policy, source_ip, {"delivery": delivery.pk, "new_delivery": again.pk,
                                                        "event": str(delivery.event.uuid)})
        transaction.on_commit(lambda: _enqueue([again.pk]))
    return again


def send_test(actor: Principal, policy: WebhookPolicy, source_ip: str | None = None) -> WebhookDelivery:
    require(actor, Action.UPDATE, webhook_resource(policy.project))
    if policy.paused:
        raise Conflict(f"webhook policy {policy.name!r} is paused ({policy.paused_reason}): resume it first",
                       code="webhook_paused")
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            type=EventType.TEST, project=policy.project, project_name=policy.project.name if policy.project else "",
            operator=actor.audit_name, subject=policy.name, occurred_at=timezone.now(),
            payload={"policy": policy.name, "message": "a test event sent from Berth"},
        )
        (delivery_id,) = outbox.queue(event, [policy])
        _audit(actor, "test", policy, source_ip, {"delivery": delivery_id})
        transaction.on_commit(lambda: _enqueue([delivery_id]))
    return WebhookDelivery.objects.select_related("event").get(pk=delivery_id)


def deliveries_of(policy: WebhookPolicy) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(policy=policy).select_related("event")


def find_delivery(policy: WebhookPolicy, delivery_id: str) -> WebhookDelivery:
    delivery = deliveries_of(policy).filter(pk=int(delivery_id)).first() if delivery_id.isdigit() else None
    if delivery is None:
        raise NotFound(f"delivery {delivery_id!r} not found", code="delivery_not_found")
    return delivery


