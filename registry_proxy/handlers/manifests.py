"""`/v2/<name>/manifests/<reference>`: reads served from Berth's index and caches, pushes and deletes indexed."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from portal.artifacts.services import (
    RegistryUnavailable,
    cached_manifest,
    delete_manifest,
    delete_tag,
    record_digest_alias,
    record_manifest_push,
    tag_deleted,
    withdraw_unindexed_manifest,
)
from portal.registry.distribution import MAX_MANIFEST_BYTES
from portal.storage.services import manifest_blob_digests
from portal.utilities.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry_proxy import errors
from registry_proxy.caches import TAG_CACHE_SECONDS, CachedManifest
from registry_proxy.checks.blobs_kept import manifest_blobs_claimed
from registry_proxy.checks.valid_manifest import valid_manifest
from registry_proxy.checks.valid_reference import DIGEST, readable_reference, valid_reference
from registry_proxy.errors import RegistryError
from registry_proxy.handlers.alias_manifests import (
    canonical_reference,
    is_alias,
    manifest_get_by_alias,
)
from registry_proxy.plumbing import API_VERSION, Context, Send
from registry_proxy.proxy import Proxy

logger = logging.getLogger(__name__)


def accepts(accept_header: str, media_type: str) -> bool:
    if not accept_header:
        return False
    for part in accept_header.split(","):
        value = part.split(";", 1)[0].strip()
        if value == media_type or value == "*/*":
            return True
    return False


_MISSING = object()


async def manifest_get(app: Proxy, context: Context, send: Send) -> None:
    request = context.request
    reference = readable_reference(context.params["reference"])
    if is_alias(reference):
        await manifest_get_by_alias(app, context, send, reference)
        return
    name = context.name
    now = time.monotonic()
    found, cached = app.manifests.get((name, reference), now)
    if not found:
        cached = await app.run_sync(_indexed_manifest, name, reference)
        if cached is _MISSING:
            raise errors.manifest_unknown(f"manifest {name}:{reference} is not known")
        if cached is not None:
            body, media_type, digest = cached
            lifetime = app.config.manifest_cache_seconds if ":" in reference else TAG_CACHE_SECONDS
            cached = CachedManifest(body, media_type, digest, now + lifetime)
            app.manifests.put((name, reference), cached, now + lifetime)
    if cached is not None and accepts(request.headers.get("accept", ""), cached.media_type):
        await send({"type": "http.response.start", "status": 200, "headers": [
            API_VERSION, (b"content-type", cached.media_type.encode()),
            (b"content-length", str(len(cached.body)).encode()),
            (b"docker-content-digest", cached.digest.encode()), (b"etag", f'"{cached.digest}"'.encode()),
        ]})
        await send({"type": "http.response.body", "body": cached.body if request.method == "GET" else b""})
        if request.method == "GET":
            app.pulls.add(name, cached.digest, None if ":" in reference else reference, _actor(context))
        return
    # Not indexed (pushed around Berth, or the index lags), or the client wants another format.
    response = await app.upstream(context)
    if response.status == 200 and request.method == "GET":
        digest = response.headers.get("docker-content-digest", "")
        if digest:
            app.pulls.add(name, digest, None if ":" in reference else reference, _actor(context))
    await app.relay(response, send)


def _indexed_manifest(repository: str, reference: str) -> tuple[bytes, str, str] | object | None:
    found = cached_manifest(repository, reference)
    if found is None and ":" not in reference and tag_deleted(repository, reference):
        return _MISSING
    return found


def _actor(context: Context) -> str:
    return context.principal.audit_name if context.principal is not None else "anonymous"


async def manifest_put(app: Proxy, context: Context, send: Send) -> None:
    request = context.request
    reference = valid_reference(context.params["reference"])
    body = await request.read_body(MAX_MANIFEST_BYTES)
    alias = reference if is_alias(reference) else None
    if alias is not None:
        # distribution refuses `PUT …/manifests/sha512:…`: the same bytes go by their sha256, the alias is kept.
        if "sha512:" + hashlib.sha512(body).hexdigest() != alias:
            raise errors.digest_invalid(f"the manifest's digest is not {alias}")
        reference = "sha256:" + hashlib.sha256(body).hexdigest()
    elif reference.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != reference:
        raise errors.digest_invalid(f"the manifest's digest is not {reference}")
    media_type = request.headers.get("content-type", "")
    valid_manifest(body, media_type)
    for check in context.body_checks:
        check(body)
    subject = _subject_of(body)
    await manifest_blobs_claimed(app, manifest_blob_digests(body, media_type))
    path = f"/v2/{context.name}/manifests/{reference}" if alias is not None else None
    response = await app.upstream(context, path=path, data=body)
    extra: list[tuple[bytes, bytes]] = []
    if response.status == 201:
        digest = response.headers.get("docker-content-digest", "")
        if subject:
            # distribution 2.8 knows nothing of subjects: Berth's index serves the referrers API.
            extra.append((b"oci-subject", subject.encode()))
        media_type = media_type or _media_type_of(body)
        try:
            if alias is not None:
                await app.run_sync(record_digest_alias, alias, digest)
            await app.run_sync(record_manifest_push, context.principal, context.name, reference, digest, media_type,
                               body, request.client_ip)
        except Exception as exc:
            response.release()
            refusal = _refusal(exc, context.name, digest)
            await _withdraw(app, context, digest, refusal.message)
            raise refusal from None
        finally:
            app.manifests.pop((context.name, reference))
            app.manifests.pop((context.name, digest))
        if alias is not None:
            response.release()
            location = f"{app.config.external_url}/v2/{context.name}/manifests/{alias}"
            await send({"type": "http.response.start", "status": 201, "headers": [
                API_VERSION, (b"content-length", b"0"), (b"location", location.encode()),
                (b"docker-content-digest", alias.encode()), *extra,
            ]})
            await send({"type": "http.response.body", "body": b""})
            return
    await app.relay(response, send, extra)


async def _withdraw(app: Proxy, context: Context, digest: str, reason: str) -> None:
    """A manifest distribution holds but Berth could not index (nor audit) goes again: what the client
    was told is refused must not be pullable."""
    try:
        await app.run_sync(withdraw_unindexed_manifest, context.principal, context.name, digest, reason,
                           context.request.client_ip)
    except Exception:
        # Left for the scheduled reconcile, which indexes it or, when it cannot, removes it.
        logger.exception("withdrawing %s@%s after its indexing failed also failed", context.name, digest)


def _refusal(exc: Exception, repository: str, digest: str) -> RegistryError:
    if isinstance(exc, InvalidInput):
        return errors.manifest_invalid(exc.message)
    if isinstance(exc, RegistryUnavailable):
        return errors.unavailable(exc.message)
    if isinstance(exc, Conflict):
        return errors.denied(exc.message)
    logger.error("indexing %s@%s failed", repository, digest, exc_info=exc)
    return RegistryError(500, "UNKNOWN", "the manifest could not be indexed, and is not stored; see Berth's log")


def _subject_of(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    subject = document.get("subject") if isinstance(document, dict) else None
    digest = subject.get("digest") if isinstance(subject, dict) else None
    return digest if isinstance(digest, str) and DIGEST.match(digest) else None


def _media_type_of(body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    value = document.get("mediaType") if isinstance(document, dict) else None
    return value if isinstance(value, str) else ""


async def manifest_delete(app: Proxy, context: Context, send: Send) -> None:
    reference = valid_reference(context.params["reference"])
    name = context.name
    if ":" not in reference:
        # distribution 2.8 cannot delete a tag; Berth's index is the source of truth for tags.
        await app.run_sync(_delete_tag, context.principal, name, reference, context.request.client_ip)
        app.manifests.pop((name, reference))
    else:
        if is_alias(reference):
            reference = await canonical_reference(app, context, reference)
        # The browse API's service decides, with its guards: distribution is asked only once they allow it.
        await app.run_sync(_delete_manifest, context.principal, name, reference, context.request.client_ip)
        app.manifests.clear()  # tags pointing at the digest, and an index's children, go with it
    await send({"type": "http.response.start", "status": 202, "headers": [API_VERSION, (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def _delete_manifest(principal: Any, repository: str, digest: str, source_ip: str | None) -> None:
    try:
        delete_manifest(principal, repository, digest, source_ip)
    except NotFound as exc:
        raise errors.manifest_unknown(exc.message) from None
    except Forbidden as exc:
        raise errors.denied(exc.message) from None
    except Conflict as exc:
        raise errors.refused(exc.message, exc.code) from None
    except RegistryUnavailable as exc:
        raise errors.unavailable(exc.message) from None


def _delete_tag(principal: Any, repository: str, tag: str, source_ip: str | None) -> None:
    try:
        delete_tag(principal, repository, tag, source_ip)
    except NotFound as exc:
        raise errors.manifest_unknown(exc.message) from None
    except Forbidden as exc:
        raise errors.denied(exc.message) from None
    except Conflict as exc:
        raise errors.refused(exc.message, exc.code) from None
