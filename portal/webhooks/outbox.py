"""The outbox: event rows and their deliveries, written in the transaction of the change they report.

Only rows are written here; whoever commits them may enqueue the sending, and the sweep sends what
nobody enqueued, so the rows alone are enough for nothing to be lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from portal.fleet.models import Host, HostStatus
from portal.projects.models import Project
from portal.webhooks.models import (
    AnnouncedHostStatus,
    DeliveryStatus,
    EventType,
    WebhookDelivery,
    WebhookEvent,
    WebhookPolicy,
)


def listeners(event_type: str, project: Project | None) -> list[WebhookPolicy]:
    """Enabled policies that want the event: the project's own, and every system-level one."""
    scope = Q(project__isnull=True) | Q(project=project) if project is not None else Q(project__isnull=True)
    # Few policies per project: the type is matched here rather than with a JSON query the
    # development database (SQLite) lacks.
    return [p for p in WebhookPolicy.objects.filter(scope, enabled=True).only("id", "event_types")
            if event_type in p.event_types]


def queue(event: WebhookEvent, policies: list[WebhookPolicy]) -> list[int]:
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(policy_id=policy.pk, event=event, next_attempt_at=now) for policy in policies
    )
    return [d.pk for d in deliveries]


def write_event(event_type: EventType | str, project: Project | None, data: dict[str, Any], *, operator: str = "",
                subject: str = "", occurred_at: datetime | None = None,
                ) -> tuple[WebhookEvent | None, list[int]]:
    """The event and its deliveries' ids; nothing at all when no enabled policy wants it."""
    event_type = EventType(event_type)
    policies = listeners(event_type, project)
    if not policies:
        return None, []
    # Inside the caller's transaction without a savepoint (two round trips fewer on the change's path).
    with transaction.atomic(savepoint=False):
        event = WebhookEvent.objects.create(
            type=event_type, project=project, project_name=project.name if project else "", operator=operator[:300],
            subject=subject[:1024], payload=data, occurred_at=occurred_at or timezone.now(),
        )
        return event, queue(event, policies)


def due_policies() -> list[int]:
    """Policies with a pending delivery due now: what the sweep sends, whatever enqueue was lost."""
    heads = (WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, policy__enabled=True,
                                            policy__paused_reason="")
             .values("policy_id").annotate(due=Min("next_attempt_at")).filter(due__lte=timezone.now()))
    return [row["policy_id"] for row in heads]


HOST_EVENTS = {HostStatus.ONLINE: EventType.HOST_ONLINE, HostStatus.UNREACHABLE: EventType.HOST_UNREACHABLE,
               HostStatus.DRAINING: EventType.HOST_DRAINED}


def announce_host_changes() -> int:
    """Writes an event for each host whose status changed since last announced. A host's status is
    derived from its heartbeat's age, so no write marks the change: the sweep compares and remembers."""
    announced = {a.host_id: a for a in AnnouncedHostStatus.objects.all()}
    changes = 0
    for host in Host.objects.with_status():
        status = str(host.status)  # type: ignore[attr-defined]
        previous = announced.pop(host.pk, None)
        if previous is not None and previous.status == status:
            continue
        with transaction.atomic():
            AnnouncedHostStatus.objects.update_or_create(host_id=host.pk,
                                                         defaults={"host_name": host.name, "status": status})
            # A host seen for the first time is announced only when it is online (it has just joined).
            if previous is not None or status == HostStatus.ONLINE:
                write_event(HOST_EVENTS[HostStatus(status)], None,
                            {"host": host.name, "id": str(host.pk), "status": status,
                             "previous_status": previous.status if previous else None,
                             "last_heartbeat_at": host.last_heartbeat_at.isoformat() if host.last_heartbeat_at
                             else None},
                            subject=host.name)
                changes += 1
    AnnouncedHostStatus.objects.filter(host_id__in=list(announced)).delete()
    return changes
