"""Writes of the blob index, made as part of each push (upload completion, mount, manifest push), and the
claim a push makes on blobs so that a garbage collection running meanwhile never deletes them under it.

Every write is a handful of statements whatever the manifest holds: rows are inserted with
`bulk_create(ignore_conflicts=True)` and touched with one UPDATE over the digests.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from portal.artifacts.manifests import InvalidManifest, ParsedManifest, is_digest, parse_manifest
from portal.artifacts.models import Artifact, DigestAlias, Repository
from portal.projects.models import Project
from portal.registry.distribution import DistributionClient, DistributionError
from portal.storage.models import ArtifactBlob, Blob, RepositoryBlob
from portal.utilities.errors import BerthError

# How long a push waits for a blob a garbage collection is deleting to be gone, before it gives up (503).
CLAIM_WAIT_SECONDS = 30.0
CLAIM_POLL_SECONDS = 0.05


class BlobBeingCollected(BerthError):
    code = "blob_being_collected"
    status_code = 503


@dataclass(frozen=True)
class BlobUse:
    digest: str
    size: int
    media_type: str
    role: str


def blob_uses(digest: str, parsed: ParsedManifest, manifest_size: int) -> list[BlobUse]:
    """The blobs a manifest references, its own bytes included; an index's children are artifacts of their own."""
    uses = [BlobUse(digest, manifest_size, parsed.media_type, ArtifactBlob.MANIFEST)]
    if parsed.kind != "index":
        if parsed.config is not None:
            uses.append(BlobUse(parsed.config.digest, parsed.config.size, parsed.config.media_type,
                                ArtifactBlob.CONFIG))
        uses += [BlobUse(layer.digest, layer.size, layer.media_type, ArtifactBlob.LAYER) for layer in parsed.layers]
    return uses


def canonical_uses(uses: Iterable[BlobUse]) -> list[BlobUse]:
    """The uses with each digest as distribution stores the bytes: a sha512 descriptor names a blob uploaded
    (and indexed) under its sha256, and one row per content keeps GC from taking bytes a manifest still uses."""
    listed = list(uses)
    aliases = {use.digest for use in listed if not use.digest.startswith("sha256:")}
    if not aliases:
        return listed
    canonical = dict(DigestAlias.objects.filter(alias__in=aliases).values_list("alias", "canonical"))
    return [replace(use, digest=canonical.get(use.digest, use.digest)) for use in listed]


def _ensure_blobs(uses: Iterable[BlobUse]) -> dict[str, int]:
    """Blob ids by digest, rows created where missing and every one touched (its grace window starts again)."""
    now = timezone.now()
    by_digest: dict[str, BlobUse] = {}
    for use in uses:
        by_digest.setdefault(use.digest, use)
    if not by_digest:
        return {}
    Blob.objects.bulk_create(
        [Blob(digest=use.digest, size=use.size, media_type=use.media_type[:255], first_uploaded_at=now, pushed_at=now)
         for use in by_digest.values()], ignore_conflicts=True)
    Blob.objects.filter(digest__in=list(by_digest)).update(pushed_at=now)
    rows = Blob.objects.filter(digest__in=list(by_digest)).values_list("digest", "id", "size", "media_type")
    ids: dict[str, int] = {}
    for digest, blob_id, size, media_type in rows:
        ids[digest] = blob_id
        use = by_digest[digest]
        # An upload completion knows no media type; the manifest's descriptor fills it in.
        if (not size and use.size) or (not media_type and use.media_type):
            Blob.objects.filter(pk=blob_id).update(size=size or use.size, media_type=media_type or use.media_type[:255])
    return ids


def index_artifact_blobs(repository: Repository, artifact: Artifact, parsed: ParsedManifest,
                         manifest_size: int) -> None:
    """The rows of a newly indexed manifest: its blobs, the repository's links to them, the manifest's uses."""
    uses = canonical_uses(blob_uses(artifact.digest, parsed, manifest_size))
    ids = _ensure_blobs(uses)
    RepositoryBlob.objects.bulk_create(
        [RepositoryBlob(repository_id=repository.pk, blob_id=blob_id) for blob_id in ids.values()],
        ignore_conflicts=True)
    ArtifactBlob.objects.bulk_create(
        [ArtifactBlob(artifact_id=artifact.pk, blob_id=ids[use.digest], role=use.role) for use in uses],
        ignore_conflicts=True)


def record_blob_upload(repository: str, digest: str, size: int | None, *,
                       client: DistributionClient | None = None) -> None:
    """distribution answered 201 to an upload's completion or a cross-repository mount: the blob is stored
    and linked into `repository`. A repository Berth does not index yet gets its row with its first manifest;
    the link is written then too."""
    if not is_digest(digest):
        return
    if size is None and client is not None:
        try:
            size = client.blob_size(repository, digest)
        except DistributionError:
            size = None
    with transaction.atomic():
        ids = _ensure_blobs([BlobUse(digest, size or 0, "", "")])
        repository_id = Repository.objects.filter(name=repository).values_list("id", flat=True).first()
        if repository_id is not None:
            RepositoryBlob.objects.bulk_create([RepositoryBlob(repository_id=repository_id, blob_id=ids[digest])],
                                               ignore_conflicts=True)


def claim_blobs(digests: Iterable[str], *, wait: float = CLAIM_WAIT_SECONDS) -> None:
    """Called before a push relies on blobs (a HEAD from a pusher, an upload's completion, a mount, a manifest).

    Touching a row restarts its grace window, in the statement a GC run's claim on the same row is ordered
    against: either the push comes first and the run leaves the blob, or the run has marked it and the push
    waits until the bytes are gone, then stores them again (or distribution refuses the manifest).
    """
    wanted = sorted({use.digest for use in canonical_uses(
        BlobUse(digest, 0, "", "") for digest in digests if is_digest(digest))})
    if not wanted:
        return
    deadline = time.monotonic() + wait
    while True:
        Blob.objects.filter(digest__in=wanted, status=Blob.PRESENT).update(pushed_at=timezone.now())
        if not Blob.objects.filter(digest__in=wanted, status=Blob.DELETING).exists():
            return
        if time.monotonic() > deadline:
            raise BlobBeingCollected("a blob of this push is being garbage collected: try again shortly")
        time.sleep(CLAIM_POLL_SECONDS)


def manifest_blob_digests(body: bytes, media_type: str) -> list[str]:
    """The config and layer digests a manifest about to be pushed relies on (none when it cannot be parsed:
    distribution then refuses it anyway)."""
    try:
        parsed = parse_manifest(body, media_type)
    except InvalidManifest:
        return []
    return [use.digest for use in blob_uses("", parsed, 0)[1:]]


def project_usage(project_id: int) -> int:
    """Bytes the project's quota counts: each distinct blob its manifests use, once."""
    used = ArtifactBlob.objects.filter(artifact__repository__project_id=project_id).values("blob_id")
    return int(Blob.objects.filter(pk__in=used).aggregate(total=Sum("size"))["total"] or 0)


def quota_refusal(project_name: str, body: bytes, media_type: str) -> str | None:
    """Why pushing this manifest would take the project over its storage limit, or None when it fits.

    The push needs the blobs it uses that no manifest of the project uses yet (a layer shared with another of
    its repositories is counted once); a push that adds nothing (a new tag, a re-push) always fits.
    """
    limit = Project.objects.filter(name=project_name).values_list("id", "storage_limit").first()
    if limit is None or limit[1] is None:
        return None
    project_id, storage_limit = limit
    try:
        parsed = parse_manifest(body, media_type)
    except InvalidManifest:
        return None  # distribution refuses it
    sizes: dict[str, int] = {}
    for use in canonical_uses(blob_uses("sha256:" + hashlib.sha256(body).hexdigest(), parsed, len(body))):
        sizes.setdefault(use.digest, use.size)
    present = set(ArtifactBlob.objects.filter(artifact__repository__project_id=project_id,
                                              blob__digest__in=list(sizes)).values_list("blob__digest", flat=True))
    needs = sum(size for digest, size in sizes.items() if digest not in present)
    if not needs:
        return None
    usage = project_usage(project_id)
    if usage + needs <= storage_limit:
        return None
    return (f"quota exceeded: project {project_name} uses {human_bytes(usage)} of {human_bytes(storage_limit)}, "
            f"this push needs {human_bytes(needs)} more")


def human_bytes(size: int) -> str:
    """Sizes as docker users read them: 1.9 GiB, 300 MiB, 512 B."""
    value, unit = float(size), "B"
    for next_unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    if unit == "B":
        return f"{size} B"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"


def being_collected(digest: str) -> bool:
    """True while a GC run deletes the blob: no path may report it present."""
    return Blob.objects.filter(digest=digest, status=Blob.DELETING).exists()


def repair_repository_blobs(repository: Repository) -> int:
    """Reconcile's repair: the blob rows of every artifact of the repository that has none (indexed before the
    blob index existed, or by a push whose indexing failed), from the manifest bytes distribution served.
    Returns how many artifacts were repaired."""
    missing = (Artifact.objects.filter(repository=repository, blob_links__isnull=True)
               .values_list("id", "digest", "media_type", "manifest"))
    repaired = 0
    for artifact_id, digest, media_type, manifest in missing.iterator(chunk_size=500):
        try:
            parsed = parse_manifest(bytes(manifest), media_type)
        except InvalidManifest:
            continue
        artifact = Artifact(pk=artifact_id, digest=digest, repository_id=repository.pk)
        index_artifact_blobs(repository, artifact, parsed, len(bytes(manifest)))
        repaired += 1
    # Links of blobs the repository's manifests use (a link lost with a failed indexing, or never written).
    used = set(ArtifactBlob.objects.filter(artifact__repository=repository).values_list("blob_id", flat=True))
    linked = set(RepositoryBlob.objects.filter(repository=repository).values_list("blob_id", flat=True))
    RepositoryBlob.objects.bulk_create([RepositoryBlob(repository_id=repository.pk, blob_id=blob_id)
                                        for blob_id in used - linked], ignore_conflicts=True, batch_size=1000)
    return repaired
