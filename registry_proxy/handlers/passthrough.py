"""Requests distribution answers as it is (a blob delete): the digest checked, then proxied."""

from __future__ import annotations

from registry_proxy.checks.valid_reference import valid_digest
from registry_proxy.plumbing import Context, Send
from registry_proxy.proxy import Proxy


async def passthrough(app: Proxy, context: Context, send: Send) -> None:
    if "digest" in context.params:
        valid_digest(context.params["digest"])
    await app.proxy(context, send)
