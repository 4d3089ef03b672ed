"""Fixtures of the webhook tests: a loopback receiver and a real Celery worker (with beat) whose retries
are fast enough to watch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.services import child_environment
from tests.fleet.stack import Worker
from tests.webhooks.receiver import Receiver

# The worker's webhook settings: retries a few tenths of a second apart, a policy paused after two
# failed deliveries, and a sweep every second.
WORKER_SETTINGS = {
    "BERTH_WEBHOOK_RETRY_BASE": "0.3", "BERTH_WEBHOOK_RETRY_MAX": "1", "BERTH_WEBHOOK_MAX_ATTEMPTS": "4",
    "BERTH_WEBHOOK_PAUSE_AFTER": "2", "BERTH_WEBHOOK_SWEEP_SECONDS": "1", "BERTH_WEBHOOK_TIMEOUT": "3",
    # A restarted worker's beat takes over from the killed one's this soon.
    "BERTH_BEAT_LOCK_SECONDS": "2",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup: None, django_db_blocker: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """`celery worker -B` on the test database and the broker the tests enqueue on, with the test
    process's encryption keys (so it can open the policies' secrets)."""
    from django.conf import settings

    directory = tmp_path_factory.mktemp("webhook-worker")
    with django_db_blocker.unblock():
        env = child_environment(directory, BERTH_REDIS_URL=settings.REDIS_URL,
                                BERTH_ENCRYPTION_KEYS=",".join(settings.ENCRYPTION_KEYS),
                                BERTH_EXTERNAL_URL=settings.EXTERNAL_URL, **WORKER_SETTINGS)
    worker = Worker(env, directory).start()
    yield worker
    worker.stop()
