"""Prometheus metrics: request counts and latency by route, Celery queue length, component up/down.

Under gunicorn (`-c python:portal.system.gunicorn_conf`) PROMETHEUS_MULTIPROC_DIR is set and every
worker process writes its counters there; a scrape adds them up, whichever worker answers it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from portal.system import health
from portal.utilities.env import ConfigurationError
from portal.utilities.requests import client_address

# Not in the default registry: `metrics_view` assembles a registry per scrape (see below).
REQUESTS = Counter(
    "berth_http_requests_total",
    "HTTP requests served",
    ["method", "route", "status"],
    registry=None,
)
LATENCY = Histogram(
    "berth_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=None,
)
CELERY_QUEUES = ("celery",)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RequestMetricsMiddleware:
    """Counts requests by route pattern (not raw path, which would make a label per project)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response


class SystemCollector:
    """Collected at scrape time, from the live system rather than from counters."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "berth_component_up", "1 when the component's health check passes", labels=["component"]
        )
        for component in health.run_checks():
            up.add_metric([component.name], 1.0 if component.status == health.HEALTHY else 0.0)
        yield up
        queued = GaugeMetricFamily(
            "berth_celery_queue_length", "Tasks waiting in a Celery queue", labels=["queue"]
        )
        try:
            client = health.redis_client()
            try:
                for queue in CELERY_QUEUES:
                    queued.add_metric([queue], float(client.llen(queue)))
            finally:
                client.close()
        except Exception:
            # berth_component_up{component="redis"} already says why there is no figure.
            return
        yield queued


def build_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(SystemCollector())
    return registry


@lru_cache(maxsize=8)
def allowed_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as exc:
        raise ConfigurationError(f"BERTH_METRICS_ALLOWED: {exc}") from None


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), token.encode())
    ):
        return True
    address = client_address(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(
        ip in network for network in allowed_networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponse(
            "metrics are readable only from allowed networks or with the metrics token\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    # The classic text format: every Prometheus version, and most other scrapers, read it.
    return HttpResponse(generate_latest(build_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)


# Checked when the middleware loads, so a typo in the setting stops start-up rather than every scrape.
allowed_networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
