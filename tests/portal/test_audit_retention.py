"""Audit retention: rows older than AUDIT_RETENTION_DAYS are purged, by the service and by the beat job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.audit.services import purge_older_than, record
from portal.audit.tasks import purge_audit_log
from tests.fixtures.services import wait_until


def aged(resource: str, days: float) -> AuditEntry:
    row = record(None, "create", "project", resource, actor_name="alice")
    AuditEntry.objects.filter(pk=row.pk).update(time=timezone.now() - timedelta(days=days))
    return row


@pytest.mark.django_db
def test_purge_removes_rows_older_than_the_retention_and_keeps_the_rest():
    aged("ancient", 400)
    aged("just-over", 30.01)
    kept = [aged("just-under", 29.99).pk, aged("today", 0).pk]
    assert purge_older_than(30) == 2
    assert sorted(AuditEntry.objects.values_list("pk", flat=True)) == sorted(kept)


@pytest.mark.django_db
def test_purge_with_nothing_to_remove_is_harmless():
    row = aged("today", 0)
    assert purge_older_than(30) == 0
    assert purge_older_than(30) == 0
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [row.pk]


def test_the_beat_schedule_runs_the_registered_purge_task_daily():
    from portal.celery import app

    schedule = settings.CELERY_BEAT_SCHEDULE["purge-audit-log"]
    assert schedule["task"] == purge_audit_log.name == "portal.audit.tasks.purge_audit_log"
    assert schedule["schedule"] == 24 * 3600
    assert purge_audit_log.name in app.tasks


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_purges_old_rows_when_the_task_is_enqueued(celery_worker):
    old = aged("old", settings.AUDIT_RETENTION_DAYS + 1)
    recent = aged("recent", settings.AUDIT_RETENTION_DAYS - 1)

    celery_worker.send(purge_audit_log)

    wait_until(
        lambda: not AuditEntry.objects.filter(pk=old.pk).exists(),
        20,
        "the worker to purge the old row",
    )
    assert AuditEntry.objects.filter(pk=recent.pk).exists()
    assert "portal.audit.tasks.purge_audit_log" in celery_worker.log_text()


@pytest.mark.django_db
def test_purge_works_through_a_backlog_batch_by_batch():
    for n in range(7):
        aged(f"old-{n}", 100)
    kept = aged("new", 1)
    assert purge_older_than(30, batch=3) == 7
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [kept.pk]
