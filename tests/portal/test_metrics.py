"""/metrics: Prometheus text with request, queue and component figures; who may read it; gunicorn workers."""

from __future__ import annotations

import re

import httpx
import pytest
from django.test import Client

from portal.system import health

pytestmark = pytest.mark.django_db

OUTSIDER = "203.0.113.5"


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == labels:
            return float(match.group(2))
    return None


def test_requests_and_components_are_reported_to_an_allowed_address(
    redis_url, celery_worker, anonymous
):
    for _ in range(3):
        anonymous.get("/api/v1/projects")
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.content.decode()
    assert (
        sample(
            text, "berth_http_requests_total", method="GET", route="api/v1/projects", status="200"
        )
        >= 3
    )
    assert (
        sample(
            text, "berth_http_request_duration_seconds_count", method="GET", route="api/v1/projects"
        )
        >= 3
    )
    assert sample(text, "berth_component_up", component="database") == 1
    assert sample(text, "berth_component_up", component="redis") == 1
    assert sample(text, "berth_component_up", component="worker") == 1


def test_the_celery_queue_length_is_read_from_redis(redis_server, settings, monkeypatch):
    # A database number no worker consumes from, so the queued messages stay put.
    settings.REDIS_URL = redis_server.url.rsplit("/", 1)[0] + "/3"
    monkeypatch.setattr(health, "WORKER_PING_SECONDS", 0.1)
    queue = health.redis_client()
    queue.delete("celery")
    queue.rpush("celery", "a", "b", "c")
    try:
        text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    finally:
        queue.delete("celery")
    assert sample(text, "berth_celery_queue_length", queue="celery") == 3
    assert sample(text, "berth_component_up", component="worker") == 0


def test_a_dead_redis_shows_as_down_and_drops_the_queue_figure(settings):
    from tests.fixtures.services import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    text = Client(REMOTE_ADDR="127.0.0.1").get("/metrics").content.decode()
    assert sample(text, "berth_component_up", component="redis") == 0
    assert "berth_celery_queue_length{" not in text


def test_other_addresses_are_refused_without_the_token(settings):
    settings.METRICS_TOKEN = "metrics-token-123"
    response = Client(REMOTE_ADDR=OUTSIDER).get("/metrics")
    assert response.status_code == 403
    assert (
        response.content
        == b"metrics are readable only from allowed networks or with the metrics token\n"
    )
    wrong = Client(REMOTE_ADDR=OUTSIDER).get(
        "/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-12"
    )
    assert wrong.status_code == 403


def test_the_token_opens_metrics_from_anywhere(settings, redis_url):
    settings.METRICS_TOKEN = "metrics-token-123"
    response = Client(REMOTE_ADDR=OUTSIDER).get(
        "/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-123"
    )
    assert response.status_code == 200
    assert b"berth_component_up" in response.content


def test_without_a_configured_token_no_bearer_value_is_accepted(settings):
    settings.METRICS_TOKEN = None
    assert (
        Client(REMOTE_ADDR=OUTSIDER).get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code
        == 403
    )


def test_allowed_networks_are_configurable(settings, redis_url):
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert Client(REMOTE_ADDR=OUTSIDER).get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403


def test_a_trusted_proxy_forwards_the_scrapers_address(settings, redis_url):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.METRICS_ALLOWED_NETWORKS = ["192.0.2.0/24"]
    forwarded = Client(REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="192.0.2.10").get("/metrics")
    assert forwarded.status_code == 200
    spoofed = Client(REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR="192.0.2.10").get("/metrics")
    assert spoofed.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_counts_from_every_gunicorn_worker_are_added_up(start_gunicorn):
    # Each worker process is replaced after 2 requests, so 6 are served by at least three
    # processes: only counts shared between processes can add up to 6. (--preload makes a
    # replacement a fork rather than a fresh start of Django.)
    server = start_gunicorn(
        "--max-requests", "2", "--max-requests-jitter", "0", "--threads", "1", "--preload"
    )
    labels = {"method": "GET", "route": "api/v1/projects"}
    requests = 6
    for _ in range(requests):
        assert httpx.get(f"{server.url}/api/v1/projects", timeout=10).status_code == 200
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert sample(text, "berth_http_requests_total", status="200", **labels) == requests
    assert sample(text, "berth_http_request_duration_seconds_count", **labels) == requests
    assert sample(text, "berth_component_up", component="database") == 1
