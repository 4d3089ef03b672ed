"""Berth is not in read-only mode: pushes and deletes wait until an administrator turns it off."""

from __future__ import annotations

from registry_proxy import errors
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def writable(app: Proxy, context: Context) -> None:
    if await app.read_only():
        raise errors.denied("Berth is in read-only mode: pushes and deletes are refused until an administrator "
                            "turns it off")
