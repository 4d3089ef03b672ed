"""Manifests pushed and read by a sha512 digest: distribution 2.8 only accepts a manifest under its sha256
(it refuses `PUT …/manifests/sha512:…` as DIGEST_INVALID), so Berth verifies the sha512 itself, forwards
the same bytes by their sha256, keeps the alias and answers by the digest the client named."""

from __future__ import annotations

import hashlib
import logging

from portal.artifacts.services import cached_manifest, record_digest_alias, record_manifest_push
from registry_proxy import errors
from registry_proxy.plumbing import API_VERSION, Context, Send
from registry_proxy.proxy import Proxy

logger = logging.getLogger(__name__)


def is_alias(reference: str) -> bool:
    return reference.startswith("sha512:")


async def manifest_put_by_alias(app: Proxy, context: Context, send: Send, reference: str, body: bytes,
                                media_type: str) -> None:
    if "sha512:" + hashlib.sha512(body).hexdigest() != reference:
        raise errors.digest_invalid(f"the manifest's digest is not {reference}")
    canonical = "sha256:" + hashlib.sha256(body).hexdigest()
    response = await app.upstream(context, path=f"/v2/{context.name}/manifests/{canonical}", data=body)
    if response.status != 201:
        await app.relay(response, send)
        return
    response.release()
    await app.run_sync(record_digest_alias, reference, canonical)
    try:
        await app.run_sync(record_manifest_push, context.principal, context.name, canonical, canonical, media_type,
                           body, context.request.client_ip)
    except Exception:
        # distribution has the manifest; the scheduled reconcile indexes what this could not.
        logger.exception("indexing %s@%s failed", context.name, canonical)
    app.manifests.pop((context.name, canonical))
    location = f"{app.config.external_url}/v2/{context.name}/manifests/{reference}"
    await send({"type": "http.response.start", "status": 201, "headers": [
        API_VERSION, (b"content-length", b"0"), (b"location", location.encode()),
        (b"docker-content-digest", reference.encode()),
    ]})
    await send({"type": "http.response.body", "body": b""})


async def canonical_reference(app: Proxy, context: Context, reference: str) -> str:
    """The sha256 a sha512 manifest reference is stored under in distribution, or MANIFEST_UNKNOWN."""
    canonical = await app.canonical(reference)
    if canonical is None:
        raise errors.manifest_unknown(f"manifest {context.name}@{reference} is not known")
    return canonical


async def manifest_get_by_alias(app: Proxy, context: Context, send: Send, reference: str) -> None:
    """From Berth's index, where the push by sha512 put it (distribution cannot be asked by that digest),
    answered with `Docker-Content-Digest` the sha512 asked for."""
    name = context.name
    canonical = await app.canonical(reference)
    found = await app.run_sync(cached_manifest, name, canonical) if canonical else None
    if canonical is None or found is None:
        raise errors.manifest_unknown(f"manifest {name}@{reference} is not known")
    body, media_type, _ = found
    request = context.request
    await send({"type": "http.response.start", "status": 200, "headers": [
        API_VERSION, (b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode()),
        (b"docker-content-digest", reference.encode()), (b"etag", f'"{reference}"'.encode()),
    ]})
    await send({"type": "http.response.body", "body": body if request.method == "GET" else b""})
    if request.method == "GET":
        actor = context.principal.audit_name if context.principal is not None else "anonymous"
        app.pulls.add(name, canonical, None, actor)
