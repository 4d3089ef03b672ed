"""Scheduled upkeep of the artifact index."""

from __future__ import annotations

from celery import shared_task

from portal.artifacts.services import reconcile


@shared_task(name="portal.artifacts.tasks.reconcile_index", acks_late=True)
def reconcile_index() -> dict[str, int]:
    # Idempotent: a retried or overlapping run finds nothing left to change.
    return reconcile().counts()
