"""The Celery application: configured from Django settings, tasks enqueued only once their transaction commits."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import transaction

from portal.audit.tasks import purge_audit_log
from portal.celery import app


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(purge_audit_log, "delay", lambda *args, **kwargs: calls.append(args))
    return calls


def test_the_app_reads_its_configuration_from_django_settings():
    assert app.conf.broker_url == settings.REDIS_URL
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.beat_schedule["purge-audit-log"]["task"] == "portal.audit.tasks.purge_audit_log"


@pytest.mark.django_db
def test_a_task_enqueued_in_a_transaction_is_sent_after_the_commit(
    sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            purge_audit_log.delay_on_commit()
        assert sent == []
    assert sent == [()]


@pytest.mark.django_db
def test_a_task_enqueued_in_a_rolled_back_transaction_is_never_sent(
    sent, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        purge_audit_log.delay_on_commit()
        raise RuntimeError("the write failed")
    assert callbacks == []
    assert sent == []
