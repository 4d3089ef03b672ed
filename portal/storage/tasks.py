"""Garbage collection runs, carried out by id; the beat's pass that starts scheduled and pending runs."""

from __future__ import annotations

from celery import shared_task

from portal.storage.gc import execute, run_due


@shared_task(name="portal.storage.tasks.run_gc", acks_late=True)
def run_gc(run_id: int) -> str | None:
    # Idempotent: a run finished, or running in another worker, is left alone.
    run = execute(run_id)
    return run.status if run is not None else None


@shared_task(name="portal.storage.tasks.schedule_gc")
def schedule_gc() -> int | None:
    return run_due()
