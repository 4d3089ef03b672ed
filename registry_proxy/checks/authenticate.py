"""Who is calling: a bearer token the proxy issued, or Basic credentials straight on `/v2/`; else a 401 challenge."""

from __future__ import annotations

import hashlib
import time

from portal.accounts.authentication import InvalidCredentials, authenticate_credentials, parse_basic
from portal.rbac.principals import Principal
from portal.rbac.roles import Surface
from portal.registry.tokens import InvalidToken, Scope, TokenPrincipal, access_for
from portal.utilities.errors import TooManyAttempts
from registry_proxy import errors
from registry_proxy.caches import BASIC_CACHE_SECONDS
from registry_proxy.plumbing import Context
from registry_proxy.proxy import Proxy


def check_basic_credentials(username: str, secret: str, source_ip: str | None) -> Principal | None:
    """Basic credentials → principal, or None when they are wrong (too many failures are a 429); repeated
    password checks are remembered by the accounts app."""
    try:
        # A personal access token is held here to its registry scopes, not its API ones.
        return authenticate_credentials(username, secret, source_ip, Surface.REGISTRY)
    except InvalidCredentials:
        return None
    except TooManyAttempts as exc:
        raise errors.too_many_requests(exc.message) from None


def route_scope(context: Context) -> Scope | None:
    needs = context.needs
    if needs == "catalog":
        return Scope("registry", "catalog", ("*",))
    if needs is None or not context.name:
        return None
    # Clients ask for pull and push together when pushing; the challenge says what this route needs.
    actions = ("pull", "push") if needs == "push" else (needs,)
    return Scope("repository", context.name, actions)


async def authenticate(app: Proxy, context: Context) -> None:
    header = context.request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        try:
            context.principal = app.verifier.verify(value.strip())
        except InvalidToken as exc:
            raise errors.unauthorized(
                f"invalid token: {exc}", app.challenge(route_scope(context), "invalid_token")
            ) from None
        return
    if scheme == "basic":
        context.principal = await basic_principal(app, context, header)
        return
    raise errors.unauthorized("authentication required", app.challenge(route_scope(context)))


async def basic_principal(app: Proxy, context: Context, header: str) -> TokenPrincipal:
    """Basic credentials straight on /v2/: checked once (scrypt is slow), then remembered briefly,
    with the grants for this route's scope computed as the token service would."""
    scope = route_scope(context)
    key = hashlib.sha256(f"{header}\n{scope}".encode()).digest()
    now = time.monotonic()
    found, principal = app.basic.get(key, now)
    if found:
        return principal
    principal = await app.run_sync(load_basic_principal, header, scope, context.request.client_ip)
    if principal is None:
        raise errors.unauthorized("invalid username or password", app.challenge(scope))
    app.basic.put(key, principal, now + BASIC_CACHE_SECONDS)
    return principal


def load_basic_principal(header: str, scope: Scope | None, source_ip: str | None) -> TokenPrincipal | None:
    credentials = parse_basic(header)
    if credentials is None:
        return None
    principal = check_basic_credentials(*credentials, source_ip)
    if principal is None:
        return None
    access = access_for(principal, [scope] if scope else [])
    return TokenPrincipal(principal.audit_name, principal.kind, access, time.time() + BASIC_CACHE_SECONDS,
                          request_scoped=True)
