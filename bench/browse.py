"""Browse API latency over a repository of 100,000 tags: p50/p95 for pages of 100, on PostgreSQL.

    .venv/bin/python bench/browse.py [--tags 100000] [--rounds 40]

Uses BERTH_DATABASE_URL when it names a PostgreSQL database; otherwise starts a private cluster with
scripts/lib.sh's start_postgres (port 55948, in var/bench/browse-postgres) and stops it afterwards. Requests go
through the whole Django/DRF stack in-process, as a project guest (so permission checks run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PORT = 55948
DATADIR = ROOT / "var" / "bench" / "browse-postgres"


@contextmanager
def postgres(reuse: bool) -> Any:
    """A database URL: the configured PostgreSQL, or a private cluster started (and stopped) here."""
    configured = os.environ.get("BERTH_DATABASE_URL", "")
    if configured.startswith("postgres"):
        yield configured
        return
    lib = ROOT / "scripts" / "lib.sh"
    subprocess.run(["bash", "-c", f'source "{lib}" && start_postgres "{DATADIR}" {PORT}'], check=True)
    try:
        if not reuse:
            subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "-qc",
                            "DROP DATABASE IF EXISTS berth_bench"], check=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "-qc",
                        "CREATE DATABASE berth_bench"], check=False, capture_output=True)
        yield f"postgres://postgres@127.0.0.1:{PORT}/berth_bench"
    finally:
        subprocess.run(["bash", "-c", f'source "{lib}" && stop_postgres "{DATADIR}"'], check=False)


def seed(tags: int) -> dict[str, Any]:
    """Two repositories: `bench/ci` (one tagged artifact per CI build, `tags` of them) and `bench/one`
    (a single artifact carrying `tags` tags)."""

    from portal.accounts.models import User
    from portal.artifacts.models import Artifact, Repository, Tag
    from portal.projects.models import Member, Project

    user = User.objects.create(username="bench-guest")
    project = Project.objects.create(name="bench")
    Member.objects.create(project=project, user=user, role="guest")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    ci = Repository.objects.create(project=project, name="bench/ci", artifact_count=tags, tag_count=tags)
    one = Repository.objects.create(project=project, name="bench/one", artifact_count=1, tag_count=tags)
    single = Artifact.objects.create(repository=one, digest="sha256:" + "f" * 64, media_type="application/vnd.oci.image.manifest.v1+json",
                                     manifest=manifest, size=1, pushed_at=start, os="linux", architecture="amd64",
                                     tag_count=tags)
    batch = 5000
    for offset in range(0, tags, batch):
        numbers = range(offset, min(offset + batch, tags))
        artifacts = Artifact.objects.bulk_create(
            Artifact(repository=ci, digest=f"sha256:{n:064x}", media_type="application/vnd.oci.image.manifest.v1+json",
                     manifest=manifest, size=1000 + n, pushed_at=start + timedelta(seconds=n), os="linux",
                     architecture="amd64", tag_count=1) for n in numbers)
        Tag.objects.bulk_create(Tag(repository=ci, name=f"build-{n}", artifact=artifact,
                                    pushed_at=start + timedelta(seconds=n)) for n, artifact in zip(numbers, artifacts, strict=True))
        Tag.objects.bulk_create(Tag(repository=one, name=f"build-{n}", artifact=single,
                                    pushed_at=start + timedelta(seconds=n)) for n in numbers)
    return {"user": user}


def vacuum() -> None:
    """What autovacuum does to a table that stopped changing: statistics, and the visibility map
    that lets index-only scans skip the heap."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def backend_cpu_ms(pid: int) -> float:
    """CPU time the PostgreSQL backend serving this connection has used (from /proc: same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def measure(call: Callable[[], Any], rounds: int) -> tuple[tuple[float, float], tuple[float, float], int]:
    """Wall-clock p50/p95 and CPU p50/p95 (this process plus its PostgreSQL backend) in milliseconds,
    and the queries one call runs. On a busy machine wall time mostly measures the queue for a CPU;
    CPU time is what a request costs, and equals its wall time on idle cores."""
    from django.db import connection

    call()  # warm caches, connection and the principal's role
    executed: list[str] = []
    # Counted with a wrapper: the test client's request_started signal clears connection.queries.
    with connection.execute_wrapper(lambda execute, sql, *rest: executed.append(sql) or execute(sql, *rest)):
        call()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    walls, cpus = [], []
    for _ in range(rounds):
        cpu, db, started = time.process_time(), backend_cpu_ms(backend), time.perf_counter()
        call()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000 + backend_cpu_ms(backend) - db)
    return percentiles(walls), percentiles(cpus), len(executed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="Keep the private cluster's seeded database.")
    args = parser.parse_args()
    with postgres(args.reuse) as url:
        os.environ["BERTH_DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        os.environ.setdefault("BERTH_VAR_DIR", str(ROOT / "var" / "bench"))
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.test.utils import setup_test_environment
        from rest_framework.test import APIClient

        from portal.artifacts import services
        from portal.rbac.principals import UserPrincipal

        setup_test_environment()
        from django.conf import settings

        settings.ALLOWED_HOSTS = ["testserver"]
        call_command("migrate", verbosity=0)
        from portal.accounts.models import User

        started = time.perf_counter()
        if args.reuse and User.objects.filter(username="bench-guest").exists():
            seeded = {"user": User.objects.get(username="bench-guest")}
        else:
            seeded = seed(args.tags)
            print(f"seeded {args.tags:,} tags twice in {time.perf_counter() - started:.1f} s (PostgreSQL)")
        vacuum()
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        client = APIClient()
        client.force_authenticate(user=UserPrincipal(seeded["user"]))
        deep = max(1, args.tags // 100 - 1)
        base = "/api/v1/projects/bench/repositories"

        def get(path: str) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get(base + path)
                assert response.status_code == 200, response.content[:300]
                assert len(response.json()["results"]) == 100
            return call

        middle = f"build-{args.tags // 2}"
        middle_digest = f"sha256:{args.tags // 2:064x}"
        cases = [
            ("artifacts, newest first, page 1", get("/ci/artifacts?page_size=100")),
            (f"artifacts, newest first, page {deep}", get(f"/ci/artifacts?page_size=100&page={deep}")),
            ("artifacts, keyset: 100 before the middle", get(f"/ci/artifacts?page_size=100&before={middle_digest}")),
            ("tags by name, page 1", get("/ci/tags?page_size=100")),
            (f"tags by name, page {deep}", get(f"/ci/tags?page_size=100&page={deep}")),
            ("tags by name, keyset: 100 after the middle", get(f"/ci/tags?page_size=100&last={middle}")),
            ("tags by push time, page 1", get("/ci/tags?page_size=100&sort=-pushed_at")),
            (f"tags by push time, page {deep}", get(f"/ci/tags?page_size=100&sort=-pushed_at&page={deep}")),
            ("one artifact's tags by name, page 1", get("/one/artifacts/sha256:" + "f" * 64 + "/tags?page_size=100")),
            (f"one artifact's tags by name, page {deep}",
             get("/one/artifacts/sha256:" + "f" * 64 + f"/tags?page_size=100&page={deep}")),
            ("/v2/ tag list service, n=100 after the middle", lambda: services.list_tags("bench/ci", 100, middle)),
            ("/v2/ manifest by tag from the index", lambda: services.cached_manifest("bench/ci", middle)),
        ]
        print(f"{'case':48} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8} {'queries':>8}  (ms)")
        worst_wall = worst_cpu = 0.0
        for name, call in cases:
            (wall50, wall95), (cpu50, cpu95), queries = measure(call, args.rounds)
            worst_wall, worst_cpu = max(worst_wall, wall95), max(worst_cpu, cpu95)
            print(f"{name:48} {wall50:9.1f} {wall95:9.1f} {cpu50:8.1f} {cpu95:8.1f} {queries:8d}")
        print(f"worst p95: wall {worst_wall:.1f} ms, CPU {worst_cpu:.1f} ms (target < 100 ms; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs). Totals come from counters kept with the rows "
              "(repository: artifacts, tags; artifact: tags); only filtered lists COUNT.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
