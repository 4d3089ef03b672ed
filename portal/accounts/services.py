"""Writes to user accounts and personal access tokens; each checks the actor, runs in a transaction and is audited."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.models import PersonalToken, User
from portal.audit.services import recent_login_failures, record
from portal.projects.models import Member, Project
from portal.projects.services import PROJECT_NAME_PATTERN
from portal.rbac.principals import Principal, Resource, UserPrincipal, require
from portal.rbac.roles import (
    DEFAULT_TOKEN_SCOPES,
    Action,
    Permission,
    Role,
    SystemResource,
    TokenScope,
    highest_role,
    permission_label,
)
from portal.utilities.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from portal.utilities.secrets import display_prefix, hash_secret, new_secret

# Letters, digits and . _ - @, starting with a letter or digit: safe in URLs, and never a robot's `robot$`.
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,149}$")
# Path segments under /users/ that are endpoints, not people.
RESERVED_USERNAMES = frozenset({"current", "search"})
TOKEN_LABEL = "berth_pat"
USER_FIELDS = frozenset({"email", "display_name", "comment", "is_admin", "is_active"})
OWN_FIELDS = frozenset({"email", "display_name", "comment"})


def validate_username(username: str) -> str:
    if not USERNAME_PATTERN.match(username) or username.lower() in RESERVED_USERNAMES:
        raise InvalidInput(
            f"invalid username {username!r}: use 1 to 150 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit",
            detail={"username": ["1 to 150 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"]},
        )
    return username


def _check_password_strength(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages), code="weak_password", detail={"password": error.messages}) from None


def _check_email_free(email: str, user: User | None = None) -> None:
    if not email:
        return
    taken = User.objects.filter(email__iexact=email)
    if user is not None:
        taken = taken.exclude(pk=user.pk)
    if taken.exists():
        raise Conflict(f"the e-mail address {email!r} is already in use", code="email_exists",
                       detail={"email": ["already in use"]})


def _active_admins_besides(user: User) -> bool:
    return User.objects.filter(is_admin=True, is_active=True).exclude(pk=user.pk).exists()


def create_user(actor: Principal, username: str, password: str, *, email: str = "", display_name: str = "",
                comment: str = "", is_admin: bool = False, source_ip: str | None = None) -> User:
    require(actor, Action.CREATE, Resource.system(SystemResource.USER))
    validate_username(username)
    user = User(username=username, email=email, display_name=display_name, comment=comment, is_admin=is_admin)
    _check_password_strength(password, user)
    _check_email_free(email)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    try:
        with transaction.atomic():
            user.save()
            record(actor, "create", "user", username, source_ip=source_ip, detail={"is_admin": is_admin})
    except IntegrityError:
        raise Conflict(f"a user named {username!r} already exists", code="user_exists") from None
    return user


def update_user(actor: Principal, user: User, changes: dict[str, Any], source_ip: str | None = None) -> User:
    """An administrator's change: e-mail, display name, comment, admin flag, active flag (disable/enable)."""
    require(actor, Action.UPDATE, Resource.system(SystemResource.USER))
    changes = {key: value for key, value in changes.items() if key in USER_FIELDS}
    with transaction.atomic():
        # Locks every admin row so two concurrent demotions cannot both see "another admin remains".
        list(User.objects.select_for_update().filter(is_admin=True))
        is_self = isinstance(actor, UserPrincipal) and actor.user.pk == user.pk
        if is_self and changes.get("is_active") is False:
            raise Conflict("you cannot disable your own account", code="cannot_disable_self")
        loses_admin = user.is_admin and user.is_active and (
            changes.get("is_admin") is False or changes.get("is_active") is False
        )
        if loses_admin and not _active_admins_besides(user):
            raise Conflict("Berth must keep at least one active administrator", code="last_admin")
        _check_email_free(changes.get("email", ""), user)
        for key, value in changes.items():
            setattr(user, key, value)
        user.save()
        record(actor, "update", "user", user.username, source_ip=source_ip, detail=changes)
    return user


def delete_user(actor: Principal, user: User, source_ip: str | None = None) -> None:
    require(actor, Action.DELETE, Resource.system(SystemResource.USER))
    if isinstance(actor, UserPrincipal) and actor.user.pk == user.pk:
        raise Conflict("you cannot delete your own account", code="cannot_delete_self")
    with transaction.atomic():
        list(User.objects.select_for_update().filter(is_admin=True))
        if user.is_admin and not _active_admins_besides(user):
            raise Conflict("Berth must keep at least one active administrator", code="last_admin")
        record(actor, "delete", "user", user.username, source_ip=source_ip)
        user.delete()


def reset_password(actor: Principal, user: User, new_password: str, source_ip: str | None = None) -> None:
    """An administrator sets someone else's password; their tokens keep working, their sessions end."""
    require(actor, Action.UPDATE, Resource.system(SystemResource.USER))
    if isinstance(actor, UserPrincipal) and actor.user.pk == user.pk:
        # Whoever holds an administrator's session or token must not take the account over without its password.
        raise Forbidden("change your own password at /users/current/password, with your current password",
                        code="own_password")
    _refuse_directory_password(user)
    _check_password_strength(new_password, user)
    with transaction.atomic():
        _set_password(user, new_password)
        record(actor, "reset_password", "user", user.username, source_ip=source_ip)


def _refuse_directory_password(user: User) -> None:
    """A directory user's password is checked by binding to its directory: a local one would never be used."""
    if user.source_id is not None:
        raise Conflict(f"{user.username} signs in with the password of the directory {user.source}; change it there",
                       code="directory_password")


def _set_password(user: User, new_password: str) -> None:
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "password_changed_at", "updated_at"])


def _own_account(actor: Principal) -> User:
    if not isinstance(actor, UserPrincipal):
        raise Forbidden(f"{actor.audit_name} is not a user account", code="not_a_user")
    return actor.user


def update_own_profile(actor: Principal, changes: dict[str, Any], source_ip: str | None = None) -> User:
    user = _own_account(actor)
    changes = {key: value for key, value in changes.items() if key in OWN_FIELDS}
    with transaction.atomic():
        _check_email_free(changes.get("email", ""), user)
        for key, value in changes.items():
            setattr(user, key, value)
        user.save()
        record(actor, "update", "user", user.username, source_ip=source_ip, detail=changes)
    return user


def change_own_password(actor: Principal, old_password: str, new_password: str,
                        source_ip: str | None = None) -> User:
    """The signed-in user's own change. Tokens stay valid (they are listed and revocable on their own).

    Wrong current passwords are sign-in failures: they count towards, and are refused by, the same throttle
    of their source, so this is no way around it to guess the password of a stolen session.
    """
    user = _own_account(actor)
    _refuse_tokens(actor, "change your password", "token_cannot_change_password")
    _refuse_directory_password(user)
    if recent_login_failures(user.username, source_ip) >= settings.LOGIN_MAX_FAILURES:
        record(actor, "change_password", "user", user.username, outcome="failure", source_ip=source_ip,
               detail={"reason": "too many failed attempts"})
        raise TooManyAttempts("too many failed password attempts; wait a few minutes and try again")
    if not user.check_password(old_password):
        record(actor, "change_password", "user", user.username, outcome="failure", source_ip=source_ip,
               detail={"reason": "wrong current password"})
        raise InvalidInput("the current password is wrong", code="wrong_password",
                           detail={"old_password": ["wrong password"]})
    if old_password == new_password:
        raise InvalidInput("the new password must differ from the current one", code="weak_password",
                           detail={"new_password": ["same as the current password"]})
    _check_password_strength(new_password, user)
    with transaction.atomic():
        _set_password(user, new_password)
        record(actor, "change_password", "user", user.username, source_ip=source_ip,
               detail={"via": getattr(actor, "via", ""), "tokens_kept": user.tokens.filter(revoked_at=None).count()})
    return user


# Personal access tokens


def _refuse_tokens(actor: Principal, doing: str, code: str) -> None:
    """A leaked token must never mint fresh tokens nor take its owner's password, whatever its scopes."""
    if getattr(actor, "via", "") == "token":
        raise Forbidden(f"a personal access token cannot {doing}; sign in with your password", code=code)


@dataclass(frozen=True)
class IssuedToken:
    token: PersonalToken
    secret: str


def create_token(actor: Principal, name: str, expires_in_days: int | None, *,
                 scopes: Iterable[str] = DEFAULT_TOKEN_SCOPES, source_ip: str | None = None) -> IssuedToken:
    """A new CLI secret for the caller, for the chosen scopes. The clear secret exists only in the returned value."""
    user = _own_account(actor)
    _refuse_tokens(actor, "create tokens", "token_cannot_create_tokens")
    expires_at = _token_expiry(expires_in_days)
    chosen = _token_scopes(scopes)
    secret = new_secret(TOKEN_LABEL)
    try:
        with transaction.atomic():
            token = PersonalToken.objects.create(user=user, name=name, prefix=display_prefix(secret),
                                                 secret_hash=hash_secret(secret), expires_at=expires_at, scopes=chosen)
            record(actor, "create", "token", f"{user.username}/{name}", source_ip=source_ip,
                   detail={"prefix": token.prefix, "expires_at": expires_at.isoformat() if expires_at else None,
                           "scopes": chosen})
    except IntegrityError:
        raise Conflict(f"you already have a token named {name!r}", code="token_exists",
                       detail={"name": ["already used by another of your tokens"]}) from None
    return IssuedToken(token, secret)


def _token_scopes(requested: Iterable[str]) -> list[str]:
    choices = ", ".join(scope.value for scope in TokenScope)
    try:
        chosen = sorted({TokenScope(value).value for value in requested})
    except ValueError:
        raise InvalidInput(f"unknown token scope; choose from {choices}", detail={"scopes": [f"from {choices}"]}) from None
    if not chosen:
        raise InvalidInput(f"a token needs at least one scope: {choices}", detail={"scopes": ["at least one"]})
    return chosen


def _token_expiry(days: int | None) -> Any:
    if days is None:
        if not settings.TOKEN_ALLOW_NO_EXPIRY:
            raise InvalidInput(
                "tokens must expire: give expires_in_days (an administrator may allow tokens without expiry)",
                code="expiry_required", detail={"expires_in_days": ["required"]},
            )
        return None
    if not 1 <= days <= settings.TOKEN_MAX_DAYS:
        raise InvalidInput(f"expires_in_days must be from 1 to {settings.TOKEN_MAX_DAYS}, not {days}",
                           detail={"expires_in_days": [f"from 1 to {settings.TOKEN_MAX_DAYS}"]})
    return timezone.now() + timedelta(days=days)


def revoke_token(actor: Principal, token_id: int, source_ip: str | None = None) -> None:
    """Deletes one of the caller's tokens; the audit log keeps the record of it."""
    user = _own_account(actor)
    with transaction.atomic():
        token = PersonalToken.objects.select_for_update().filter(user=user, pk=token_id).first()
        if token is None:
            raise NotFound(f"you have no token with id {token_id}", code="token_not_found")
        record(actor, "delete", "token", f"{user.username}/{token.name}", source_ip=source_ip,
               detail={"prefix": token.prefix})
        token.delete()


# What the UI may show


@cache
def _labels(permissions: frozenset[Permission]) -> list[str]:
    # Few distinct sets exist (one per role, public or not), and a caller may hold hundreds of memberships.
    return sorted(permission_label(p) for p in permissions)


def system_capabilities(principal: Principal) -> dict[str, bool]:
    def can(action: Action, kind: SystemResource) -> bool:
        return principal.can(action, Resource.system(kind))

    return {
        "is_admin": principal.is_system_admin,
        "can_create_project": can(Action.CREATE, SystemResource.PROJECT),
        "can_manage_users": can(Action.UPDATE, SystemResource.USER),
        "can_search_users": can(Action.LIST, SystemResource.USER),
        "can_manage_robots": can(Action.CREATE, SystemResource.ROBOT),
        "can_read_audit_log": can(Action.LIST, SystemResource.LOG),
        "can_manage_configuration": can(Action.UPDATE, SystemResource.CONFIGURATION),
    }


def project_permissions(principal: Principal, project_name: str | None = None) -> dict[str, dict[str, Any]]:
    """Role and permissions per project where the caller has a role, or for one visible project by name.

    One query however many projects exist: memberships are joined to their projects, and the
    principal's role cache is seeded from that same query.
    """
    if project_name is not None:
        project = None
        if PROJECT_NAME_PATTERN.match(project_name):
            project = Project.objects.visible_to(principal).filter(name=project_name).first()
        if project is None:
            raise NotFound(f"project {project_name!r} not found", code="project_not_found")
        return {project.name: {"role": _role_value(principal.role_in(project)),
                               "permissions": _labels(principal.effective_permissions(project))}}
    if isinstance(principal, UserPrincipal):
        # Plain tuples, not model instances: this endpoint backs every page of the UI.
        rows = Member.objects.filter(user_id=principal.user.pk).values_list(
            "project_id", "project__name", "project__public", "role"
        )
        roles: dict[ProjectRef, Role] = {ProjectRef(pid, name, public): Role(role) for pid, name, public, role in rows}
        if principal.user.source_id is not None:
            group_rows = principal.group_memberships().values_list("project_id", "project__name", "project__public", "role")
            for pid, name, public, role in group_rows:
                project = ProjectRef(pid, name, public)
                roles[project] = highest_role(roles.get(project), Role(role)) or Role(role)
        principal.remember_roles({project.id: role for project, role in roles.items()})
        return {
            project.name: {"role": role.value, "permissions": _labels(principal.effective_permissions(project))}
            for project, role in roles.items()
        }
    grants = getattr(principal, "grants", None)
    if not grants:
        return {}
    result: dict[str, dict[str, Any]] = {}
    if None in grants:
        result["*"] = {"role": None, "permissions": _labels(grants[None])}
    for project in Project.objects.filter(id__in=[pid for pid in grants if pid is not None]):
        result[project.name] = {"role": None, "permissions": _labels(principal.effective_permissions(project))}
    return result


class ProjectRef(NamedTuple):
    id: int
    name: str
    public: bool


def _role_value(role: Role | None) -> str | None:
    return role.value if role is not None else None
