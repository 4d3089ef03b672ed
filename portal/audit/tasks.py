"""Scheduled audit housekeeping."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from portal.audit.services import purge_older_than


@shared_task(name="portal.audit.tasks.purge_audit_log", acks_late=True)
def purge_audit_log() -> int:
    return purge_older_than(settings.AUDIT_RETENTION_DAYS)
