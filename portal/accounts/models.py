"""User accounts, the directories they may come from, and personal access tokens (CLI secrets)."""

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


# Separates a directory user's name in its directory from its source's name in the Berth username:
# `alice+corp`. Local usernames may not hold a `+`, so no local account can take a directory user's name.
SOURCE_SEPARATOR = "+"


class AuthSourceKind(models.TextChoices):
    LDAP = "ldap", "LDAP / Active Directory"
    OIDC = "oidc", "OpenID Connect"


class AuthSource(models.Model):
    """A directory or identity provider people sign in with, besides the local accounts that always exist.

    What each kind needs lives in `settings` (plain values) and `encrypted_secret` (the LDAP bind password
    or the OIDC client secret, a Fernet token of `portal.utilities.encryption`, never returned by the API).
    """

    kind = models.CharField(max_length=10, choices=AuthSourceKind.choices)
    name = models.CharField(max_length=50, unique=True)
    enabled = models.BooleanField(default=True)
    # Sources are tried in this order for a username that names none.
    priority = models.PositiveIntegerField(default=100)
    settings = models.JSONField(default=dict)
    encrypted_secret = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person. `is_admin` marks system administrators; Django's staff flags are unused.

    `source` is None for a local account; a directory user is named `<its uid>+<source name>`
    and keeps its directory name in `source_username`.
    """

    is_admin = models.BooleanField(default=False)
    display_name = models.CharField(max_length=255, blank=True)
    comment = models.CharField(max_length=1024, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    source = models.ForeignKey(AuthSource, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    source_username = models.CharField(max_length=255, blank=True)
    # The last time the directory confirmed the account (and its groups); False once it no longer finds it.
    source_checked_at = models.DateTimeField(null=True, blank=True)
    source_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_username"], condition=models.Q(source__isnull=False),
                                    name="one_user_per_directory_account"),
        ]

    @property
    def can_sign_in(self) -> bool:
        return self.is_active and self.source_active


class UserGroup(models.Model):
    """A group the directory said the user belongs to (directly or through nested groups) at its last check.

    Stored so that `can()` and project lists resolve group memberships in the query they already run.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="directory_groups")
    # The group's identifier in its source: an LDAP DN (lower-cased), an OIDC group name.
    group = models.CharField(max_length=1024)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="unique_user_group")]


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
