"""The route table, as Harbor's `route.go`: each route is methods, a path pattern, its checks and its handler."""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry_proxy import errors
from registry_proxy.checks import Check
from registry_proxy.checks.authenticate import authenticate
from registry_proxy.checks.authorize import authorize
from registry_proxy.checks.blobs_kept import blob_claimed, blob_present
from registry_proxy.checks.immutable_tag import immutable_tag
from registry_proxy.checks.project_exists import project_exists
from registry_proxy.checks.quota import within_quota
from registry_proxy.checks.valid_name import valid_name
from registry_proxy.checks.writable import writable
from registry_proxy.errors import RegistryError
from registry_proxy.handlers import Handler
from registry_proxy.handlers.base import base
from registry_proxy.handlers.blobs import blob_delete, blob_get
from registry_proxy.handlers.catalog import catalog
from registry_proxy.handlers.manifests import manifest_delete, manifest_get, manifest_put
from registry_proxy.handlers.referrers import referrers
from registry_proxy.handlers.tags import tags_list
from registry_proxy.handlers.token import token
from registry_proxy.handlers.uploads import upload, upload_start


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    checks: tuple[Check, ...]
    handler: Handler
    needs: str | None = None  # the token action on the repository: pull, push, delete; "catalog"


# The name is checked first: the 401 challenge repeats it in `scope="…"`, where a quote would let the path add
# its own `realm` (clients keep the last one, and send their credentials there) and CR/LF broke the response.
# Authorisation comes before the project lookup, so NAME_UNKNOWN ("project … does not exist") reaches only
# callers granted the repository (a token issued before its project was deleted); everyone else gets the
# refusal a private project gets.
REPOSITORY_CHECKS: tuple[Check, ...] = (valid_name, authenticate, authorize, project_exists)
WRITE_CHECKS: tuple[Check, ...] = (*REPOSITORY_CHECKS, writable)

_NAME = r"(?P<name>[^?#]+?)"


def _route(methods: str, pattern: str, checks: tuple[Check, ...], handler: Handler, needs: str | None = None,
           ) -> Route:
    return Route(frozenset(methods.split()), re.compile(pattern), checks, handler, needs)


ROUTES: tuple[Route, ...] = (
    _route("GET HEAD", r"^/v2/?$", (authenticate,), base),
    _route("GET POST", r"^/service/token/?$", (), token),
    _route("GET", r"^/v2/_catalog$", (authenticate, authorize), catalog, "catalog"),
    _route("GET", rf"^/v2/{_NAME}/tags/list$", REPOSITORY_CHECKS, tags_list, "pull"),
    _route("GET HEAD", rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$", REPOSITORY_CHECKS, manifest_get, "pull"),
    _route("PUT", rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$", (*WRITE_CHECKS, immutable_tag, within_quota),
           manifest_put, "push"),
    _route("DELETE", rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$", WRITE_CHECKS, manifest_delete, "delete"),
    _route("POST", rf"^/v2/{_NAME}/blobs/uploads/?$", (*WRITE_CHECKS, blob_claimed), upload_start, "push"),
    _route("GET PATCH PUT DELETE", rf"^/v2/{_NAME}/blobs/uploads/(?P<uuid>[^/]+)$", (*WRITE_CHECKS, blob_claimed),
           upload, "push"),
    _route("GET HEAD", rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$", (*REPOSITORY_CHECKS, blob_present), blob_get,
           "pull"),
    _route("DELETE", rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$", WRITE_CHECKS, blob_delete, "delete"),
    _route("GET", rf"^/v2/{_NAME}/referrers/(?P<digest>[^/]+)$", REPOSITORY_CHECKS, referrers, "pull"),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    path_matched = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        path_matched = True
        if method in route.methods:
            return route, {k: v for k, v in found.groupdict().items() if v is not None}
    if path_matched:
        raise errors.unsupported(f"{method} is not supported on {path[:200]}")
    raise RegistryError(404, "NOT_FOUND", f"no registry route for {path[:200]}")
