"""Writes and fast reads of the artifact index; the registry proxy and the browse API both call these.

Every write locks its repository row first (one writer per repository at a time), changes rows and
the repository's counters in one transaction, and writes the audit row in that same transaction.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce, Greatest, Length, RowNumber
from django.utils import timezone
from rest_framework import status

from portal.artifacts.kinds import classify
from portal.artifacts.manifests import (
    InvalidManifest,
    ParsedManifest,
    image_facts,
    is_digest,
    is_repository_name,
    is_tag,
    parse_config,
    parse_manifest,
)
from portal.artifacts.models import (
    LISTED,
    Artifact,
    ArtifactReference,
    DeletedTag,
    DigestAlias,
    Repository,
    Tag,
)
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.policies.guards import (
    record_artifact_tag_deletions,
    record_tag_change,
    record_tag_deletions,
    refuse_deleting_immutable_artifacts,
    refuse_deleting_immutable_tags,
    refuse_moving_immutable_tag,
)
from portal.projects.models import Project
from portal.rbac.principals import AnonymousPrincipal, Principal, Resource, require
from portal.rbac.roles import Action, ProjectResource
from portal.registry.distribution import (
    DistributionClient,
    DistributionError,
    DistributionNotFound,
)
from portal.registry.storage import RepositoryStorage, storage_from_settings
from portal.storage.services import index_artifact_blobs, repair_repository_blobs
from portal.utilities.errors import BerthError, Conflict, InvalidInput, NotFound
from portal.webhooks import services as webhooks

# Image configs are a few KiB; anything near this is not one worth reading whole.
CONFIG_MAX_BYTES = 1024 * 1024
# HEAD requests reconcile keeps in flight while it reads a repository's tags from distribution.
HEAD_CONCURRENCY = 8
# An index whose children are indexes again is legal but rare; deeper nesting is refused.
MAX_INDEX_DEPTH = 4


class RegistryUnavailable(BerthError):
    code = "registry_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class SystemActor(Principal):
    """Berth itself, in audit rows of work nobody asked for (the scheduled reconcile)."""

    kind: ClassVar[str] = "system"

    def __init__(self, name: str) -> None:
        self.name = name


class _NamedUser(Principal):
    """A pulling user known to the proxy's batch only by name."""

    kind: ClassVar[str] = "user"

    def __init__(self, name: str) -> None:
        self.name = name


class _NamedRobot(_NamedUser):
    kind: ClassVar[str] = "robot"


# -- distribution ------------------------------------------------------------------------------

_clients: dict[tuple[str, str, str], DistributionClient] = {}
_clients_lock = threading.Lock()


def distribution() -> DistributionClient:
    """One client (one connection pool) per process and per configured registry."""
    key = (settings.REGISTRY_URL, settings.REGISTRY_USERNAME, settings.REGISTRY_PASSWORD or "")
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = DistributionClient.from_settings()
        return client


def _unavailable(exc: DistributionError) -> RegistryUnavailable:
    return RegistryUnavailable(f"the registry storage is unavailable: {exc}")


# -- the manifest cache ------------------------------------------------------------------------


class ManifestCache:
    """An LRU of manifests by (repository, digest), bounded in bytes.

    The bytes behind a digest never change, but a manifest can be deleted by another process: an
    entry is trusted for `ttl` seconds, the longest a deleted manifest may still be served from here.
    The process that deletes evicts at once.
    """

    def __init__(self, max_bytes: int, ttl: float) -> None:
        self.max_bytes, self.ttl = max_bytes, ttl
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, repository: str, digest: str) -> tuple[bytes, str] | None:
        key = (repository, digest)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self.ttl:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[1], entry[2]

    def put(self, repository: str, digest: str, body: bytes, media_type: str) -> None:
        if len(body) > self.max_bytes // 8:
            return
        key = (repository, digest)
        with self._lock:
            self._drop(key)
            self._entries[key] = (time.monotonic(), body, media_type)
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def evict(self, repository: str, digest: str) -> None:
        with self._lock:
            self._drop((repository, digest))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[1])


manifest_cache = ManifestCache(settings.MANIFEST_CACHE_BYTES, settings.MANIFEST_CACHE_SECONDS)


# -- validation and lookups --------------------------------------------------------------------


def validate_reference(reference: str) -> str:
    if is_digest(reference) or is_tag(reference):
        return reference
    raise InvalidInput(
        f"invalid reference {reference!r}: expected a tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}) "
        "or a digest (algorithm:hex)",
        code="invalid_reference",
    )


def validate_tag(tag: str) -> str:
    if not is_tag(tag):
        raise InvalidInput(f"invalid tag {tag!r}: use up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -",
                           code="invalid_tag")
    return tag


def validate_digest(digest: str) -> str:
    if not is_digest(digest):
        raise InvalidInput(f"invalid digest {digest!r}: expected algorithm:hex, e.g. sha256:<64 hex digits>",
                           code="invalid_digest")
    return digest


def repository_in(project: Project, name: str) -> Repository:
    """A repository of `project` by its name inside the project (`app` or `team/app`), or 404."""
    full = f"{project.name}/{name}"
    # A name outside the grammar cannot exist, and is not sent to the database (NUL bytes make
    # PostgreSQL fail rather than find nothing).
    repository = None
    if is_repository_name(full):
        repository = Repository.objects.filter(name=full, project=project).select_related("project").first()
    if repository is None:
        raise NotFound(f"repository {full!r} not found", code="repository_not_found")
    return repository


def resolve_artifact(repository: Repository, reference: str) -> Artifact:
    """An artifact by digest or tag, or 404 naming what was missing."""
    validate_reference(reference)
    if is_digest(reference):
        artifact = Artifact.objects.filter(repository=repository, digest=reference).first()
        canonical = canonical_digest(reference) if artifact is None else None
        if canonical is not None:
            # Pushed by sha512: indexed by the sha256 distribution knows it by.
            artifact = Artifact.objects.filter(repository=repository, digest=canonical).first()
    else:
        artifact = Artifact.objects.filter(repository=repository, tags__name=reference).first()
    if artifact is None:
        raise NotFound(f"artifact {repository.name}{'@' if is_digest(reference) else ':'}{reference} not found",
                       code="artifact_not_found")
    return artifact


def _locked(repository: Repository | str, *, create: bool = False) -> Repository | None:
    """The repository row, locked for the rest of the transaction; created (if asked) from its name."""
    name = repository if isinstance(repository, str) else repository.name
    found = Repository.objects.select_for_update().filter(name=name).first()
    if found is not None or not create:
        return found
    project = Project.objects.filter(name=name.split("/", 1)[0]).first()
    if project is None:
        raise NotFound(f"project {name.split('/', 1)[0]!r} of repository {name!r} does not exist",
                       code="project_not_found")
    # get_or_create survives a concurrent first push of the same repository (unique name).
    Repository.objects.get_or_create(name=name, defaults={"project": project})
    return Repository.objects.select_for_update().select_related("project").get(name=name)


def _adjust(repository: Repository, **deltas: int) -> None:
    Repository.objects.filter(pk=repository.pk).update(**{name: F(name) + delta for name, delta in deltas.items() if delta})


def _is_listed(artifact: Artifact) -> bool:
    return artifact.parent_count == 0 and not artifact.subject_digest


# -- pushes ------------------------------------------------------------------------------------


def record_manifest_push(
    principal: Principal,
    repository: str,
    reference: str,
    digest: str,
    media_type: str,
    manifest: bytes,
    source_ip: str | None = None,
    *,
    client: DistributionClient | None = None,
) -> Artifact:
    """Indexes a manifest distribution has just accepted, and points `reference` at it if it is a tag.

    Idempotent: pushing a digest the index already holds only (re)sets the tag.
    """
    validate_digest(digest)
    tag = None if is_digest(reference) else validate_tag(reference)
    client = client or distribution()
    now = timezone.now()
    with transaction.atomic():
        repo = _locked(repository, create=True)
        assert repo is not None
        artifact = Artifact.objects.filter(repository=repo, digest=digest).first()
        created = artifact is None
        if artifact is None:
            try:
                parsed = parse_manifest(manifest, media_type)
            except InvalidManifest as exc:
                raise InvalidInput(f"cannot index manifest {digest}: {exc}", code="invalid_manifest") from None
            artifact = _index_manifest(repo, digest, parsed, manifest, principal.audit_name, now, client)
        if tag is not None:
            _set_tag(repo, tag, artifact, now, principal.audit_name)
        Repository.objects.filter(pk=repo.pk).update(pushed_at=now, updated_at=now)
        record(principal, "push", "artifact", f"{repo.name}{':' + tag if tag else '@' + digest}",
               project=repo.project, source_ip=source_ip,
               detail={"digest": digest, "media_type": artifact.media_type, "kind": artifact.kind, "tag": tag,
                       "new": created})
        webhooks.emit("artifact.pushed", repo.project, webhooks.artifact_data(repo.project, repo.name, digest, tag, media_type=artifact.media_type, size=artifact.size), operator=principal.audit_name, subject=f"{repo.name}{':' + tag if tag else '@' + digest}")
    manifest_cache.put(repo.name, digest, bytes(manifest), artifact.media_type)
    return artifact


def withdraw_unindexed_manifest(principal: Principal, repository: str, digest: str, reason: str,
                                source_ip: str | None = None, *, client: DistributionClient | None = None) -> bool:
    """Deletes from distribution a manifest it has just stored but the index could not take, unless the index
    holds it already (an earlier push of the same digest): nothing is stored without its row and audit row.
    The refused push is audited as a failure. True when the manifest was deleted."""
    if Artifact.objects.filter(repository__name=repository, digest=digest).exists():
        return False
    try:
        (client or distribution()).delete_manifest(repository, digest)
    except DistributionNotFound:
        return False
    except DistributionError as exc:
        raise _unavailable(exc) from None
    manifest_cache.evict(repository, digest)
    record(principal, "push", "artifact", f"{repository}@{digest}", outcome=Outcome.FAILURE, source_ip=source_ip,
           project=Project.objects.filter(name=repository.split("/", 1)[0]).first(),
           detail={"digest": digest, "message": reason[:500], "withdrawn": True})
    return True


def _index_manifest(repo: Repository, digest: str, parsed: ParsedManifest, body: bytes, pushed_by: str,
                    now: datetime, client: DistributionClient, depth: int = 0) -> Artifact:
    """Creates the artifact row (and rows of an index's children not indexed yet); keeps the counters."""
    children: dict[str, tuple[int, Any, Artifact]] = {}
    config: dict[str, Any] | None = None
    if parsed.kind == "index":
        if depth >= MAX_INDEX_DEPTH:
            raise InvalidInput(f"index {digest} nests indexes more than {MAX_INDEX_DEPTH} deep", code="invalid_manifest")
        for position, descriptor in enumerate(parsed.children):
            if descriptor.digest in children:
                continue
            child = Artifact.objects.filter(repository=repo, digest=descriptor.digest).first()
            if child is None:
                child = _fetch_and_index(repo, descriptor.digest, descriptor.media_type, pushed_by, now, client, depth)
            if child is not None:
                children[descriptor.digest] = (position, descriptor, child)
        size = len(body) + sum(child.size for _, _, child in children.values())
    else:
        size = len(body) + parsed.blobs_size
        if parsed.config is not None and parsed.config.size <= CONFIG_MAX_BYTES and "json" in parsed.config.media_type:
            config = _fetch_config(repo.name, parsed.config.digest, client)
    facts = image_facts(config) if parsed.kind == "image" else image_facts(None)
    artifact = Artifact.objects.create(
        repository=repo,
        digest=digest,
        media_type=parsed.media_type,
        artifact_type=parsed.artifact_type,
        kind=classify(parsed, [child.kind for _, _, child in children.values()]),
        manifest=bytes(body),
        size=size,
        config_digest=parsed.config.digest if parsed.config else "",
        config=config,
        os=facts.os,
        architecture=facts.architecture or parsed.architecture[:32],
        variant=facts.variant,
        annotations=parsed.annotations,
        labels=facts.labels,
        created=facts.created,
        pushed_at=now,
        pushed_by=pushed_by[:300],
        subject_digest=parsed.subject_digest,
    )
    index_artifact_blobs(repo, artifact, parsed, len(body))
    if _is_listed(artifact):
        _adjust(repo, artifact_count=1, size=artifact.size)
    for position, descriptor, child in children.values():
        ArtifactReference.objects.create(parent=artifact, child=child, position=position,
                                         platform=descriptor.platform, annotations=descriptor.annotations)
        _link_child(repo, child, +1)
    return artifact


def _link_child(repo: Repository, child: Artifact, delta: int) -> None:
    """Changes how many indexes hold `child`; a child enters or leaves the repository's list at zero."""
    child.refresh_from_db(fields=["parent_count", "subject_digest", "size"])
    was_listed = _is_listed(child)
    Artifact.objects.filter(pk=child.pk).update(parent_count=F("parent_count") + delta)
    child.parent_count += delta
    if was_listed and not _is_listed(child):
        _adjust(repo, artifact_count=-1, size=-child.size)
    elif _is_listed(child) and not was_listed:
        _adjust(repo, artifact_count=1, size=child.size)


def _fetch_and_index(repo: Repository, digest: str, media_type: str, pushed_by: str, now: datetime,
                     client: DistributionClient, depth: int) -> Artifact | None:
    try:
        body, served_type, _ = client.get_manifest(repo.name, digest)
    except DistributionNotFound:
        return None
    except DistributionError as exc:
        raise _unavailable(exc) from None
    try:
        parsed = parse_manifest(body, served_type or media_type)
    except InvalidManifest:
        return None
    return _index_manifest(repo, digest, parsed, body, pushed_by, now, client, depth + 1)


def _fetch_config(repository: str, digest: str, client: DistributionClient) -> dict[str, Any] | None:
    try:
        return parse_config(client.get_blob(repository, digest, max_bytes=CONFIG_MAX_BYTES))
    except DistributionNotFound:
        return None
    except DistributionError as exc:
        # A config that cannot be read must not lose the push: the artifact is indexed without it.
        if "larger than" in str(exc):
            return None
        raise _unavailable(exc) from None


def _set_tag(repo: Repository, name: str, artifact: Artifact, now: datetime, actor: str) -> None:
    artifact_id = artifact.pk
    previous, previous_digest = Tag.objects.filter(repository=repo, name=name).values_list(
        "artifact_id", "artifact__digest").first() or (None, None)
    # The proxy refuses such a push before distribution sees it; this catches a race with a new rule.
    refuse_moving_immutable_tag(repo.project_id, repo.name, name, previous_digest, artifact.digest)
    record_tag_change(repo.project_id, repo.name, name, previous_digest, artifact.digest, actor, now)
    if previous is None:
        Tag.objects.create(repository=repo, name=name, artifact_id=artifact_id, pushed_at=now)
        _adjust(repo, tag_count=1)
    else:
        Tag.objects.filter(repository=repo, name=name).update(artifact_id=artifact_id, pushed_at=now)
    if previous != artifact_id:
        Artifact.objects.filter(pk=artifact_id).update(tag_count=F("tag_count") + 1)
        if previous is not None:
            Artifact.objects.filter(pk=previous).update(tag_count=F("tag_count") - 1)
    DeletedTag.objects.filter(repository_name=repo.name, name=name).delete()


# -- deletes -----------------------------------------------------------------------------------

# Checks run before an artifact is deleted, from the browse API or /v2/: each raises (a Conflict) to refuse.
# The fleet registers one that refuses deleting an artifact a container runs, unless forced.
DeleteGuard = Callable[[Artifact, bool], None]
DELETE_GUARDS: list[DeleteGuard] = []


def _remove_rows(repo: Repository, artifact: Artifact) -> None:
    """Deletes one artifact's rows (its tags and links go with it) and keeps the counters right."""
    artifact.refresh_from_db(fields=["parent_count", "subject_digest", "size"])
    tags = Tag.objects.filter(artifact=artifact).count()
    children = list(Artifact.objects.filter(parent_links__parent=artifact))
    listed = _is_listed(artifact)
    artifact.delete()
    _adjust(repo, tag_count=-tags, artifact_count=-1 if listed else 0, size=-artifact.size if listed else 0)
    for child in children:
        _link_child(repo, child, -1)
    manifest_cache.evict(repo.name, artifact.digest)


def _deletion_set(artifact: Artifact) -> list[Artifact]:
    """The artifact, the children only it holds and nobody tagged, and everything referring to them."""
    doomed: list[Artifact] = []
    pending = [artifact]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if current.pk in seen:
            continue
        seen.add(current.pk)
        doomed.append(current)
        pending += list(
            Artifact.objects.filter(parent_links__parent=current, parent_count=1)
            .annotate(tagged=Count("tags")).filter(tagged=0)
        )
        pending += list(Artifact.objects.filter(repository_id=current.repository_id, subject_digest=current.digest))
    return doomed


def delete_artifact(principal: Principal, project: Project, repository: Repository | str, reference: str,
                    force: bool = False, source_ip: str | None = None, *,
                    client: DistributionClient | None = None) -> list[str]:
    """Deletes an artifact from distribution, then from the index; returns the digests removed.

    The one decision on deletes, for the browse API and `/v2/` alike: a child of an index is refused (the
    index would break), and so is what a guard refuses (the fleet's: an artifact a container runs).
    """
    repo = repository if isinstance(repository, Repository) else repository_in(project, repository)
    require(principal, Action.DELETE, Resource.of_project(project, ProjectResource.ARTIFACT))
    validate_reference(reference)
    client = client or distribution()
    with transaction.atomic():
        locked = _locked(repo)
        if locked is None:
            raise NotFound(f"repository {repo.name!r} not found", code="repository_not_found")
        artifact = resolve_artifact(locked, reference)
        if artifact.parent_count > 0:
            parents = list(Artifact.objects.filter(child_links__child=artifact).values_list("digest", flat=True))
            raise Conflict(
                f"artifact {artifact.digest} is part of index {', '.join(parents)}: delete the index instead",
                code="artifact_in_index",
            )
        for guard in DELETE_GUARDS:
            guard(artifact, force)
        doomed = _deletion_set(artifact)
        refuse_deleting_immutable_artifacts(project.pk, locked.name, [item.pk for item in doomed])
        record_artifact_tag_deletions(project.pk, locked.name, [item.pk for item in doomed],
                                      principal.audit_name, timezone.now())
        for item in doomed:
            try:
                client.delete_manifest(locked.name, item.digest)
            except DistributionNotFound:
                pass
            except DistributionError as exc:
                raise _unavailable(exc) from None
        for item in doomed:
            _remove_rows(locked, item)
        removed = [item.digest for item in doomed]
        record(principal, "delete", "artifact", f"{locked.name}@{artifact.digest}", project=project,
               source_ip=source_ip, detail={"reference": reference, "removed": removed, "force": force})
        webhooks.emit("artifact.deleted", project, webhooks.artifact_data(project, locked.name, artifact.digest, None, removed=removed), operator=principal.audit_name, subject=f"{locked.name}@{artifact.digest}")
    return removed


def delete_manifest(principal: Principal, repository: str, digest: str, source_ip: str | None = None, *,
                    client: DistributionClient | None = None) -> list[str]:
    """`DELETE /v2/<name>/manifests/<digest>`: the browse API's delete, never forced; returns the digests removed.

    A manifest the index does not hold (pushed around Berth) has nothing to guard: distribution deletes it.
    """
    validate_digest(digest)
    if not is_repository_name(repository):
        raise NotFound(f"repository {repository!r} not found", code="repository_not_found")
    client = client or distribution()
    repo = Repository.objects.filter(name=repository).select_related("project").first()
    if repo is not None and Artifact.objects.filter(repository=repo, digest=digest).exists():
        return delete_artifact(principal, repo.project, repo, digest, source_ip=source_ip, client=client)
    project = Project.objects.filter(name=repository.split("/", 1)[0]).first()
    if project is None:
        raise NotFound(f"project of repository {repository!r} not found", code="project_not_found")
    require(principal, Action.DELETE, Resource.of_project(project, ProjectResource.ARTIFACT))
    try:
        client.delete_manifest(repository, digest)
    except DistributionNotFound:
        raise NotFound(f"manifest {repository}@{digest} not found", code="artifact_not_found") from None
    except DistributionError as exc:
        raise _unavailable(exc) from None
    record(principal, "delete", "artifact", f"{repository}@{digest}", project=project, source_ip=source_ip,
           detail={"reference": digest, "removed": [digest], "force": False, "indexed": False})
    webhooks.emit("artifact.deleted", project, webhooks.artifact_data(project, repository, digest, None, removed=[digest]), operator=principal.audit_name, subject=f"{repository}@{digest}")
    return [digest]


def delete_tag(principal: Principal, repository: Repository | str, tag: str, source_ip: str | None = None) -> None:
    """Removes a tag from the index, which is the source of truth for tags (distribution 2.8 cannot
    delete one): a tombstone keeps reconcile from bringing it back until the tag is pushed again."""
    validate_tag(tag)
    name = repository if isinstance(repository, str) else repository.name
    with transaction.atomic():
        repo = _locked(name)
        if repo is None:
            raise NotFound(f"repository {name!r} not found", code="repository_not_found")
        project = Project.objects.get(pk=repo.project_id)
        require(principal, Action.DELETE, Resource.of_project(project, ProjectResource.TAG))
        found = Tag.objects.filter(repository=repo, name=tag).select_related("artifact").first()
        if found is None:
            raise NotFound(f"tag {name}:{tag} not found", code="tag_not_found")
        refuse_deleting_immutable_tags(project.pk, name, [tag])
        record_tag_deletions(project.pk, name, [(tag, found.artifact.digest)], principal.audit_name, timezone.now())
        DeletedTag.objects.update_or_create(repository_name=name, name=tag, defaults={"digest": found.artifact.digest})
        found.delete()
        _adjust(repo, tag_count=-1)
        Artifact.objects.filter(pk=found.artifact_id).update(tag_count=F("tag_count") - 1)
        record(principal, "delete", "tag", f"{name}:{tag}", project=project, source_ip=source_ip,
               detail={"digest": found.artifact.digest})
        webhooks.emit("tag.deleted", project, webhooks.artifact_data(project, name, found.artifact.digest, tag), operator=principal.audit_name, subject=f"{name}:{tag}")


def remove_tags(principal: Principal, repository: Repository, tags: list[tuple[str, int]], reason: str,
                source_ip: str | None = None) -> list[str]:
    """Removes many tags at once (retention): each (name, artifact id) only while the tag still points there, with
    the counters, tombstones and history `delete_tag` keeps, and one audit row. Returns the names removed."""
    with transaction.atomic():
        repo = _locked(repository)
        if repo is None:
            return []
        wanted = dict(tags)
        current = [(tag_id, name, artifact_id, digest) for tag_id, name, artifact_id, digest in
                   Tag.objects.filter(repository=repo).values_list("id", "name", "artifact_id", "artifact__digest")
                   if wanted.get(name) == artifact_id]
        refuse_deleting_immutable_tags(repo.project_id, repo.name, [name for _, name, _, _ in current])
        now = timezone.now()
        record_tag_deletions(repo.project_id, repo.name, [(name, digest) for _, name, _, digest in current],
                             principal.audit_name, now)
        DeletedTag.objects.bulk_create(
            [DeletedTag(repository_name=repo.name, name=name, digest=digest) for _, name, _, digest in current],
            batch_size=1000, update_conflicts=True, unique_fields=["repository_name", "name"],
            update_fields=["digest"])
        ids = [tag_id for tag_id, _, _, _ in current]
        for offset in range(0, len(ids), 1000):
            Tag.objects.filter(pk__in=ids[offset:offset + 1000]).delete()
        per_artifact: dict[int, int] = {}
        for _, _, artifact_id, _ in current:
            per_artifact[artifact_id] = per_artifact.get(artifact_id, 0) + 1
        for artifact_id, count in per_artifact.items():
            Artifact.objects.filter(pk=artifact_id).update(tag_count=F("tag_count") - count)
        _adjust(repo, tag_count=-len(current))
        removed = sorted(name for _, name, _, _ in current)
        if removed:
            record(principal, "delete", "tag", f"{repo.name}:*", project=Project.objects.get(pk=repo.project_id),
                   source_ip=source_ip, detail={"reason": reason, "count": len(removed), "tags": removed[:1000]})
    return removed


def tag_deleted(repository: str, tag: str) -> bool:
    """True when Berth deleted this tag and distribution may still serve it: the proxy answers 404."""
    return DeletedTag.objects.filter(repository_name=repository, name=tag).exists()


def delete_repository(principal: Principal, project: Project, repository: Repository | str,
                      source_ip: str | None = None, *, storage: RepositoryStorage | None = None) -> int:
    """Deletes the repository and everything distribution stores for it; returns how many artifacts it held."""
    repo = repository if isinstance(repository, Repository) else repository_in(project, repository)
    require(principal, Action.DELETE, Resource.of_project(project, ProjectResource.REPOSITORY))
    storage = storage or storage_from_settings()
    with transaction.atomic():
        locked = _locked(repo)
        if locked is None:
            raise NotFound(f"repository {repo.name!r} not found", code="repository_not_found")
        digests = list(Artifact.objects.filter(repository=locked).values_list("digest", flat=True))
        record_tag_deletions(project.pk, locked.name, Tag.objects.filter(repository=locked).values_list(
            "name", "artifact__digest"), principal.audit_name, timezone.now())
        DeletedTag.objects.filter(repository_name=locked.name).delete()
        locked.delete()
        record(principal, "delete", "repository", locked.name, project=project, source_ip=source_ip,
               detail={"artifacts": len(digests)})
        # The storage last, inside the transaction: a failure rolls the rows back, and a process killed between
        # the removal and the commit leaves rows a repeated delete removes (the removal is idempotent), so no
        # deletion is ever half done with nobody left to finish it.
        storage.remove_repository(locked.name)
    for digest in digests:
        manifest_cache.evict(locked.name, digest)
    return len(digests)


# -- reads the proxy serves from ---------------------------------------------------------------


def _repository_id(name: str) -> Subquery:
    # A scalar subquery rather than a join: PostgreSQL then knows the repository before planning the
    # scan, walks (repository, name) in order and stops after `n`, instead of sorting every match.
    return Subquery(Repository.objects.filter(name=name).values("id")[:1])


def list_tags(repository: str, n: int | None = None, last: str | None = None) -> list[str]:
    """Tag names in byte order after `last`, at most `n` (the spec's `/tags/list` pagination)."""
    if not is_repository_name(repository) or (last and "\x00" in last):
        return []
    tags = Tag.objects.filter(repository_id=_repository_id(repository))
    if last:
        tags = tags.filter(name__gt=last)
    names = tags.order_by("name").values_list("name", flat=True)
    return list(names[:n] if n is not None else names)


def referrers(repository: str, digest: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
    """OCI descriptors of the manifests whose `subject` is `digest`, as the referrers API lists them."""
    if not is_repository_name(repository) or not is_digest(digest) or "\x00" in (artifact_type or ""):
        return []
    rows = Artifact.objects.filter(repository__name=repository, subject_digest=digest)
    if artifact_type:
        rows = rows.filter(artifact_type=artifact_type)
    found = rows.order_by("pushed_at", "id").annotate(manifest_size=Length("manifest")).values(
        "media_type", "digest", "manifest_size", "artifact_type", "annotations")
    descriptors = []
    for row in found:
        descriptor: dict[str, Any] = {"mediaType": row["media_type"], "digest": row["digest"],
                                      "size": row["manifest_size"], "artifactType": row["artifact_type"]}
        if row["annotations"]:
            descriptor["annotations"] = row["annotations"]
        descriptors.append(descriptor)
    return descriptors


@dataclass(frozen=True)
class Accessory:
    """A referrer shown under its subject, as Harbor shows signatures under an image."""

    digest: str
    kind: str
    artifact_type: str
    media_type: str
    size: int
    pushed_at: datetime


def accessories(repository: Repository | int, subjects: list[str], per_subject: int) -> dict[str, tuple[int, list[Accessory]]]:
    """The newest `per_subject` referrers of each subject digest, with how many it has: one query for a page."""
    if not subjects:
        return {}
    newest = Window(RowNumber(), partition_by=[F("subject_digest")], order_by=[F("pushed_at").desc(), F("id").desc()])
    total = Window(Count("id"), partition_by=[F("subject_digest")])
    rows = (Artifact.objects.filter(repository=repository, subject_digest__in=subjects)
            .annotate(rank=newest, total=total).filter(rank__lte=per_subject).order_by("subject_digest", "rank")
            .values_list("subject_digest", "total", "digest", "kind", "artifact_type", "media_type", "size", "pushed_at"))
    found: dict[str, tuple[int, list[Accessory]]] = {}
    for subject, count, *fields in rows:
        found.setdefault(subject, (count, []))[1].append(Accessory(*fields))
    return found


def cached_manifest(repository: str, reference: str) -> tuple[bytes, str, str] | None:
    """(bytes, media type, digest) by tag or digest from the index: one indexed query, or none at all
    for a digest seen within the cache's lifetime. None when the index does not hold it."""
    if not is_repository_name(repository):
        return None
    if is_digest(reference):
        hit = manifest_cache.get(repository, reference)
        if hit is not None:
            return hit[0], hit[1], reference
        row = (Artifact.objects.filter(repository__name=repository, digest=reference)
               .values_list("manifest", "media_type", "digest").first())
    elif is_tag(reference):
        row = (Tag.objects.filter(repository__name=repository, name=reference)
               .values_list("artifact__manifest", "artifact__media_type", "artifact__digest").first())
    else:
        return None
    if row is None:
        return None
    body, media_type, digest = bytes(row[0]), row[1], row[2]
    manifest_cache.put(repository, digest, body, media_type)
    return body, media_type, digest


# -- digest aliases ----------------------------------------------------------------------------


def record_digest_alias(alias: str, canonical: str) -> None:
    """Remembers that content stored under `canonical` (sha256) was also verified as `alias` (sha512).
    Not audited: it is a fact about bytes, written by the upload or push that is."""
    validate_digest(alias)
    validate_digest(canonical)
    DigestAlias.objects.get_or_create(alias=alias, defaults={"canonical": canonical})


def canonical_digest(alias: str) -> str | None:
    """The sha256 under which distribution stores what `alias` names, if Berth has verified it."""
    if not is_digest(alias):
        return None
    return DigestAlias.objects.filter(alias=alias).values_list("canonical", flat=True).first()


# -- pulls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pull:
    repository: str
    digest: str
    tag: str | None
    actor: Principal | str | None
    time: datetime


def _actor(actor: Principal | str | None) -> Principal:
    if isinstance(actor, Principal):
        return actor
    if not actor or actor == "anonymous":
        return AnonymousPrincipal()
    return _NamedRobot(actor) if actor.startswith("robot$") else _NamedUser(actor)


@dataclass
class _Tally:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    tags: set[str] = field(default_factory=set)

    def add(self, when: datetime, tag: str | None) -> None:
        self.count += 1
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        if tag:
            self.tags.add(tag)


def record_pulls(batch: Iterable[Pull | tuple[str, str, str | None, Principal | str | None, datetime]]) -> int:
    """Adds a batch of pulls to the counters (one UPDATE per artifact, tag and repository, with F()
    expressions so concurrent batches add up) and writes one audit row per actor, repository and
    artifact, as Harbor aggregates pulls. Returns how many pulls were counted."""
    by_artifact: dict[tuple[str, str], _Tally] = {}
    by_tag: dict[tuple[str, str], datetime] = {}
    by_repository: dict[str, _Tally] = {}
    by_actor: dict[tuple[str, str, str, str], tuple[Principal, _Tally]] = {}
    for item in batch:
        pull = item if isinstance(item, Pull) else Pull(*item)
        when = pull.time if timezone.is_aware(pull.time) else timezone.make_aware(pull.time, timezone.UTC)
        by_artifact.setdefault((pull.repository, pull.digest), _Tally()).add(when, pull.tag)
        by_repository.setdefault(pull.repository, _Tally()).add(when, pull.tag)
        if pull.tag:
            key = (pull.repository, pull.tag)
            by_tag[key] = max(by_tag.get(key, when), when)
        actor = _actor(pull.actor)
        audit_key = (actor.kind, actor.audit_name, pull.repository, pull.digest)
        by_actor.setdefault(audit_key, (actor, _Tally()))[1].add(when, pull.tag)
    if not by_repository:
        return 0

    def latest(field_name: str, when: datetime) -> Greatest:
        return Greatest(Coalesce(F(field_name), Value(when)), Value(when))

    counted = 0
    with transaction.atomic():
        repositories = {repo.name: repo for repo in
                        Repository.objects.filter(name__in=list(by_repository)).select_related("project")}
        for (name, digest), tally in by_artifact.items():
            if name in repositories and tally.last is not None:
                counted += tally.count * Artifact.objects.filter(repository=repositories[name], digest=digest).update(
                    pull_count=F("pull_count") + tally.count, last_pulled_at=latest("last_pulled_at", tally.last))
                webhooks.emit_pulls(repositories[name].project, name, digest, tally.count, sorted(tally.tags), tally.last)
        for (name, tag), when in by_tag.items():
            if name in repositories:
                Tag.objects.filter(repository=repositories[name], name=tag).update(
                    last_pulled_at=latest("last_pulled_at", when))
        for name, tally in by_repository.items():
            if name in repositories and tally.last is not None:
                Repository.objects.filter(pk=repositories[name].pk).update(
                    pull_count=F("pull_count") + tally.count, last_pulled_at=latest("last_pulled_at", tally.last))
        for (_, _, name, digest), (actor, tally) in by_actor.items():
            repo = repositories.get(name)
            if repo is None:
                continue
            record(actor, "pull", "artifact", f"{name}@{digest}", project=repo.project,
                   detail={"count": tally.count, "tags": sorted(tally.tags),
                           "first": tally.first.isoformat() if tally.first else None,
                           "last": tally.last.isoformat() if tally.last else None})
    return counted


# -- reconcile ---------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    dry_run: bool = False
    repositories_created: list[str] = field(default_factory=list)
    repositories_removed: list[str] = field(default_factory=list)
    artifacts_created: list[str] = field(default_factory=list)
    artifacts_removed: list[str] = field(default_factory=list)
    tags_created: list[str] = field(default_factory=list)
    tags_moved: list[str] = field(default_factory=list)
    tags_removed: list[str] = field(default_factory=list)
    # Manifests distribution holds under a tag that the index cannot take: deleted from distribution, so
    # nothing is pullable that the browse API, tag list and audit log do not show.
    unindexable_removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in vars(self).items() if isinstance(value, list)}

    @property
    def changed(self) -> bool:
        return any(count for name, count in self.counts().items() if name != "skipped")

    def summary(self) -> str:
        counts = ", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in self.counts().items())
        return ("dry run, nothing written; " if self.dry_run else "") + counts


class _DryRun(Exception):
    """Unwinds a repository's transaction after a dry run computed its changes."""


def reconcile(dry_run: bool = False, *, client: DistributionClient | None = None,
              storage_root: Path | None = None) -> ReconcileReport:
    """Brings the index in line with distribution: creates missing rows, removes rows whose manifests
    are gone, points tags where distribution points them (except tags deleted in Berth). Idempotent.

    Sized for 100,000-tag repositories: sets are compared in Python (PostgreSQL takes at most 65,535
    parameters, so no `IN` over a whole repository), rows are read as tuples, and distribution is
    asked everything before a repository is locked.

    distribution 2.8 lists no untagged manifests; with filesystem storage (`storage_root`, by default the
    configured one) reconcile reads them from the repositories' revision links, so one pushed by digest that
    the index missed is indexed, or removed when it cannot be.
    """
    if client is None:
        client = distribution()
        if storage_root is None and settings.REGISTRY_STORAGE == "filesystem":
            storage_root = Path(settings.REGISTRY_DATA_DIR)
    report = ReconcileReport(dry_run=dry_run)
    try:
        catalog = client.catalog()
    except DistributionError as exc:
        raise _unavailable(exc) from None
    projects = set(Project.objects.values_list("name", flat=True))
    for name in catalog:
        project = name.split("/", 1)[0]
        if project not in projects:
            report.skipped.append(f"{name}: project {project!r} does not exist")
            continue
        with contextlib.suppress(_DryRun):
            _reconcile_repository(name, report, dry_run, client, storage_root)
    in_catalog = set(catalog)
    for name in Repository.objects.values_list("name", flat=True):
        if name in in_catalog:
            continue
        report.repositories_removed.append(name)
        if not dry_run:
            with transaction.atomic():
                repo = _locked(name)
                if repo is not None:
                    repo.delete()
    if report.changed and not dry_run:
        record(SystemActor("reconcile"), "reconcile", "registry", "*", detail=report.counts())
    return report


def _reconcile_repository(name: str, report: ReconcileReport, dry_run: bool, client: DistributionClient,
                          storage_root: Path | None) -> None:
    pointed = _distribution_tags(name, client)
    indexed = dict(Artifact.objects.filter(repository__name=name).values_list("digest", "id"))
    untagged = [digest for digest in _stored_revisions(name, storage_root)
                if digest not in indexed and digest not in pointed.values()]
    if not pointed and not indexed and not untagged and not Repository.objects.filter(name=name).exists():
        return  # an emptied repository distribution still lists: nothing to index
    # Untagged rows are checked one by one, except children of indexes that tags still point at.
    live = set(pointed.values())
    for parent, child in ArtifactReference.objects.filter(parent__repository__name=name).values_list(
            "parent__digest", "child__digest"):
        if parent in live:
            live.add(child)
    gone = [digest for digest in indexed if digest not in live and not _manifest_exists(name, digest, client)]
    now = timezone.now()
    with transaction.atomic():
        existed = Repository.objects.filter(name=name).exists()
        repo = _locked(name, create=True)
        assert repo is not None
        if not existed:
            report.repositories_created.append(name)
        # A manifest pushed again since the HEAD above is indexed anew by its push; reconcile only
        # removes what distribution said was gone.
        for offset in range(0, len(gone), 1000):
            for artifact in Artifact.objects.filter(repository=repo, digest__in=gone[offset:offset + 1000]).defer(
                    "manifest", "config"):
                report.artifacts_removed.append(f"{name}@{artifact.digest}")
                _remove_rows(repo, artifact)
        by_digest = dict(Artifact.objects.filter(repository=repo).values_list("digest", "id"))
        tombstones = dict(DeletedTag.objects.filter(repository_name=name).values_list("name", "digest"))
        current = {tag: (tag_id, digest) for tag_id, tag, digest in
                   Tag.objects.filter(repository=repo).values_list("id", "name", "artifact__digest")}
        new_tags: list[Tag] = []
        unindexable: dict[str, str] = {}
        for tag, digest in pointed.items():
            if tombstones.get(tag) == digest or current.get(tag, (None, None))[1] == digest:
                continue
            if digest in unindexable:
                continue
            if digest not in by_digest:
                try:
                    # A savepoint: an index refused halfway leaves none of its children's rows.
                    with transaction.atomic():
                        artifact = _index_from_distribution(repo, digest, now, client)
                except _Unindexable as exc:
                    unindexable[digest] = str(exc)
                    report.unindexable_removed.append(f"{name}@{digest}: {exc}")
                    continue
                if artifact is None:
                    report.skipped.append(f"{name}:{tag}: manifest {digest} is gone from distribution")
                    continue
                by_digest[digest] = artifact.pk
                report.artifacts_created.append(f"{name}@{digest}")
            record_tag_change(repo.project_id, name, tag, current.get(tag, (None, None))[1], digest, "reconcile", now)
            if tag in current:
                report.tags_moved.append(f"{name}:{tag} {current[tag][1]} -> {digest}")
                Tag.objects.filter(pk=current[tag][0]).update(artifact_id=by_digest[digest], pushed_at=now)
            else:
                report.tags_created.append(f"{name}:{tag}")
                new_tags.append(Tag(repository=repo, name=tag, artifact_id=by_digest[digest], pushed_at=now))
        for digest in untagged:
            # Indexing an index indexes its children: one of them may be this one.
            if digest in unindexable or Artifact.objects.filter(repository=repo, digest=digest).exists():
                continue
            try:
                with transaction.atomic():
                    artifact = _index_from_distribution(repo, digest, now, client)
            except _Unindexable as exc:
                unindexable[digest] = str(exc)
                report.unindexable_removed.append(f"{name}@{digest}: {exc}")
                continue
            if artifact is not None:
                report.artifacts_created.append(f"{name}@{digest}")
        # A whole repository's tags may be new (a rebuilt index): one INSERT per thousand, counters below.
        Tag.objects.bulk_create(new_tags, batch_size=1000)
        stale = [tag_id for tag, (tag_id, _) in current.items() if tag not in pointed]
        report.tags_removed += sorted(f"{name}:{tag}" for tag in current if tag not in pointed)
        record_tag_deletions(repo.project_id, name, [(tag, digest) for tag, (_, digest) in current.items()
                                                     if tag not in pointed], "reconcile", now)
        for offset in range(0, len(stale), 1000):
            Tag.objects.filter(pk__in=stale[offset:offset + 1000]).delete()
        # Tombstones of tags distribution no longer lists, or now points elsewhere (pushed again), go.
        settled = [tag for tag, digest in tombstones.items() if pointed.get(tag) != digest]
        for offset in range(0, len(settled), 1000):
            DeletedTag.objects.filter(repository_name=name, name__in=settled[offset:offset + 1000]).delete()
        refresh_counters(repo)
        repair_repository_blobs(repo)
        if dry_run:
            raise _DryRun
    for digest in gone:
        manifest_cache.evict(name, digest)
    for digest in unindexable:
        try:
            client.delete_manifest(name, digest)  # its tags in distribution go with it
        except DistributionNotFound:
            pass
        except DistributionError as exc:
            raise _unavailable(exc) from None


def _stored_revisions(name: str, storage_root: Path | None) -> list[str]:
    """Every manifest digest filesystem storage holds for a repository, tagged or not (distribution's layout:
    `_manifests/revisions/<algorithm>/<hex>/link`, the link removed when the manifest is deleted)."""
    if storage_root is None:
        return []
    revisions = storage_root / "docker/registry/v2/repositories" / name / "_manifests/revisions"
    try:
        algorithms = [entry for entry in revisions.iterdir() if entry.is_dir()]
    except OSError:
        return []
    found = []
    for algorithm in algorithms:
        with contextlib.suppress(OSError):
            found += [f"{algorithm.name}:{entry.name}" for entry in algorithm.iterdir() if (entry / "link").is_file()]
    return sorted(digest for digest in found if is_digest(digest))


def _distribution_tags(name: str, client: DistributionClient) -> dict[str, str]:
    """Each tag distribution lists, with the digest it points at (HEAD: no manifest body moves)."""
    try:
        tag_names = client.tags(name)
    except DistributionNotFound:
        return {}
    except DistributionError as exc:
        raise _unavailable(exc) from None

    def head(tag: str) -> str:
        try:
            return client.head_manifest(name, tag)[0]
        except DistributionNotFound:
            return ""

    try:
        # distribution answers HEADs concurrently; a few in flight hide the round trips.
        with ThreadPoolExecutor(max_workers=HEAD_CONCURRENCY) as pool:
            digests = list(pool.map(head, tag_names))
    except DistributionError as exc:
        raise _unavailable(exc) from None
    return {tag: digest for tag, digest in zip(tag_names, digests, strict=True) if digest}


def _manifest_exists(name: str, digest: str, client: DistributionClient) -> bool:
    try:
        client.head_manifest(name, digest)
    except DistributionNotFound:
        return False
    except DistributionError as exc:
        raise _unavailable(exc) from None
    return True


class _Unindexable(Exception):
    """distribution holds a manifest the index cannot take; the message says why."""


def _index_from_distribution(repo: Repository, digest: str, now: datetime,
                             client: DistributionClient) -> Artifact | None:
    try:
        body, media_type, _ = client.get_manifest(repo.name, digest)
    except DistributionNotFound:
        return None
    except DistributionError as exc:
        raise _unavailable(exc) from None
    try:
        return _index_manifest(repo, digest, parse_manifest(body, media_type), body, "reconcile", now, client)
    except InvalidManifest as exc:
        raise _Unindexable(str(exc)) from None
    except InvalidInput as exc:
        raise _Unindexable(exc.message) from None


def refresh_counters(repo: Repository) -> None:
    """Recomputes a repository's counters (and its artifacts' parent and tag counts) from the rows."""
    links = ArtifactReference.objects.filter(child=OuterRef("pk")).order_by().values("child")
    tags = Tag.objects.filter(artifact=OuterRef("pk")).order_by().values("artifact")
    counted = Artifact.objects.filter(repository=repo).annotate(
        real_parents=Coalesce(Subquery(links.annotate(c=Count("pk")).values("c")), 0),
        real_tags=Coalesce(Subquery(tags.annotate(c=Count("pk")).values("c")), 0))
    # Only rows that drifted are written: rewriting 100,000 correct rows every run would bloat the table.
    for artifact_id, parents, tag_total in counted.filter(
            ~Q(parent_count=F("real_parents")) | ~Q(tag_count=F("real_tags"))).values_list(
            "pk", "real_parents", "real_tags"):
        Artifact.objects.filter(pk=artifact_id).update(parent_count=parents, tag_count=tag_total)
    listed = Artifact.objects.filter(repository=repo).filter(LISTED).aggregate(count=Count("pk"), size=Sum("size"))
    pushed = Artifact.objects.filter(repository=repo).aggregate(last=Max("pushed_at"))["last"]
    Repository.objects.filter(pk=repo.pk).update(
        artifact_count=listed["count"] or 0,
        size=listed["size"] or 0,
        tag_count=Tag.objects.filter(repository=repo).count(),
        pushed_at=Coalesce(F("pushed_at"), Value(pushed)) if pushed else F("pushed_at"),
    )


__all__ = [
    "DELETE_GUARDS",
    "Accessory",
    "Pull",
    "ReconcileReport",
    "RegistryUnavailable",
    "accessories",
    "cached_manifest",
    "delete_artifact",
    "delete_manifest",
    "delete_repository",
    "delete_tag",
    "list_tags",
    "reconcile",
    "record_manifest_push",
    "record_pulls",
    "referrers",
    "remove_tags",
    "tag_deleted",
    "withdraw_unindexed_manifest",
]

