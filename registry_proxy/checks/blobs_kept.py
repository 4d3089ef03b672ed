"""A blob a garbage collection is deleting is reported present by no path, and a push that relies on a blob
claims it first, so a running collection either leaves it or has deleted it before the push stores it again."""

from __future__ import annotations

from portal.storage.services import BlobBeingCollected, being_collected, claim_blobs
from registry_proxy import errors
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def blob_present(app: Proxy, context: Context) -> None:
    """GET and HEAD of a blob: a pusher's HEAD (it skips the upload when the blob is there) claims it."""
    digest = context.params.get("digest", "")
    principal = context.principal
    if context.request.method == "HEAD" and principal is not None and principal.allows(
            "repository", context.name, "push"):
        await _claim(app, digest)
    elif await app.run_sync(being_collected, digest):
        raise errors.blob_unknown(f"blob {digest[:100]} is not known to {context.name}")


async def blob_claimed(app: Proxy, context: Context) -> None:
    """An upload's completion (`?digest=`) and a cross-repository mount (`?mount=`) claim their blob."""
    request = context.request
    digest = {"POST": request.param("mount"), "PUT": request.param("digest")}.get(request.method)
    if digest:
        await _claim(app, digest)


async def manifest_blobs_claimed(app: Proxy, digests: list[str]) -> None:
    await _claim(app, *digests)


async def _claim(app: Proxy, *digests: str) -> None:
    try:
        await app.run_sync(claim_blobs, digests)
    except BlobBeingCollected as exc:
        raise errors.unavailable(exc.message) from None
