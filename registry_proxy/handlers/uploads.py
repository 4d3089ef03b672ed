"""`/v2/<name>/blobs/uploads/`: upload sessions streamed to distribution, and cross-repository mounts."""

from __future__ import annotations

from urllib.parse import urlencode

from portal.registry.tokens import MAX_NAME_LENGTH, NAME, Scope
from registry_proxy.checks.authenticate import load_basic_principal
from registry_proxy.checks.valid_reference import valid_digest
from registry_proxy.plumbing import Context, Send
from registry_proxy.proxy import Proxy


async def upload_start(app: Proxy, context: Context, send: Send) -> None:
    request = context.request
    mount, source = request.param("mount"), request.param("from")
    if mount is not None:
        valid_digest(mount)
        if not await may_mount_from(app, context, source or ""):
            # The spec's answer to a refused mount: a plain upload session (202), never the source's blob.
            query = {k: v for k, v in request.query.items() if k not in ("mount", "from")}
            await app.proxy(context, send, query=urlencode(query, doseq=True))
            return
    await app.proxy(context, send, stores_blob=mount)


async def may_mount_from(app: Proxy, context: Context, source: str) -> bool:
    principal = context.principal
    assert principal is not None
    if len(source) > MAX_NAME_LENGTH or not NAME.match(source):
        return False
    if principal.allows("repository", source, "pull"):
        return True
    if not principal.request_scoped:
        return False
    # Basic credentials on /v2/: decide pull on the source as the token service would.
    header = context.request.headers.get("authorization", "")
    source_principal = await app.run_sync(
        load_basic_principal, header, Scope("repository", source, ("pull",)), context.request.client_ip
    )
    return source_principal is not None and source_principal.allows("repository", source, "pull")


async def upload(app: Proxy, context: Context, send: Send) -> None:
    digest = context.request.param("digest")
    if context.request.method == "PUT" and digest is not None:
        valid_digest(digest)
    await app.proxy(context, send, stores_blob=digest if context.request.method == "PUT" else None)
