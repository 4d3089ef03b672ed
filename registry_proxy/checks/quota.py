"""A manifest push that would take its project over its storage limit is refused before distribution sees it."""

from __future__ import annotations

from portal.registry.distribution import MAX_MANIFEST_BYTES
from portal.storage.services import quota_refusal
from registry_proxy import errors
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def within_quota(app: Proxy, context: Context) -> None:
    request = context.request
    project = context.name.split("/", 1)[0]
    body = await request.read_body(MAX_MANIFEST_BYTES)
    refusal = await app.run_sync(quota_refusal, project, body, request.headers.get("content-type", ""))
    if refusal is not None:
        raise errors.denied(refusal)
