"""Celery tasks of the fleet: thin, take ids, idempotent, acknowledged late and retried with backoff."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from portal.fleet import convergence
from portal.fleet.agent_client import HostUnreachable
from portal.fleet.models import Container, ContainerStatus, Host, HostStatus

log = logging.getLogger("berth.fleet")
MAX_RETRIES = 6


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def converge_container(self: Any, container_id: str) -> str:
    """Drives one container to its desired state; an unreachable host is retried with backoff."""
    try:
        return convergence.converge(container_id)
    except HostUnreachable as exc:
        if self.request.retries >= MAX_RETRIES:
            Container.objects.filter(pk=container_id, status__in=(ContainerStatus.PENDING, ContainerStatus.PULLING,
                                                                  ContainerStatus.CREATING)).update(
                status=ContainerStatus.FAILED, error_code=exc.code, error=exc.message)
            return "failed"
        Container.objects.filter(pk=container_id).update(error_code=exc.code, error=f"{exc.message}; retrying")
        raise self.retry(countdown=min(2 ** self.request.retries, 60)) from None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def reconcile_fleet() -> dict[str, Any]:
    """Every reachable host's containers against the records, then work nobody is doing is re-queued."""
    report: dict[str, Any] = {}
    reachable = []
    for host in Host.objects.with_status().exclude(status=HostStatus.UNREACHABLE):
        try:
            report[host.name] = convergence.reconcile_host(host)
            reachable.append(host.pk)
        except HostUnreachable as exc:
            report[host.name] = {"error": exc.message}
    # Work for an unreachable host waits for it to come back, rather than piling up retries.
    stalled = convergence.stalled_containers(reachable)
    for container_id in stalled:
        converge_container.delay(container_id)
    report["requeued"] = len(stalled)
    if stalled:
        log.info("re-queued %d container(s) no worker was driving", len(stalled))
    return report

