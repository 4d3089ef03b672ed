"""Retention dry run over a repository of 100,000 tags and a project of 1,000 repositories, on PostgreSQL.

    .venv/bin/python bench/retention.py [--tags 100000] [--repositories 1000]

Target: a dry run under 10 s, and a query count that does not grow with the number of tags (measured at
a tenth of the size and at full size). Uses bench/browse.py's database: BERTH_DATABASE_URL, or a private cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import browse  # noqa: E402
from bench.browse import postgres, vacuum  # noqa: E402

# A cluster of its own, so it can run beside bench/browse.py.
browse.PORT = 55949
browse.DATADIR = ROOT / "var" / "bench" / "retention-postgres"

MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'


def seed(name: str, tags: int, repositories: int) -> Any:
    """Project `name`: one repository `big` with `tags` tags over tags/3 artifacts, and `repositories` more with
    ten tags each."""
    from portal.artifacts.models import Artifact, Repository, Tag
    from portal.projects.models import Project

    project = Project.objects.create(name=name)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    big = Repository.objects.create(project=project, name=f"{name}/big")
    batch = 5000
    artifacts_total = max(1, tags // 3)
    artifact_ids: list[int] = []
    for offset in range(0, artifacts_total, batch):
        artifact_ids += [a.pk for a in Artifact.objects.bulk_create(
            Artifact(repository=big, digest=f"sha256:{n:064x}", media_type="application/vnd.oci.image.manifest.v1+json",
                     manifest=MANIFEST, size=1, pushed_at=start + timedelta(seconds=n), tag_count=3)
            for n in range(offset, min(offset + batch, artifacts_total)))]
    for offset in range(0, tags, batch):
        Tag.objects.bulk_create(
            Tag(repository=big, name=f"v{n}" if n % 2 else f"build-{n}", artifact_id=artifact_ids[n % len(artifact_ids)],
                pushed_at=start + timedelta(seconds=n)) for n in range(offset, min(offset + batch, tags)))
    small = Repository.objects.bulk_create(Repository(project=project, name=f"{name}/app-{n}") for n in range(repositories))
    artifacts = Artifact.objects.bulk_create(
        Artifact(repository=repo, digest="sha256:" + "e" * 64, media_type="application/vnd.oci.image.manifest.v1+json",
                 manifest=MANIFEST, size=1, pushed_at=start, tag_count=10) for repo in small)
    Tag.objects.bulk_create((Tag(repository=artifact.repository, name=f"v{k}", artifact=artifact,
                                 pushed_at=start + timedelta(minutes=k)) for artifact in artifacts for k in range(10)),
                            batch_size=5000)
    return project


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--repositories", type=int, default=1000)
    args = parser.parse_args()
    with postgres(False) as url:
        os.environ["BERTH_DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        os.environ.setdefault("BERTH_VAR_DIR", str(ROOT / "var" / "bench"))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from portal.policies.models import RetentionRule, Template
        from portal.policies.retention import evaluate

        call_command("migrate", verbosity=0)
        rules = [RetentionRule(position=0, tags=["v*"], template=Template.KEEP_LATEST_PUSHED, count=5),
                 RetentionRule(position=1, tags=["latest"], template=Template.ALWAYS),
                 RetentionRule(position=2, repositories=["app-1*"], template=Template.PUSHED_WITHIN_DAYS, count=30)]
        sizes = [("small", args.tags // 10, args.repositories // 10), ("full", args.tags, args.repositories)]
        for name, tags, repositories in sizes:
            started = time.perf_counter()
            project = seed(name, tags, repositories)
            vacuum()
            print(f"seeded {name}: {tags:,} + {repositories * 10:,} tags in {repositories + 1:,} repositories "
                  f"({time.perf_counter() - started:.1f} s)")
            executed: list[str] = []
            started = time.perf_counter()
            def counted(execute: Any, sql: str, *rest: Any, executed: list[str] = executed) -> Any:
                executed.append(sql)
                return execute(sql, *rest)

            with connection.execute_wrapper(counted):
                result = evaluate(project, rules)
            elapsed = time.perf_counter() - started
            print(f"  dry run: {elapsed:.2f} s, {len(executed)} queries, {result.removed:,} removed, "
                  f"{result.kept:,} kept (target < 10 s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
