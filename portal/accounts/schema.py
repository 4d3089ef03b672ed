"""OpenAPI descriptions of Berth's authentication schemes, registered when the accounts app loads."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.SessionPrincipalAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "berth_session",
                "description": "Browser session from POST /api/v1/auth/login; unsafe methods need the CSRF token."}


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.BasicPrincipalAuthentication"
    name = "basic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "basic",
                "description": "A username with its password or personal access token, or a robot's name and secret."}


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.BearerTokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "A personal access token `berth_pat_…`."}
