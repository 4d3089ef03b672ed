"""Writing and purging audit rows. Services call `record` inside their transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from portal.audit.models import AuditEntry, Outcome
from portal.utilities.requests import client_address

if TYPE_CHECKING:
    from portal.rbac.principals import Principal


def record(
    actor: Principal | None,
    action: str,
    resource_type: str,
    resource: str,
    *,
    project: Any = None,
    outcome: str = Outcome.SUCCESS,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        time=timezone.now(),
        actor_kind=actor.kind if actor is not None else "anonymous",
        # A project robot's full name can reach 511 characters; the column keeps the first 300.
        actor=(actor_name or (actor.audit_name if actor is not None else "anonymous"))[:300],
        action=action[:64],
        resource_type=resource_type,
        resource=resource[:1024],
        project_id=getattr(project, "id", None),
        project_name=getattr(project, "name", "") or "",
        outcome=outcome,
        source_ip=source_ip,
        detail=detail or {},
    )


def record_request(
    request: Any, action: str, resource_type: str, resource: str, **kwargs: Any
) -> AuditEntry:
    """`record` with the actor and source address taken from a request."""
    return record(
        request.user, action, resource_type, resource, source_ip=client_address(request), **kwargs
    )


def record_refusal(request: Any, *, denied: bool, message: str) -> None:
    actor = getattr(request, "_berth_principal", None) or getattr(request, "user", None)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    record(
        actor,
        f"{request.method.lower()} {request.path}"[:64],
        "request",
        request.path,
        outcome=Outcome.DENIED if denied else Outcome.FAILURE,
        source_ip=client_address(request),
        detail={"message": message[:500]},
    )


def recent_login_failures(username: str, source_ip: str | None) -> int:
    """Failed sign-ins (and wrong passwords given to change it) of `username` from `source_ip` within the window: what slows that one source down.

    Refusals by that throttle are recorded with another reason and not counted, so retrying while refused
    does not prolong the wait; failures from other addresses do not count, so they never lock the owner out.
    """
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    # A wrong current password given to change it is a guess like any other: one throttle counts both, so a
    # stolen session cannot guess the password there beside the sign-in form's limit.
    guesses = Q(action="login", detail__reason="invalid credentials") | Q(
        action="change_password", detail__reason="wrong current password")
    return AuditEntry.objects.filter(
        guesses, outcome=Outcome.FAILURE, time__gte=since, actor=username, source_ip=source_ip,
    ).count()


PURGE_BATCH = 5000


def purge_older_than(days: int, batch: int = PURGE_BATCH) -> int:
    """Deletes rows older than `days`, a batch per statement: a months-old backlog must not hold
    one huge delete (and its locks) while the API keeps writing rows."""
    cutoff = timezone.now() - timedelta(days=days)
    old = AuditEntry.objects.filter(time__lt=cutoff).order_by()
    total = 0
    while ids := list(old.values_list("id", flat=True)[:batch]):
        total += AuditEntry.objects.filter(id__in=ids).delete()[0]
    return total
