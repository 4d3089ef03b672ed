"""Tag policies' writes and queries: immutability rules, a tag's history and its restore, retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.artifacts.models import Artifact, Repository, Tag
from portal.artifacts.services import (
    distribution,
    record_manifest_push,
    repository_in,
    validate_digest,
    validate_tag,
)
from portal.audit.services import record
from portal.policies.guards import tag_history_days
from portal.policies.models import (
    ImmutabilityRule,
    ProjectPolicySettings,
    RetentionPolicy,
    RetentionRule,
    RetentionRun,
    TagEvent,
    Template,
)
from portal.policies.retention import parse_schedule
from portal.policies.tasks import run_retention
from portal.projects.models import Project
from portal.rbac.principals import Principal, Resource, require
from portal.rbac.roles import Action, ProjectResource
from portal.registry.distribution import DistributionClient, DistributionError, DistributionNotFound
from portal.utilities.errors import Conflict, InvalidInput, NotFound

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 255
MAX_RULES = 15


def _require(principal: Principal, action: Action, project: Project, kind: ProjectResource) -> None:
    require(principal, action, Resource.of_project(project, kind))


def validate_patterns(value: Any, field_name: str, *, required: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InvalidInput(f"{field_name} must be a list of glob patterns", code="invalid_pattern")
    if required and not value:
        raise InvalidInput(f"{field_name} needs at least one glob pattern", code="invalid_pattern")
    if len(value) > MAX_PATTERNS or any(len(item) > MAX_PATTERN_LENGTH or "\x00" in item for item in value):
        raise InvalidInput(f"{field_name}: at most {MAX_PATTERNS} patterns of at most {MAX_PATTERN_LENGTH} "
                           "characters each", code="invalid_pattern")
    return list(value)


# -- immutability -------------------------------------------------------------------------------------------


def immutability_rules_of(principal: Principal, project: Project) -> list[ImmutabilityRule]:
    _require(principal, Action.LIST, project, ProjectResource.IMMUTABLE_TAG)
    return list(ImmutabilityRule.objects.filter(project=project))


def _rule_detail(rule: ImmutabilityRule) -> dict[str, Any]:
    return {"repositories": rule.repositories, "repositories_excluded": rule.repositories_excluded,
            "tags": rule.tags, "tags_excluded": rule.tags_excluded}


def create_immutability_rule(principal: Principal, project: Project, *, tags: list[str],
                             repositories: list[str] | None = None, repositories_excluded: list[str] | None = None,
                             tags_excluded: list[str] | None = None, source_ip: str | None = None,
                             ) -> ImmutabilityRule:
    _require(principal, Action.CREATE, project, ProjectResource.IMMUTABLE_TAG)
    with transaction.atomic():
        rule = ImmutabilityRule.objects.create(
            project=project, tags=validate_patterns(tags, "tags", required=True),
            repositories=validate_patterns(repositories or [], "repositories"),
            repositories_excluded=validate_patterns(repositories_excluded or [], "repositories_excluded"),
            tags_excluded=validate_patterns(tags_excluded or [], "tags_excluded"),
            created_by=principal.audit_name[:300])
        record(principal, "create", "immutability_rule", f"{project.name}#{rule.pk}", project=project,
               source_ip=source_ip, detail=_rule_detail(rule))
    return rule


def find_immutability_rule(project: Project, rule_id: str | int) -> ImmutabilityRule:
    rule = ImmutabilityRule.objects.filter(project=project, pk=rule_id).first() if str(rule_id).isdigit() else None
    if rule is None:
        raise NotFound(f"immutability rule {rule_id!r} of project {project.name!r} not found",
                       code="immutability_rule_not_found")
    return rule


def update_immutability_rule(principal: Principal, rule: ImmutabilityRule, changes: dict[str, Any],
                             source_ip: str | None = None) -> ImmutabilityRule:
    _require(principal, Action.UPDATE, rule.project, ProjectResource.IMMUTABLE_TAG)
    with transaction.atomic():
        for name in ("repositories", "repositories_excluded", "tags", "tags_excluded"):
            if name in changes:
                setattr(rule, name, validate_patterns(changes[name], name, required=name == "tags"))
        rule.save()
        record(principal, "update", "immutability_rule", f"{rule.project.name}#{rule.pk}", project=rule.project,
               source_ip=source_ip, detail=_rule_detail(rule))
    return rule


def delete_immutability_rule(principal: Principal, rule: ImmutabilityRule, source_ip: str | None = None) -> None:
    _require(principal, Action.DELETE, rule.project, ProjectResource.IMMUTABLE_TAG)
    with transaction.atomic():
        record(principal, "delete", "immutability_rule", f"{rule.project.name}#{rule.pk}", project=rule.project,
               source_ip=source_ip, detail=_rule_detail(rule))
        rule.delete()


# -- the time machine ---------------------------------------------------------------------------------------


def set_tag_history_days(principal: Principal, project: Project, days: int | None,
                         source_ip: str | None = None) -> int:
    """A project's restore window (None: the system default); returns the window in force."""
    _require(principal, Action.UPDATE, project, ProjectResource.TAG_RETENTION)
    if days is not None and not 0 <= days <= 3650:
        raise InvalidInput("tag_history_days must be between 0 and 3650 (or null for the default)",
                           code="invalid_window")
    with transaction.atomic():
        ProjectPolicySettings.objects.update_or_create(project=project, defaults={"tag_history_days": days})
        record(principal, "update", "tag_history_window", project.name, project=project, source_ip=source_ip,
               detail={"tag_history_days": days})
    return tag_history_days(project.pk)


@dataclass(frozen=True)
class TagHistory:
    repository: str
    tag: str
    window_days: int
    # Events older than this cannot be restored to (None: the time machine is off).
    restorable_since: datetime | None
    events: list[TagEvent]
    # The digests a restore may still point the tag at.
    restorable: set[str]


def _window_start(project: Project, now: datetime) -> datetime | None:
    days = tag_history_days(project.pk)
    return None if days == 0 else now - timedelta(days=days)


def tag_history(principal: Principal, project: Project, repository: str, tag: str,
                limit: int = 200) -> TagHistory:
    _require(principal, Action.LIST, project, ProjectResource.TAG)
    validate_tag(tag)
    full = f"{project.name}/{repository}"
    events = list(TagEvent.objects.filter(repository=full, tag=tag)[:limit])
    if not events and not Repository.objects.filter(name=full, project=project).exists():
        raise NotFound(f"repository {full!r} not found", code="repository_not_found")
    since = _window_start(project, timezone.now())
    current = Tag.objects.filter(repository__name=full, name=tag).values_list("artifact__digest", flat=True).first()
    candidates = {digest for event in events if since is not None and event.at >= since
                  for digest in (event.from_digest, event.to_digest) if digest and digest != current}
    stored = set(Artifact.objects.filter(repository__name=full, digest__in=list(candidates))
                 .values_list("digest", flat=True)) if candidates else set()
    return TagHistory(full, tag, tag_history_days(project.pk), since, events, stored)


def restore_tag(principal: Principal, project: Project, repository: str, tag: str, digest: str,
                source_ip: str | None = None, *, client: DistributionClient | None = None) -> Artifact:
    """Points `tag` back at a digest it pointed at within the project's window, in distribution and the index.

    Refused when the window is off or has passed, when the tag never pointed there, when the manifest is
    gone, or when an immutability rule protects the tag's current digest.
    """
    _require(principal, Action.CREATE, project, ProjectResource.TAG)
    validate_tag(tag)
    validate_digest(digest)
    repo = repository_in(project, repository)
    client = client or distribution()
    now = timezone.now()
    days = tag_history_days(project.pk)
    pointed = TagEvent.objects.filter(repository=repo.name, tag=tag).filter(
        Q(from_digest=digest) | Q(to_digest=digest))
    last_pointed = pointed.order_by("-at").values_list("at", flat=True).first()
    if last_pointed is None:
        raise NotFound(f"tag {repo.name}:{tag} never pointed at {digest} as far as its history goes",
                       code="tag_history_unknown")
    if days == 0:
        raise Conflict(f"the tag history of project {project.name} is off (a window of 0 days): "
                       "no tag can be restored", code="tag_history_off")
    if last_pointed < now - timedelta(days=days):
        raise Conflict(f"tag {repo.name}:{tag} last pointed at {digest} on {last_pointed:%Y-%m-%d %H:%M} UTC, "
                       f"outside project {project.name}'s {days}-day window: it can no longer be restored",
                       code="tag_history_expired")
    artifact = Artifact.objects.filter(repository=repo, digest=digest).first()
    if artifact is None:
        raise Conflict(f"the manifest {digest} of {repo.name} is gone (its artifact was deleted): "
                       f"tag {tag} cannot be restored to it", code="manifest_gone")
    previous = Tag.objects.filter(repository=repo, name=tag).values_list("artifact__digest", flat=True).first()
    if previous == digest:
        return artifact
    manifest, media_type = bytes(artifact.manifest), artifact.media_type
    with transaction.atomic():
        # The index first (it refuses moving an immutable tag), distribution's tag last, inside the transaction:
        # a refusal there rolls the index back, and reconcile would otherwise move the tag back again.
        restored = record_manifest_push(principal, repo.name, tag, digest, media_type, manifest, source_ip,
                                        client=client)
        record(principal, "restore", "tag", f"{repo.name}:{tag}", project=project, source_ip=source_ip,
               detail={"digest": digest, "previous": previous})
        try:
            client.put_manifest(repo.name, tag, manifest, media_type)
        except DistributionNotFound:
            raise Conflict(f"the manifest {digest} of {repo.name} is gone from the registry's storage: "
                           f"tag {tag} cannot be restored to it", code="manifest_gone") from None
        except DistributionError as exc:
            raise Conflict(f"the registry refused restoring {repo.name}:{tag} to {digest}: {exc}",
                           code="manifest_gone") from None
    return restored


# -- retention ----------------------------------------------------------------------------------------------


def retention_policy(principal: Principal, project: Project) -> RetentionPolicy | None:
    _require(principal, Action.READ, project, ProjectResource.TAG_RETENTION)
    return RetentionPolicy.objects.filter(project=project).prefetch_related("rules").first()


def set_retention_policy(principal: Principal, project: Project, schedule: str, rules: list[dict[str, Any]],
                         source_ip: str | None = None) -> RetentionPolicy:
    """Replaces the project's rules (OR'ed, in order) and schedule."""
    _require(principal, Action.UPDATE, project, ProjectResource.TAG_RETENTION)
    schedule = " ".join(schedule.split())
    if schedule:
        try:
            parse_schedule(schedule)
        except ValueError as exc:
            raise InvalidInput(f"invalid schedule {schedule!r}: {exc}", code="invalid_schedule") from None
    if len(rules) > MAX_RULES:
        raise InvalidInput(f"a retention policy has at most {MAX_RULES} rules", code="too_many_rules")
    built = []
    for position, rule in enumerate(rules):
        template = rule["template"]
        count = int(rule.get("count") or 0)
        if template != Template.ALWAYS and count < 1:
            raise InvalidInput(f"rule {position + 1}: {template} needs a count of at least 1", code="invalid_rule")
        built.append(RetentionRule(
            position=position, template=template, count=count if template != Template.ALWAYS else 0,
            untagged=bool(rule.get("untagged", False)),
            repositories=validate_patterns(rule.get("repositories", []), "repositories"),
            repositories_excluded=validate_patterns(rule.get("repositories_excluded", []), "repositories_excluded"),
            tags=validate_patterns(rule.get("tags", []), "tags"),
            tags_excluded=validate_patterns(rule.get("tags_excluded", []), "tags_excluded")))
    with transaction.atomic():
        policy, _ = RetentionPolicy.objects.get_or_create(project=project)
        # The lock a run holds: a policy is not rewritten under a running run.
        policy = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
        policy.schedule, policy.updated_by = schedule, principal.audit_name[:300]
        policy.save()
        policy.rules.all().delete()
        for rule in built:
            rule.policy = policy
        RetentionRule.objects.bulk_create(built)
        record(principal, "update", "retention_policy", project.name, project=project, source_ip=source_ip,
               detail={"schedule": schedule, "rules": [rule.label for rule in built]})
    return RetentionPolicy.objects.prefetch_related("rules").get(pk=policy.pk)


def start_retention_run(principal: Principal, project: Project, dry_run: bool,
                        source_ip: str | None = None) -> RetentionRun:
    """A run row (the durable record of the work) and its task, enqueued once the row is committed."""
    _require(principal, Action.CREATE, project, ProjectResource.TAG_RETENTION)
    with transaction.atomic():
        run = RetentionRun.objects.create(project=project, dry_run=dry_run, trigger="manual",
                                          triggered_by=principal.audit_name[:300])
        record(principal, "create", "retention_run", f"{project.name}#{run.pk}", project=project,
               source_ip=source_ip, detail={"dry_run": dry_run})
        run_retention.delay_on_commit(run.pk)
    return run


def retention_runs(principal: Principal, project: Project) -> Any:
    _require(principal, Action.LIST, project, ProjectResource.TAG_RETENTION)
    return RetentionRun.objects.filter(project=project).defer("report")


def find_retention_run(principal: Principal, project: Project, run_id: str | int) -> RetentionRun:
    _require(principal, Action.READ, project, ProjectResource.TAG_RETENTION)
    run = RetentionRun.objects.filter(project=project, pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise NotFound(f"retention run {run_id!r} of project {project.name!r} not found",
                       code="retention_run_not_found")
    return run
