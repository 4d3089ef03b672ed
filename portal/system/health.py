"""Health of Berth's components: a registry of small checks, run in parallel under one deadline.

A check is a function that returns when its component works and raises when it does not
(`ComponentDown` or any error; `Unknown` when the state cannot be told, e.g. the worker while the broker is down). Other
parts add theirs with `register_check("registry", fn)`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connections

Check = Callable[[], None]

HEALTHY, UNHEALTHY, UNKNOWN, DEGRADED = "healthy", "unhealthy", "unknown", "degraded"
# Components without which Berth cannot serve at all; any other failing component only degrades it.
ESSENTIAL = frozenset({"database"})
DEADLINE_SECONDS = 1.5
SOCKET_TIMEOUT_SECONDS = 0.5
WORKER_PING_SECONDS = 1.0


class Unknown(Exception):  # noqa: N818 — it names a state, not an error
    """The component's state cannot be determined right now."""


class ComponentDown(Exception):
    """The component answered, or failed to, in a way that shows it is not working."""


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    status: str
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        shown = asdict(self)
        if self.error is None:
            del shown["error"]
        return shown


_checks: dict[str, Check] = {}
_lock = threading.Lock()
# Shared, so a check that hangs past the deadline holds one thread rather than leaking one a call.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="berth-health")
_in_flight: dict[str, tuple[Check, Future[ComponentHealth]]] = {}


def register_check(name: str, check: Check) -> None:
    """Adds (or replaces) the check reported as component `name`."""
    with _lock:
        _checks[name] = check


def unregister_check(name: str) -> None:
    with _lock:
        _checks.pop(name, None)


def registered_checks() -> dict[str, Check]:
    with _lock:
        return dict(_checks)


def run_checks(deadline: float = DEADLINE_SECONDS) -> list[ComponentHealth]:
    """Runs every registered check at once; one still running at the deadline counts as unhealthy."""
    checks = registered_checks()
    started = time.perf_counter()
    futures: dict[str, Future[ComponentHealth]] = {}
    with _lock:
        for name, check in checks.items():
            # A check still stuck from an earlier call is waited on again rather than started anew,
            # so a hung component cannot fill the pool and starve the other checks.
            previous = _in_flight.get(name)
            if previous is None or previous[0] is not check or previous[1].done():
                _in_flight[name] = (check, _executor.submit(_timed, name, check))
            futures[name] = _in_flight[name][1]
    wait(futures.values(), timeout=deadline, return_when=ALL_COMPLETED)
    results = []
    for name, future in futures.items():
        if future.done():
            results.append(future.result())
        else:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            results.append(
                ComponentHealth(name, UNHEALTHY, elapsed, f"no answer within {deadline:g} s")
            )
    return results


def overall_status(components: list[ComponentHealth]) -> str:
    if any(c.status != HEALTHY and c.name in ESSENTIAL for c in components):
        return UNHEALTHY
    if any(c.status != HEALTHY for c in components):
        return DEGRADED
    return HEALTHY


def _timed(name: str, check: Check) -> ComponentHealth:
    started = time.perf_counter()
    status, error = HEALTHY, None
    try:
        check()
    except Unknown as exc:
        status, error = UNKNOWN, describe_error(exc)
    except Exception as exc:
        status, error = UNHEALTHY, describe_error(exc)
    finally:
        # Pool threads outlive the request: a connection left open here would pin a database slot.
        connections.close_all()
    return ComponentHealth(name, status, round((time.perf_counter() - started) * 1000, 1), error)


_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^@/\s]*@", re.IGNORECASE)


def describe_error(exc: BaseException) -> str:
    """A short message that is safe to show anyone: no credentials, no configured secrets."""
    message = str(exc).strip() or type(exc).__name__
    message = _CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", message)
    for secret in _configured_secrets():
        message = message.replace(secret, "***")
    return message[:200]


def _configured_secrets() -> list[str]:
    from urllib.parse import urlsplit

    found = [str(settings.DATABASES["default"].get("PASSWORD") or "")]
    found.append(urlsplit(settings.REDIS_URL).password or "")
    found.append(str(getattr(settings, "METRICS_TOKEN", None) or ""))
    return [secret for secret in found if len(secret) >= 4]


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def redis_client(url: str | None = None) -> Any:
    import redis

    return redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
    )


def check_redis() -> None:
    client = redis_client()
    try:
        client.ping()
    finally:
        client.close()


@lru_cache(maxsize=4)
def _control_app(broker_url: str) -> Any:
    """A Celery app used only to broadcast to workers on `broker_url`.

    Celery's `control` publishes through the application's own producer pool, whatever
    connection it is handed, so asking another broker takes an application of its own.
    """
    from celery import Celery

    return Celery(
        "berth-control",
        broker=broker_url,
        set_as_current=False,
        broker_connection_timeout=SOCKET_TIMEOUT_SECONDS,
        broker_transport_options={"socket_timeout": SOCKET_TIMEOUT_SECONDS},
    )


def ping_workers(broker_url: str, timeout: float = WORKER_PING_SECONDS) -> list[dict[str, Any]]:
    """Replies of the Celery workers on `broker_url` to a ping (returns at the first reply)."""
    return _control_app(broker_url).control.ping(timeout=timeout, limit=1) or []


def check_worker() -> None:
    try:
        check_redis()
    except Exception as exc:
        raise Unknown(f"broker unreachable: {describe_error(exc)}") from exc
    if not ping_workers(settings.REDIS_URL, WORKER_PING_SECONDS):
        raise ComponentDown(f"no Celery worker answered within {WORKER_PING_SECONDS:g} s")


register_check("database", check_database)
register_check("redis", check_redis)
register_check("worker", check_worker)
