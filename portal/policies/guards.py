"""What the artifact index asks of tag policies inside its own transactions: immutability refusals and the
tag history rows. It imports only models, so the index's services can call it and the policies' services
can build on the index's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from django.conf import settings
from django.utils import timezone

from portal.artifacts.models import Repository, Tag
from portal.policies.models import ImmutabilityRule, ProjectPolicySettings, TagAction, TagEvent
from portal.utilities.errors import Conflict


class TagImmutable(Conflict):
    code = "tag_immutable"


def selected(value: str, patterns: list[str], excluded: list[str]) -> bool:
    """A selector's verdict: no pattern selects everything; an exclusion wins over a match."""
    if patterns and not any(fnmatchcase(value, pattern) for pattern in patterns):
        return False
    return not any(fnmatchcase(value, pattern) for pattern in excluded)


def protecting_rule(rules: Iterable[ImmutabilityRule], repository: str, tag: str) -> ImmutabilityRule | None:
    """The first rule that makes `tag` of `repository` (its full name) immutable."""
    short_name = repository.partition("/")[2]
    for rule in rules:
        if (rule.tags and selected(short_name, rule.repositories, rule.repositories_excluded)
                and selected(tag, rule.tags, rule.tags_excluded)):
            return rule
    return None


def immutability_rules(project_id: int) -> list[ImmutabilityRule]:
    return list(ImmutabilityRule.objects.filter(project_id=project_id))


def immutable_message(rule: ImmutabilityRule, repository: str, tag: str) -> str:
    return f'tag {tag} of {repository} is immutable (rule "{rule.label}")'


def refuse_moving_immutable_tag(project_id: int, repository: str, tag: str, from_digest: str | None,
                                to_digest: str) -> None:
    """A new tag, or the same digest pushed again, is fine; moving a protected tag is not."""
    if not from_digest or from_digest == to_digest:
        return
    rule = protecting_rule(immutability_rules(project_id), repository, tag)
    if rule is not None:
        raise TagImmutable(immutable_message(rule, repository, tag))


def refuse_deleting_immutable_tags(project_id: int, repository: str, tags: Iterable[str]) -> None:
    rules = immutability_rules(project_id)
    if not rules:
        return
    for tag in tags:
        rule = protecting_rule(rules, repository, tag)
        if rule is not None:
            raise TagImmutable(immutable_message(rule, repository, tag))


def refuse_deleting_immutable_artifacts(project_id: int, repository: str, artifact_ids: list[int]) -> None:
    """An artifact carrying a protected tag is not deleted (its tag would go with it)."""
    if ImmutabilityRule.objects.filter(project_id=project_id).exists():
        refuse_deleting_immutable_tags(
            project_id, repository, Tag.objects.filter(artifact_id__in=artifact_ids).values_list("name", flat=True))


def record_tag_change(project_id: int, repository: str, tag: str, from_digest: str | None, to_digest: str,
                      actor: str, at: datetime) -> None:
    if from_digest == to_digest:
        return
    TagEvent.objects.create(project_id=project_id, repository=repository, tag=tag, from_digest=from_digest or "",
                            to_digest=to_digest, action=TagAction.MOVED if from_digest else TagAction.CREATED,
                            actor=actor[:300], at=at)


def record_tag_deletions(project_id: int, repository: str, tags: Iterable[tuple[str, str]], actor: str,
                         at: datetime) -> int:
    """One `deleted` row per (tag, digest it pointed at), in batches: a repository may hold 100,000 tags."""
    events = [TagEvent(project_id=project_id, repository=repository, tag=tag, from_digest=digest,
                       action=TagAction.DELETED, actor=actor[:300], at=at) for tag, digest in tags]
    TagEvent.objects.bulk_create(events, batch_size=1000)
    return len(events)


def record_artifact_tag_deletions(project_id: int, repository: str, artifact_ids: list[int], actor: str,
                                  at: datetime) -> int:
    return record_tag_deletions(project_id, repository, Tag.objects.filter(artifact_id__in=artifact_ids)
                                .values_list("name", "artifact__digest"), actor, at)


def tag_history_days(project_id: int) -> int:
    days = ProjectPolicySettings.objects.filter(project_id=project_id).values_list(
        "tag_history_days", flat=True).first()
    return int(settings.TAG_HISTORY_DAYS if days is None else days)


def tag_protection(repository: str, tag: str) -> tuple[str, str] | None:
    """(the digest the tag points at, the refusal's message) when an immutability rule protects the tag;
    None when the tag is free to be pushed (unprotected, or not set yet). Two indexed queries."""
    current = Tag.objects.filter(repository__name=repository, name=tag).values_list(
        "artifact__digest", "repository__project_id").first()
    if current is None:
        return None
    digest, project_id = current
    rule = protecting_rule(immutability_rules(project_id), repository, tag)
    return None if rule is None else (digest, immutable_message(rule, repository, tag))


def digests_kept_by_tag_history(repository_ids: list[int]) -> dict[int, set[str]]:
    """For garbage collection: per repository, the digests a tag pointed at within its project's window, which
    must stay restorable (with their blobs). One query per project, none per tag."""
    now = timezone.now()
    repositories = list(Repository.objects.filter(pk__in=repository_ids).values_list("pk", "name", "project_id"))
    by_project: dict[int, dict[str, int]] = defaultdict(dict)
    for pk, name, project_id in repositories:
        by_project[project_id][name] = pk
    kept: dict[int, set[str]] = {pk: set() for pk, _, _ in repositories}
    for project_id, names in by_project.items():
        days = tag_history_days(project_id)
        if days == 0:
            continue
        rows = TagEvent.objects.filter(repository__in=list(names), at__gte=now - timedelta(days=days)).values_list(
            "repository", "from_digest", "to_digest")
        for name, from_digest, to_digest in rows.iterator(chunk_size=5000):
            kept[names[name]].update(digest for digest in (from_digest, to_digest) if digest)
    return kept
