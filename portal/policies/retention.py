"""Retention: which tags a project's rules keep, and a run that removes the others tag by tag.

Sized for a project of 1,000 repositories and 100,000 tags: the evaluation reads the project's tags, artifacts,
immutability rules and running containers in a fixed handful of queries and decides in Python; no query is
made per tag or per repository. A rule ranks tags by the tag's own push (or pull) time, since what it removes
is tags, not artifacts: an artifact keeps every tag some rule keeps, and loses only the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from celery.schedules import crontab
from django.db import DatabaseError, transaction
from django.utils import timezone

from portal.artifacts.models import Artifact, ArtifactReference, Repository, Tag
from portal.artifacts.services import remove_tags
from portal.audit.services import record
from portal.fleet.models import Container, DesiredState
from portal.policies.guards import immutability_rules, immutable_message, protecting_rule, selected
from portal.policies.models import RetentionPolicy, RetentionRule, RetentionRun, RunStatus, Template
from portal.projects.models import Project
from portal.rbac.principals import Principal
from portal.rbac.roles import Action, ProjectResource
from portal.webhooks import services as webhooks
from portal.webhooks.models import EventType

logger = logging.getLogger(__name__)

REMOVED = "removed"


class RetentionActor(Principal):
    """Berth removing tags on a retention run's behalf: it may delete tags, nothing else; audit rows name the run."""

    kind: ClassVar[str] = "system"

    def __init__(self, name: str) -> None:
        self.name = name

    def granted_in(self, project: Any) -> frozenset[tuple[ProjectResource, Action]]:
        return frozenset({(ProjectResource.TAG, Action.DELETE)})


def parse_schedule(schedule: str) -> crontab:
    """Five cron fields, in UTC; ValueError names what is wrong."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"a schedule has five cron fields (minute hour day month weekday), not {len(fields)}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                   day_of_week=day_of_week)


@dataclass
class _TagRow:
    name: str
    artifact_id: int
    pushed_at: datetime
    pulled_at: datetime | None


@dataclass
class Evaluation:
    # repository → tag → "removed" or "kept: …"
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    # repository → untagged artifact digest → "kept: …" or "untagged: left to GC" (retention removes tags only)
    untagged: dict[str, dict[str, str]] = field(default_factory=dict)
    # repository → [(tag, artifact id)] to remove
    doomed: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    removed: int = 0
    kept: int = 0

    def report(self) -> dict[str, Any]:
        return {"repositories": self.tags, "untagged": self.untagged, "removed": self.removed, "kept": self.kept}


def _latest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


def _kept_by_rule(rule: RetentionRule, rows: list[_TagRow], artifact_pulls: dict[int, datetime | None],
                  now: datetime) -> set[str]:
    def pulled(row: _TagRow) -> datetime | None:
        return _latest(row.pulled_at, artifact_pulls.get(row.artifact_id))

    template, count = rule.template, rule.count
    if template == Template.ALWAYS:
        return {row.name for row in rows}
    if template == Template.KEEP_LATEST_PUSHED:
        ranked = sorted(rows, key=lambda row: (row.pushed_at, row.name), reverse=True)
        return {row.name for row in ranked[:count]}
    if template == Template.KEEP_LATEST_PULLED:
        # Pulls by the tag rank first; the artifact's pulls (by digest, or by its other tags) only break ties.
        never = datetime.min.replace(tzinfo=now.tzinfo)
        ranked = sorted((row for row in rows if pulled(row) is not None),
                        key=lambda row: (row.pulled_at or never, artifact_pulls.get(row.artifact_id) or never,
                                         row.name), reverse=True)
        return {row.name for row in ranked[:count]}
    since = now - timedelta(days=count)
    if template == Template.PUSHED_WITHIN_DAYS:
        return {row.name for row in rows if row.pushed_at >= since}
    return {row.name for row in rows if (pulled(row) or since - timedelta(seconds=1)) >= since}


def evaluate(project: Project, rules: list[RetentionRule], now: datetime | None = None) -> Evaluation:
    """What a run of `rules` keeps and removes, per repository: a fixed number of queries, whatever the size."""
    now = now or timezone.now()
    repositories = dict(Repository.objects.filter(project=project).values_list("pk", "name"))
    tags_by_repository: dict[int, list[_TagRow]] = defaultdict(list)
    rows = Tag.objects.filter(repository__project=project).values_list(
        "repository_id", "name", "artifact_id", "pushed_at", "last_pulled_at")
    for repository_id, name, artifact_id, pushed_at, pulled_at in rows.iterator(chunk_size=10000):
        tags_by_repository[repository_id].append(_TagRow(name, artifact_id, pushed_at, pulled_at))
    artifact_pulls: dict[int, datetime | None] = dict(
        Artifact.objects.filter(repository__project=project, tag_count__gt=0).values_list("pk", "last_pulled_at")
        .iterator(chunk_size=10000))
    untagged_by_repository: dict[int, list[_TagRow]] = defaultdict(list)
    # Listed artifacts with no tag, as rows named by digest: rules that include untagged artifacts rank them too.
    for pk, repository_id, digest, pushed_at, pulled_at in Artifact.objects.filter(
            repository__project=project, tag_count=0, parent_count=0, subject_digest="").values_list(
            "pk", "repository_id", "digest", "pushed_at", "last_pulled_at").iterator(chunk_size=10000):
        untagged_by_repository[repository_id].append(_TagRow(digest, pk, pushed_at, pulled_at))
    running = _running_artifacts(project, repositories)
    protection = immutability_rules(project.pk)
    evaluation = Evaluation()
    for repository_id, name in sorted(repositories.items(), key=lambda item: item[1]):
        rows_here = tags_by_repository.get(repository_id, [])
        short_name = name.partition("/")[2]
        _judge_untagged(evaluation, name, short_name, untagged_by_repository.get(repository_id, []), rules, running,
                        now)
        if not rows_here:
            continue
        verdicts: dict[str, str] = {}
        for row in rows_here:
            rule = protecting_rule(protection, name, row.name) if protection else None
            if rule is not None:
                verdicts[row.name] = f"kept: {immutable_message(rule, name, row.name)}"
            elif row.artifact_id in running:
                verdicts[row.name] = f"kept: running on host {', '.join(sorted(running[row.artifact_id]))}"
        for rule in rules:
            if not selected(short_name, rule.repositories, rule.repositories_excluded):
                continue
            candidates = [row for row in rows_here if selected(row.name, rule.tags, rule.tags_excluded)]
            for tag in _kept_by_rule(rule, candidates, artifact_pulls, now):
                verdicts.setdefault(tag, f"kept: rule {rule.label}")
        doomed = [(row.name, row.artifact_id) for row in rows_here if row.name not in verdicts]
        for tag, _ in doomed:
            verdicts[tag] = REMOVED
        evaluation.tags[name] = dict(sorted(verdicts.items()))
        if doomed:
            evaluation.doomed[name] = doomed
        evaluation.removed += len(doomed)
        evaluation.kept += len(rows_here) - len(doomed)
    return evaluation


def _judge_untagged(evaluation: Evaluation, name: str, short_name: str, rows: list[_TagRow],
                    rules: list[RetentionRule], running: dict[int, set[str]], now: datetime) -> None:
    if not rows:
        return
    verdicts = {row.name: f"kept: running on host {', '.join(sorted(running[row.artifact_id]))}"
                for row in rows if row.artifact_id in running}
    for rule in rules:
        if rule.untagged and selected(short_name, rule.repositories, rule.repositories_excluded):
            for digest in _kept_by_rule(rule, rows, {}, now):
                verdicts.setdefault(digest, f"kept: rule {rule.label}")
    evaluation.untagged[name] = {row.name: verdicts.get(row.name, "untagged: left to GC") for row in rows}


def _running_artifacts(project: Project, repositories: dict[int, str]) -> dict[int, set[str]]:
    """Artifact id → hosts where a container that should be running runs it (an index counts for its children
    too: untagging it would let GC take the child with it)."""
    running = list(Container.objects.filter(project=project, desired_state=DesiredState.RUNNING).values_list(
        "repository", "digest", "host_name"))
    if not running:
        return {}
    by_name = {name: pk for pk, name in repositories.items()}
    hosts: dict[tuple[int, str], set[str]] = defaultdict(set)
    for repository, digest, host in running:
        if repository in by_name:
            hosts[(by_name[repository], digest)].add(host)
    found: dict[int, set[str]] = defaultdict(set)
    ids = {}
    for pk, repository_id, digest in Artifact.objects.filter(
            repository_id__in={key[0] for key in hosts}, digest__in={key[1] for key in hosts}).values_list(
            "pk", "repository_id", "digest"):
        if (repository_id, digest) in hosts:
            found[pk] |= hosts[(repository_id, digest)]
            ids[pk] = hosts[(repository_id, digest)]
    for parent_id, child_id in ArtifactReference.objects.filter(child_id__in=list(ids)).values_list(
            "parent_id", "child_id"):
        found[parent_id] |= ids[child_id]
    return found


def policy_rules(project: Project) -> list[RetentionRule]:
    policy = RetentionPolicy.objects.filter(project=project).first()
    return list(policy.rules.all()) if policy is not None else []


class RetentionBusy(Exception):
    """Another run of the project holds its policy's lock."""


def execute_run(run_id: int) -> RetentionRun | None:
    """Carries a run out: idempotent (a finished run is left alone; one a dead worker left running is redone,
    its transaction having rolled back) and one per project at a time (the policy row's lock)."""
    run = RetentionRun.objects.filter(pk=run_id).select_related("project").first()
    if run is None or run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        return run
    RetentionRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    project = run.project
    try:
        with transaction.atomic():
            policy, _ = RetentionPolicy.objects.get_or_create(project=project)
            try:
                RetentionPolicy.objects.select_for_update(nowait=True).get(pk=policy.pk)
            except DatabaseError:
                raise RetentionBusy(f"another retention run of project {project.name} is in progress") from None
            evaluation = evaluate(project, list(policy.rules.all()))
            if not run.dry_run:
                actor = RetentionActor(f"retention run {run.pk} ({run.triggered_by or run.trigger})")
                for repository in Repository.objects.filter(name__in=list(evaluation.doomed)):
                    remove_tags(actor, repository, evaluation.doomed[repository.name],
                                reason=f"retention run {run.pk}")
            RetentionRun.objects.filter(pk=run.pk).update(
                status=RunStatus.SUCCEEDED, report=evaluation.report(), removed=evaluation.removed,
                kept=evaluation.kept, finished_at=timezone.now())
            record(RetentionActor(f"retention run {run.pk}"), "run", "retention", f"{project.name}#{run.pk}",
                   project=project, detail={"dry_run": run.dry_run, "removed": evaluation.removed,
                                            "kept": evaluation.kept, "trigger": run.trigger})
            webhooks.emit(EventType.RETENTION_FINISHED, project,
                          {"run": run.pk, "project": project.name, "dry_run": run.dry_run, "trigger": run.trigger,
                           "removed": evaluation.removed, "kept": evaluation.kept},
                          operator=run.triggered_by or run.trigger, subject=f"{project.name}/retention/{run.pk}")
    except RetentionBusy as exc:
        RetentionRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error=str(exc),
                                                      finished_at=timezone.now())
    except Exception as exc:
        logger.exception("retention run %s of %s failed", run.pk, project.name)
        RetentionRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error=str(exc)[:2000],
                                                      finished_at=timezone.now())
    run.refresh_from_db()
    return run


def create_due_runs(now: datetime | None = None) -> list[int]:
    """Runs for every policy whose schedule fell due since it last ran; the conditional update makes a second
    beat (or a repeated tick) start none."""
    now = now or timezone.now()
    started = []
    for policy in RetentionPolicy.objects.exclude(schedule="").select_related("project"):
        try:
            schedule = parse_schedule(policy.schedule)
        except ValueError:
            continue
        last = policy.last_scheduled_at or policy.updated_at
        if not _due(schedule, last, now):
            continue
        claimed = RetentionPolicy.objects.filter(pk=policy.pk, last_scheduled_at=policy.last_scheduled_at).update(
            last_scheduled_at=now)
        if claimed:
            run = RetentionRun.objects.create(project=policy.project, dry_run=False, trigger="schedule",
                                              triggered_by="schedule")
            started.append(run.pk)
    return started


def _due(schedule: crontab, last: datetime, now: datetime) -> bool:
    """Some minute after `last`, up to `now`, matches the cron fields."""
    moment = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    # A schedule missed for longer than a day (beat down) runs once, not once per missed minute.
    moment = max(moment, now.replace(second=0, microsecond=0) - timedelta(days=1))
    while moment <= now:
        if (moment.minute in schedule.minute and moment.hour in schedule.hour
                and moment.day in schedule.day_of_month and moment.month in schedule.month_of_year
                and moment.isoweekday() % 7 in schedule.day_of_week):
            return True
        moment += timedelta(minutes=1)
    return False
