"""User accounts and personal access tokens (CLI secrets)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from portal.rbac.roles import DEFAULT_TOKEN_SCOPES, LEGACY_TOKEN_SCOPES, TokenScope


def default_token_scopes() -> list[str]:
    return [str(scope) for scope in DEFAULT_TOKEN_SCOPES]


def legacy_token_scopes() -> list[str]:
    """What the migration gives tokens made before scopes existed."""
    return [str(scope) for scope in LEGACY_TOKEN_SCOPES]


class User(AbstractUser):
    """A person. `is_admin` marks system administrators; Django's staff flags are unused."""

    is_admin = models.BooleanField(default=False)
    display_name = models.CharField(max_length=255, blank=True)
    comment = models.CharField(max_length=1024, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["username"]


class PersonalToken(models.Model):
    """A CLI secret: acts as its owner for scripts and `docker login`; only its hash is kept."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    # The first characters are shown in lists so people can tell tokens apart; they grant nothing.
    prefix = models.CharField(max_length=16, db_index=True)
    secret_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # `TokenScope` values, chosen at creation and never widened: what the token may be used for.
    scopes = models.JSONField(default=default_token_scopes)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_token_name_per_user")]

    def scope_set(self) -> frozenset[TokenScope]:
        return frozenset(TokenScope(value) for value in self.scopes if value in TokenScope._value2member_map_)

    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
