"""Retention's Celery tasks: thin, by id, idempotent."""

from __future__ import annotations

from celery import shared_task

from portal.policies.retention import create_due_runs, execute_run


@shared_task(name="portal.policies.tasks.run_retention", acks_late=True)
def run_retention(run_id: int) -> str | None:
    run = execute_run(run_id)
    return None if run is None else run.status


@shared_task(name="portal.policies.tasks.start_due_retention_runs", acks_late=True)
def start_due_retention_runs() -> list[int]:
    started = create_due_runs()
    for run_id in started:
        run_retention.delay(run_id)
    return started
