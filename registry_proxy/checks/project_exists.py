"""The repository's project exists (asked only of callers granted the repository, see the routes table)."""

from __future__ import annotations

from registry_proxy import errors
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


async def project_exists(app: Proxy, context: Context) -> None:
    project_name = context.name.split("/", 1)[0]
    if await app.project(project_name) is None:
        raise errors.name_unknown(f"project {project_name} does not exist")
