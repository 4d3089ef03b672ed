"""Online garbage collection: mark from the index, sweep through distribution and the storage, with nothing
made read-only.

Mark: an artifact is kept when a tag points at it, when an index that is kept lists it, when its subject is
kept (signatures, SBOMs), when it was pushed within the grace window, or — unless the run deletes untagged
artifacts — always. A blob is garbage when no kept artifact uses it and no push has touched it within the grace
window. Sweep: the garbage artifacts through the artifacts deletion service (distribution's API and the index
rows), then each garbage blob, claimed in the index first (`Blob.DELETING`), its links and data removed from the
storage, its row deleted. A push claims its blobs in the same rows (portal.storage.services.claim_blobs), so
either the push comes first and the blob stays, or the push waits until the bytes are gone and stores them
again.

Every query reads whole tables as tuples or works in batches: the cost is flat in the number of artifacts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from portal.artifacts.models import Artifact, ArtifactReference, Repository, Tag
from portal.artifacts.services import (
    RegistryUnavailable,
    SystemActor,
    delete_artifact,
    distribution,
)
from portal.audit.services import record
from portal.policies.guards import digests_kept_by_tag_history
from portal.projects.models import Project
from portal.rbac.principals import Principal, Resource, require
from portal.rbac.roles import Action, SystemResource
from portal.registry.distribution import DistributionClient
from portal.registry.storage import RepositoryStorage, StorageError, storage_from_settings
from portal.storage.models import ArtifactBlob, Blob, GCRun, GCSchedule, RepositoryBlob
from portal.utilities.errors import BerthError, Conflict, InvalidInput, NotFound
from portal.webhooks import services as webhooks
from portal.webhooks.models import EventType

logger = logging.getLogger(__name__)

# Blobs claimed per transaction: a push waiting on one of them waits for this many deletions at most.
SWEEP_BATCH = 200
# A run's errors kept on its row (the first ones say what went wrong; the count says how often).
MAX_ERRORS = 100


class GarbageCollector(SystemActor):
    """Berth's own garbage collection, in audit rows; it may delete whatever the mark found garbage."""

    kind: ClassVar[str] = "system"
    is_system_admin = True

    def __init__(self) -> None:
        super().__init__("gc")


@dataclass
class Plan:
    """What a run deletes: artifacts as (id, repository, digest, project) and blobs as (id, digest, size)."""

    artifacts: list[tuple[int, str, str, str]] = field(default_factory=list)
    blobs: list[tuple[int, str, int]] = field(default_factory=list)
    report: dict[str, dict[str, int]] = field(default_factory=dict)
    cutoff: datetime | None = None


def _kept_artifacts(delete_untagged: bool, cutoff: datetime) -> tuple[set[int], dict[int, tuple[str, str, str]]]:
    rows = Artifact.objects.values_list("id", "repository_id", "repository__name", "repository__project__name",
                                        "digest", "subject_digest", "pushed_at")
    info: dict[int, tuple[str, str, str]] = {}
    referrers: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_key: dict[int, tuple[int, str]] = {}
    kept: set[int] = set()
    for artifact_id, repository_id, repository, project, digest, subject, pushed_at in rows.iterator(chunk_size=5000):
        info[artifact_id] = (repository, digest, project)
        by_key[artifact_id] = (repository_id, digest)
        if subject:
            referrers[(repository_id, subject)].append(artifact_id)
        if not delete_untagged or pushed_at >= cutoff:
            kept.add(artifact_id)
    kept.update(Tag.objects.values_list("artifact_id", flat=True).distinct())
    # What a tag pointed at within its project's time-machine window stays restorable, blobs and all.
    restorable = digests_kept_by_tag_history(list({repository_id for repository_id, _ in by_key.values()}))
    kept.update(artifact_id for artifact_id, (repository_id, digest) in by_key.items()
                if digest in restorable.get(repository_id, ()))
    children: dict[int, list[int]] = defaultdict(list)
    for parent, child in ArtifactReference.objects.values_list("parent_id", "child_id").iterator(chunk_size=5000):
        children[parent].append(child)
    pending = list(kept)
    while pending:
        current = pending.pop()
        reached = children.get(current, []) + referrers.get(by_key.get(current, (0, "")), [])
        for artifact_id in reached:
            if artifact_id not in kept:
                kept.add(artifact_id)
                pending.append(artifact_id)
    return kept, info


def plan(delete_untagged: bool, now: datetime | None = None) -> Plan:
    """The mark: what a run with these options deletes now. A dry run reports it; a real run sweeps it."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.GC_GRACE_SECONDS)
    kept, info = _kept_artifacts(delete_untagged, cutoff)
    result = Plan(cutoff=cutoff)
    report: dict[str, dict[str, int]] = defaultdict(lambda: {"manifests": 0, "blobs": 0, "bytes": 0})
    for artifact_id, (repository, digest, project) in info.items():
        if artifact_id not in kept:
            result.artifacts.append((artifact_id, repository, digest, project))
            report[project]["manifests"] += 1
    used: set[int] = set()
    for artifact_id, blob_id in ArtifactBlob.objects.values_list("artifact_id", "blob_id").iterator(chunk_size=10000):
        if artifact_id in kept:
            used.add(blob_id)
    candidates = Blob.objects.filter(Q(pushed_at__lt=cutoff) | Q(status=Blob.DELETING)).values_list(
        "id", "digest", "size")
    result.blobs = [row for row in candidates.iterator(chunk_size=10000) if row[0] not in used]
    garbage = {blob_id: size for blob_id, _, size in result.blobs}
    projects: dict[int, set[str]] = defaultdict(set)
    for blob_id, project in RepositoryBlob.objects.values_list("blob_id", "repository__project__name").iterator(
            chunk_size=10000):
        if blob_id in garbage:
            projects[blob_id].add(project)
    for blob_id, size in garbage.items():
        # A blob linked by no indexed repository (pushed without a manifest, its repository deleted) is
        # reported under "".
        for project in projects.get(blob_id) or {""}:
            report[project]["blobs"] += 1
            report[project]["bytes"] += size
    result.report = dict(report)
    return result


# -- runs ------------------------------------------------------------------------------------------------------


def request_run(principal: Principal, *, dry_run: bool, delete_untagged: bool, source_ip: str | None = None) -> GCRun:
    """A run, recorded with its audit row; the Celery task carries it out by id once the transaction commits
    (and the scheduler's periodic pass starts any pending run a lost message left behind)."""
    require(principal, Action.CREATE, Resource.system(SystemResource.GARBAGE_COLLECTION))
    with transaction.atomic():
        run = GCRun.objects.create(dry_run=dry_run, delete_untagged=delete_untagged,
                                   requested_by=principal.audit_name[:300])
        record(principal, "create", "gc-run", str(run.pk), source_ip=source_ip,
               detail={"dry_run": dry_run, "delete_untagged": delete_untagged})
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def request_stop(principal: Principal, source_ip: str | None = None) -> GCRun:
    """Asks the unfinished run to stop; it stops between two batches, keeping what it did."""
    require(principal, Action.UPDATE, Resource.system(SystemResource.GARBAGE_COLLECTION))
    with transaction.atomic():
        run = GCRun.objects.select_for_update().exclude(status__in=GCRun.FINISHED).order_by("created_at").first()
        if run is None:
            raise NotFound("no garbage collection is running", code="gc_not_running")
        run.stop_requested = True
        if run.status == GCRun.PENDING:
            run.status, run.finished_at = GCRun.STOPPED, timezone.now()
        run.save(update_fields=["stop_requested", "status", "finished_at"])
        record(principal, "stop", "gc-run", str(run.pk), source_ip=source_ip)
    return run


def _claim_run(run_id: int) -> GCRun | None:
    """Moves the run to running, unless it is finished or another run is (the database lock: a partial unique
    index admits one running row). A run whose worker died — no progress for BERTH_GC_LOCK_SECONDS — fails,
    and frees the lock."""
    stale = timezone.now() - timedelta(seconds=settings.GC_LOCK_SECONDS)
    GCRun.objects.filter(status=GCRun.RUNNING, heartbeat_at__lt=stale).update(
        status=GCRun.FAILED, finished_at=timezone.now(), errors=["the worker running it stopped answering"])
    try:
        with transaction.atomic():
            claimed = GCRun.objects.filter(pk=run_id, status=GCRun.PENDING, stop_requested=False).update(
                status=GCRun.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now())
    except IntegrityError:
        return None  # another run holds the lock: this one stays pending, and is started after it
    return GCRun.objects.get(pk=run_id) if claimed else None


class _Stopped(Exception):
    pass


class _Progress:
    def __init__(self, run: GCRun) -> None:
        self.run = run

    def save(self, *fields: str) -> None:
        run = self.run
        run.heartbeat_at = timezone.now()
        run.save(update_fields=[*fields, "heartbeat_at"])
        if GCRun.objects.filter(pk=run.pk, stop_requested=True).exists():
            raise _Stopped

    def error(self, message: str) -> None:
        logger.warning("gc run %s: %s", self.run.pk, message)
        if len(self.run.errors) < MAX_ERRORS:
            self.run.errors.append(message)


def execute(run_id: int, *, client: DistributionClient | None = None,
            storage: RepositoryStorage | None = None) -> GCRun | None:
    """Carries out a run; idempotent (a run already finished or running elsewhere is left alone)."""
    run = _claim_run(run_id)
    if run is None:
        return None
    progress = _Progress(run)
    try:
        found = plan(run.delete_untagged)
        if run.dry_run:
            run.manifests_deleted = len(found.artifacts)
            run.blobs_deleted = len(found.blobs)
            run.bytes_freed = sum(size for _, _, size in found.blobs)
            run.report = found.report
        else:
            _sweep(found, progress, client or distribution(), storage or storage_from_settings())
        run.status = GCRun.SUCCEEDED
    except _Stopped:
        run.status = GCRun.STOPPED
    except Exception as exc:  # the run's row says what failed; the worker lives on
        logger.exception("gc run %s failed", run.pk)
        progress.error(f"the run failed: {exc}")
        run.status = GCRun.FAILED
    run.finished_at = timezone.now()
    summary = {"run": run.pk, "status": run.status, "dry_run": run.dry_run, "manifests_deleted": run.manifests_deleted,
               "blobs_deleted": run.blobs_deleted, "bytes_freed": run.bytes_freed, "errors": len(run.errors)}
    # The finished row, its audit row and its announcement are one change: none exists without the others.
    with transaction.atomic():
        run.save()
        record(GarbageCollector(), "gc", "registry", str(run.pk), detail={k: v for k, v in summary.items() if k != "run"})
        webhooks.emit(EventType.GC_FINISHED, None, summary, operator=run.requested_by or "", subject=f"gc/{run.pk}")
    waiting = GCRun.objects.filter(status=GCRun.PENDING).order_by("created_at").values_list("pk", flat=True).first()
    if waiting is not None:
        transaction.on_commit(lambda: _enqueue(waiting))
    return run


def _sweep(found: Plan, progress: _Progress, client: DistributionClient, storage: RepositoryStorage) -> None:
    run = progress.run
    report: dict[str, dict[str, int]] = defaultdict(lambda: {"manifests": 0, "blobs": 0, "bytes": 0})
    collector = GarbageCollector()
    garbage = {artifact_id: (repository, digest, project) for artifact_id, repository, digest, project in found.artifacts}
    by_name = {(repository, digest): artifact_id for artifact_id, (repository, digest, _) in garbage.items()}
    projects = {project.name: project for project in Project.objects.filter(
        name__in={project for _, _, _, project in found.artifacts})}
    # Roots first: deleting an index takes the children only it held with it; children other garbage
    # indexes still hold become roots once those go.
    while garbage:
        roots = list(Artifact.objects.filter(pk__in=list(garbage)[:1000], parent_count=0).values_list("pk", flat=True))
        if not roots:
            still = set(Artifact.objects.filter(pk__in=list(garbage)).values_list("pk", flat=True))
            if still == set(garbage):
                break
            garbage = {key: value for key, value in garbage.items() if key in still}
            continue
        for artifact_id in roots:
            repository, digest, project = garbage.pop(artifact_id)
            try:
                removed = delete_artifact(collector, projects[project], Repository.objects.get(name=repository),
                                          digest, client=client)
            except (NotFound, Repository.DoesNotExist):
                continue
            except (Conflict, RegistryUnavailable, BerthError) as exc:
                progress.error(f"{repository}@{digest} kept: {getattr(exc, 'message', exc)}")
                continue
            run.manifests_deleted += len(removed)
            report[project]["manifests"] += len(removed)
            for gone in removed:  # the children and referrers that went with it
                garbage.pop(by_name.get((repository, gone), 0), None)
        run.report = dict(report)
        progress.save("manifests_deleted", "report", "errors")
    assert found.cutoff is not None
    candidates = [blob_id for blob_id, _, _ in found.blobs]
    for offset in range(0, len(candidates), SWEEP_BATCH):
        _sweep_blobs(candidates[offset:offset + SWEEP_BATCH], found.cutoff, storage, progress, report)
        run.report = dict(report)
        progress.save("blobs_deleted", "bytes_freed", "report", "errors")


def _sweep_blobs(batch: list[int], cutoff: datetime, storage: RepositoryStorage, progress: _Progress,
                 report: dict[str, dict[str, int]]) -> None:
    run = progress.run
    unused = ~Exists(ArtifactBlob.objects.filter(blob=OuterRef("pk")))
    with transaction.atomic():
        # The claim: rows a push touched since the mark (or a manifest now uses) are not taken. PostgreSQL
        # re-reads a row a push has just updated before locking it, so the conditions hold for what is locked.
        claimed = list(Blob.objects.select_for_update(skip_locked=True).filter(
            Q(pushed_at__lt=cutoff) | Q(status=Blob.DELETING), pk__in=batch).filter(unused)
            .values_list("pk", "digest", "size"))
        Blob.objects.filter(pk__in=[pk for pk, _, _ in claimed]).update(status=Blob.DELETING)
    if not claimed:
        return
    links: dict[int, list[str]] = defaultdict(list)
    owners: dict[int, set[str]] = defaultdict(set)
    for blob_id, repository, project in RepositoryBlob.objects.filter(blob_id__in=[pk for pk, _, _ in claimed]) \
            .values_list("blob_id", "repository__name", "repository__project__name"):
        links[blob_id].append(repository)
        owners[blob_id].add(project)
    try:
        storage.remove_blobs([(digest, links.get(pk, [])) for pk, digest, _ in claimed])
    except StorageError as exc:
        # The rows stay claimed: no push relies on them, and the next run removes them.
        progress.error(exc.message)
        return
    Blob.objects.filter(pk__in=[pk for pk, _, _ in claimed]).delete()
    for pk, _, size in claimed:
        run.blobs_deleted += 1
        run.bytes_freed += size
        for project in owners.get(pk) or {""}:
            report[project]["blobs"] += 1
            report[project]["bytes"] += size


# -- schedule --------------------------------------------------------------------------------------------------


def _crontab(expression: str) -> Any:
    from celery.schedules import crontab

    fields = expression.split()
    if len(fields) != 5:
        raise InvalidInput(f"invalid cron expression {expression!r}: expected 5 fields (minute hour day month "
                           "weekday)", code="invalid_cron")
    try:
        return crontab(minute=fields[0], hour=fields[1], day_of_month=fields[2], month_of_year=fields[3],
                       day_of_week=fields[4])
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"invalid cron expression {expression!r}: {exc}", code="invalid_cron") from None


def set_schedule(principal: Principal, cron: str, delete_untagged: bool, source_ip: str | None = None) -> GCSchedule:
    require(principal, Action.UPDATE, Resource.system(SystemResource.GARBAGE_COLLECTION))
    cron = " ".join(cron.split())
    if cron:
        _crontab(cron)
    with transaction.atomic():
        schedule = GCSchedule.load()
        schedule.cron, schedule.delete_untagged = cron, delete_untagged
        schedule.last_scheduled_at = timezone.now()
        schedule.save()
        record(principal, "update", "gc-schedule", "gc", source_ip=source_ip,
               detail={"cron": cron, "delete_untagged": delete_untagged})
    return schedule


def run_due() -> int | None:
    """The beat's pass: starts a run when the schedule is due, and any run a lost message left pending.
    Returns the id of the run it scheduled, if any."""
    scheduled = None
    with transaction.atomic():
        schedule = GCSchedule.objects.select_for_update().filter(pk=1).first()
        if schedule is not None and schedule.cron:
            due, _ = _crontab(schedule.cron).is_due(schedule.last_scheduled_at or schedule.updated_at)
            if due:
                schedule.last_scheduled_at = timezone.now()
                schedule.save(update_fields=["last_scheduled_at"])
                run = GCRun.objects.create(delete_untagged=schedule.delete_untagged, requested_by="schedule")
                record(GarbageCollector(), "create", "gc-run", str(run.pk), detail={"scheduled": schedule.cron})
                scheduled = run.pk
    waiting = GCRun.objects.filter(status=GCRun.PENDING).order_by("created_at").values_list("pk", flat=True).first()
    if waiting is not None:
        transaction.on_commit(lambda: _enqueue(waiting))
    return scheduled


def _enqueue(run_id: int) -> None:
    # By name: portal.storage.tasks imports this module, not the other way round.
    current_app.send_task("portal.storage.tasks.run_gc", args=[run_id])
