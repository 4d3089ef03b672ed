"""Manifests pushed and read by a sha512 digest: distribution 2.8 only accepts a manifest under its sha256
(it refuses `PUT …/manifests/sha512:…` as DIGEST_INVALID), so Berth verifies the sha512 itself, forwards
the same bytes by their sha256, keeps the alias and answers by the digest the client named."""

from __future__ import annotations

from portal.artifacts.services import cached_manifest
from registry_proxy import errors
from registry_proxy.plumbing import API_VERSION, Context, Send
from registry_proxy.proxy import Proxy


def is_alias(reference: str) -> bool:
    return reference.startswith("sha512:")


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
