"""Celery beat that schedules only while it holds a lock in Redis: a second beat started by mistake waits.

Without it, two beats (two `make run`s on one Redis, a compose service scaled to 2, a restarted container
whose old one lingers) each send every periodic task, so reconciliations and purges run twice as often and
race each other. The lock expires on its own, so a beat that is killed hands over within its lifetime.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Any

import redis
from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)

LOCK_KEY = "berth:beat:leader"

# Compare-and-act, so a beat whose lock expired (paused, swapped out) never extends or drops its successor's.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class BeatLock:
    """The leader's lease: `hold()` takes it when free and renews it when ours; it says whether we lead."""

    def __init__(self, client: redis.Redis, seconds: int) -> None:
        self.client, self.milliseconds = client, seconds * 1000
        self.token = secrets.token_hex(16)
        self.leading = False

    @property
    def renew_every(self) -> float:
        return self.milliseconds / 3000

    def hold(self) -> bool:
        try:
            if self.client.eval(_RENEW, 1, LOCK_KEY, self.token, self.milliseconds):
                leading = True
            else:
                leading = bool(self.client.set(LOCK_KEY, self.token, nx=True, px=self.milliseconds))
        except redis.RedisError as error:
            # Without Redis no task can be sent anyway; not scheduling is safe, and the next tick retries.
            log.warning("beat: cannot reach Redis for the leader lock: %s", error)
            leading = False
        if leading != self.leading:
            log.warning("beat: %s", "leading: this beat schedules periodic tasks" if leading
                        else "another beat holds the leader lock: this one waits")
        self.leading = leading
        return leading

    def release(self) -> None:
        with contextlib.suppress(redis.RedisError):  # unreachable, it expires by itself
            self.client.eval(_RELEASE, 1, LOCK_KEY, self.token)
        self.leading = False


class SingleBeatScheduler(PersistentScheduler):
    """celery's file-backed scheduler, ticking only while this beat holds the leader lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lock = BeatLock(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5), settings.BEAT_LOCK_SECONDS)
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self.lock.hold():
            return self.lock.renew_every
        # Ticks never sleep past a renewal, or the lease would lapse between two far-apart tasks.
        return min(super().tick(*args, **kwargs), self.lock.renew_every)

    def close(self) -> None:
        super().close()
        self.lock.release()
