"""The repository name in the path follows the OCI grammar, with a project: `project/name[/…]`."""

from __future__ import annotations

from portal.registry.tokens import MAX_NAME_LENGTH, NAME
from registry_proxy import errors
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def valid_name(app: Proxy, context: Context) -> None:
    name = context.name
    if len(name) > MAX_NAME_LENGTH or not NAME.match(name):
        raise errors.name_invalid(
            f"invalid repository name {name[:300]!r}: expected project/name[/…] in lower-case letters, digits "
            "and separators (. _ __ -)"
        )
