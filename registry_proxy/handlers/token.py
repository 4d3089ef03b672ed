"""`/service/token`: the Docker token service, which grants the requested scopes the caller is allowed."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from portal.accounts.authentication import parse_basic
from portal.rbac.principals import AnonymousPrincipal, Principal
from portal.registry.tokens import SERVICE, KeyRing, Scope, issue, parse_scopes
from portal.system.services import get_system_settings
from registry_proxy import errors
from registry_proxy.checks.authenticate import check_basic_credentials
from registry_proxy.errors import RegistryError
from registry_proxy.plumbing import Context, Send, send_json
from registry_proxy.proxy import Proxy


async def token(app: Proxy, context: Context, send: Send) -> None:
    """The Docker token service: GET with Basic credentials or none; POST as an OAuth2 password grant."""
    request = context.request
    if request.method == "POST":
        form = parse_qs((await request.read_body(64 * 1024)).decode("utf-8", "replace"))
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "password":
            await send_json(send, 400, {"error": "unsupported_grant_type",
                                        "error_description": "only the password grant is supported"})
            return
        username, password = (form.get("username") or [""])[0], (form.get("password") or [""])[0]
        scopes = parse_scopes(form.get("scope", []))
        credentials: tuple[str, str] | None = (username, password)
        service = (form.get("service") or [None])[0]
    else:
        scopes = parse_scopes(request.query.get("scope", []))
        header = request.headers.get("authorization", "")
        credentials = None
        if header.partition(" ")[0].lower() == "bearer":
            # A registry token is what this service hands out, not what it takes: clients that replay the
            # one they hold (or send a personal access token as Bearer) must learn to send Basic instead.
            raise errors.unauthorized("the token service takes Basic credentials (a user name with a password, "
                                      "personal access token or robot secret), not a Bearer token",
                                      'Basic realm="berth"')
        if header:
            credentials = parse_basic(header)
            if credentials is None:
                raise errors.unauthorized("malformed Basic credentials", 'Basic realm="berth"')
        service = request.param("service")
    if service and service != SERVICE:
        raise RegistryError(400, "UNSUPPORTED", f"unknown service {service!r}; this is {SERVICE!r}")
    issued = await app.run_sync(_issue_token, app.keys, credentials, scopes, request.client_ip)
    if issued is None:
        raise errors.unauthorized("invalid username or password", 'Basic realm="berth"')
    signed, lifetime, issued_at = issued
    await send_json(send, 200, {
        "token": signed, "access_token": signed, "expires_in": lifetime,
        "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued_at)),
    }, [(b"cache-control", b"no-store")])


def _issue_token(keys: KeyRing, credentials: tuple[str, str] | None, scopes: list[Scope],
                 source_ip: str | None) -> tuple[str, int, int] | None:
    principal: Principal = AnonymousPrincipal()
    if credentials is not None:
        found = check_basic_credentials(*credentials, source_ip)
        if found is None:
            return None
        principal = found
    lifetime = int(get_system_settings().registry_token_lifetime_seconds)
    signed, _, issued_at = issue(keys, principal, scopes, lifetime)
    return signed, lifetime, issued_at
