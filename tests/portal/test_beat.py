"""Exactly one Celery beat schedules at a time: a second one waits, and takes over when the first dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings

from portal.system.beat import LOCK_KEY

ROOT = Path(__file__).resolve().parents[2]
SENT = "Sending due task fleet-reconcile"


@pytest.fixture
def beat_redis_url() -> str:
    # A database of its own: the periodic tasks these beats send must not reach the suite's workers.
    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/7"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def start_beat(name: str, tmp_path: Path, redis_url: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / f"{name}.log"
    environment = {**os.environ, "BERTH_REDIS_URL": redis_url, "BERTH_BEAT_LOCK_SECONDS": "3",
                   "BERTH_FLEET_RECONCILE_SECONDS": "1"}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
             "--schedule", str(tmp_path / f"{name}-schedule")],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return process, log


def sends(log: Path) -> int:
    return log.read_text(errors="replace").count(SENT)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_second_beat_waits_and_takes_over_when_the_first_dies(tmp_path, beat_redis_url):
    first, first_log = start_beat("first", tmp_path, beat_redis_url)
    wait_for(lambda: sends(first_log) >= 1, 60, "the first beat to schedule")
    second, second_log = start_beat("second", tmp_path, beat_redis_url)
    try:
        wait_for(lambda: "beat: Starting" in second_log.read_text(errors="replace"), 60, "the second beat to start")
        before = sends(first_log)
        time.sleep(4)  # longer than the lease: the second beat has had its chances to take it
        assert sends(second_log) == 0
        assert sends(first_log) > before, "the first beat kept scheduling"

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        wait_for(lambda: sends(second_log) >= 1, 20, "the second beat to take over")
        assert redis.Redis.from_url(beat_redis_url).get(LOCK_KEY) is not None
    finally:
        for process in (first, second):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(20)
    assert first.poll() is not None and second.poll() is not None
    # A beat that stops cleanly hands its lease back at once.
    assert redis.Redis.from_url(beat_redis_url).get(LOCK_KEY) is None
