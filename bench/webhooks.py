"""Webhook benchmark: 10,000 events to a local receiver through real Celery workers.

Measures deliveries per second and the p50/p99 time from the change's commit to the receiver, with two
worker processes, and the cost a listening policy adds to the transaction of a change (the emit: an event
row, a delivery row, the enqueue after commit), against the same transaction with no policy. Target: the
added cost under 1 ms p50.

    .venv/bin/python bench/webhooks.py [--events 10000] [--policies 1] [--workers 2] [--pg-port 55741]

Uses BERTH_DATABASE_URL and BERTH_REDIS_URL when given; otherwise starts a private PostgreSQL and Redis under
var/bench/webhooks (scripts/lib.sh, needs root) and stops them at the end. A policy's deliveries go out one
at a time, in event order, so one policy is one stream; `--policies 4` shows the workers in parallel.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_VAR = ROOT / "var" / "bench" / "webhooks"
TARGET_COST_MS = 1.0
sys.path.insert(0, str(ROOT))


def shell(command: str) -> None:
    subprocess.run(["bash", "-c", f"source {ROOT}/scripts/lib.sh && {command}"], check=True, cwd=ROOT)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Receiver:
    """Loopback HTTP server noting when each event (by `Berth-Event-Id`) arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.arrivals.setdefault(f"{self.path}|{self.headers['Berth-Event-Id']}", time.time())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def emit_cost(project: Any, samples: int) -> list[float]:
    """Milliseconds of one change's transaction spent on `emit`, as each of `samples` runs it."""
    from django.db import transaction

    from portal.webhooks import services

    times = []
    for index in range(samples):
        started = time.perf_counter()
        with transaction.atomic():
            services.emit("artifact.pushed", project, {"repository": f"{project.name}/app",
                                                       "digest": f"sha256:{index:064x}", "tag": "v1"})
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--policies", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-port", type=int, default=55741)
    parser.add_argument("--redis-port", type=int, default=56741)
    args = parser.parse_args()

    owned = not os.environ.get("BERTH_DATABASE_URL")
    if owned:
        shutil.rmtree(BENCH_VAR, ignore_errors=True)
        BENCH_VAR.mkdir(parents=True)
        shell(f"start_postgres {BENCH_VAR / 'postgres'} {args.pg_port}")
        shell(f"start_redis {BENCH_VAR / 'redis'} {args.redis_port}")
        shell(f"runuser -u postgres -- psql -h 127.0.0.1 -p {args.pg_port} -c 'CREATE DATABASE berth' >/dev/null")
        os.environ["BERTH_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{args.pg_port}/berth"
        os.environ["BERTH_REDIS_URL"] = f"redis://127.0.0.1:{args.redis_port}/0"
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BERTH_VAR_DIR", str(BENCH_VAR / "var"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from portal.projects.models import Project
        from portal.webhooks.models import WebhookDelivery, WebhookEvent, WebhookPolicy

        WebhookPolicy.objects.all().delete()
        WebhookEvent.objects.all().delete()
        project, _ = Project.objects.get_or_create(name="bench-hooks")

        baseline = emit_cost(project, 500)
        receiver = Receiver()
        for index in range(args.policies):
            WebhookPolicy.objects.create(project=project, name=f"bench-{index}", target_url=receiver.url(f"p{index}"),
                                         event_types=["artifact.pushed"], secret_encrypted="")
        # Measured before the workers start, so they do not share the CPU with it: the emit's own cost, and
        # that of its rows alone (the message to the broker, sent by a thread of its own, left out).
        with_policy = emit_cost(project, 500)
        time.sleep(2)
        from portal.webhooks import services as webhook_services

        publish = webhook_services._enqueue_event
        webhook_services._enqueue_event = lambda event_id: None  # type: ignore[assignment]
        rows_only = emit_cost(project, 500)
        webhook_services._enqueue_event = publish  # type: ignore[assignment]
        env = {**os.environ, "BERTH_ENCRYPTION_KEYS": ",".join(settings.ENCRYPTION_KEYS)}
        for index in range(args.workers):
            log = (BENCH_VAR / f"worker-{index}.log").open("wb")
            workers.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "celery"), "-A", "portal", "worker", "--pool=solo",
                 "--without-gossip", "--without-mingle", "--loglevel=WARNING", f"--hostname=bench-{index}@%h"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        time.sleep(3)

        while WebhookDelivery.objects.filter(status="pending").exists():
            time.sleep(0.2)
        receiver.arrivals.clear()

        committed: dict[str, float] = {}
        started = time.time()
        from django.db import transaction

        from portal.webhooks import services

        for index in range(args.events):
            with transaction.atomic():
                event = services.emit("artifact.pushed", project, {"repository": "bench-hooks/app",
                                                                   "digest": f"sha256:{index:064x}", "tag": "v1"})
            assert event is not None
            committed[str(event.uuid)] = time.time()
        emitted = time.time()
        expected = args.events * args.policies
        deadline = time.time() + 600
        while len(receiver.arrivals) < expected and time.time() < deadline:
            time.sleep(0.1)
        finished = max(receiver.arrivals.values())
        latencies = [(at - committed[key.split("|", 1)[1]]) * 1000 for key, at in receiver.arrivals.items()]

        added = statistics.median(with_policy) - statistics.median(baseline)
        print(f"events: {args.events} × {args.policies} policies, {args.workers} workers; "
              f"received {len(receiver.arrivals)}/{expected}")
        print(f"emit rate: {args.events / (emitted - started):.0f} events/s")
        print(f"deliveries: {len(latencies) / (finished - started):.0f}/s")
        print(f"change → receiver: p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms")
        print(f"emit in a change's transaction: no policy p50 {statistics.median(baseline):.2f} ms, {args.policies} "
              f"polic{'y' if args.policies == 1 else 'ies'} "
              f"p50 {statistics.median(with_policy):.2f} ms; added {added:.2f} ms "
              f"({'within' if added < TARGET_COST_MS else 'over'} the {TARGET_COST_MS:.0f} ms target); rows alone "
              f"p50 {statistics.median(rows_only):.2f} ms")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(15)
        if owned:
            shell(f"stop_redis {BENCH_VAR / 'redis'} {args.redis_port}")
            shell(f"stop_postgres {BENCH_VAR / 'postgres'}")


if __name__ == "__main__":
    main()
