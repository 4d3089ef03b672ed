"""Authentication sources: their administration, and signing directory users in (onboarded on first sign-in,
their groups stored at each check so roles resolve without asking the directory)."""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts.directory import (
    MEMBERSHIP_ATTRIBUTES,
    DirectoryAccount,
    DirectoryError,
    LdapDirectory,
    LdapSettings,
)
from portal.accounts.models import SOURCE_SEPARATOR, AuthSource, AuthSourceKind, User, UserGroup
from portal.audit.services import record
from portal.rbac.principals import Principal, Resource, require
from portal.rbac.roles import Action, SystemResource
from portal.utilities.encryption import encrypt
from portal.utilities.errors import Conflict, InvalidInput

logger = logging.getLogger(__name__)

SOURCE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
# What a directory account's uid may be to become `<uid>+<source>`: the local username alphabet.
DIRECTORY_UID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,98}$")
_LDAP_TEXT_FIELDS = {f.name for f in fields(LdapSettings) if f.type == "str"}
_LDAP_REQUIRED = ("urls", "user_search_base")


def _require_admin(actor: Principal, action: Action) -> None:
    require(actor, action, Resource.system(SystemResource.CONFIGURATION))


def validate_name(name: str) -> str:
    if not SOURCE_NAME_PATTERN.match(name):
        raise InvalidInput(f"invalid source name {name!r}: use 1 to 50 lower-case letters, digits or '-'",
                           detail={"name": ["1 to 50 lower-case letters, digits or '-', starting with a letter or digit"]})
    return name


def validate_ldap_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The settings an LDAP source keeps, checked; unknown keys are refused so a typo is not silently ignored."""
    known = {f.name for f in fields(LdapSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"unknown LDAP settings: {', '.join(unknown)}", detail={"settings": [f"unknown: {', '.join(unknown)}"]})
    missing = [key for key in _LDAP_REQUIRED if not values.get(key)]
    if missing:
        raise InvalidInput(f"an LDAP source needs {', '.join(missing)}", detail={"settings": [f"required: {', '.join(missing)}"]})
    urls = values["urls"]
    if not isinstance(urls, list) or not all(isinstance(url, str) and re.match(r"^ldaps?://[^\s/]+/?$", url) for url in urls):
        raise InvalidInput("urls must be a list of ldap://host[:port] or ldaps://host[:port]",
                           detail={"settings": ["urls: ldap://host[:port] or ldaps://host[:port]"]})
    for key in _LDAP_TEXT_FIELDS & set(values):
        if not isinstance(values[key], str):
            raise InvalidInput(f"{key} must be a string", detail={"settings": [f"{key}: a string"]})
    if "start_tls" in values and not isinstance(values["start_tls"], bool):
        raise InvalidInput("start_tls must be true or false", detail={"settings": ["start_tls: a boolean"]})
    timeout = values.get("timeout_seconds", 5)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 60:
        raise InvalidInput("timeout_seconds must be from 1 to 60", detail={"settings": ["timeout_seconds: 1 to 60"]})
    if values.get("membership_attribute", "member") not in MEMBERSHIP_ATTRIBUTES:
        raise InvalidInput(f"membership_attribute must be one of {', '.join(MEMBERSHIP_ATTRIBUTES)}",
                           detail={"settings": [f"membership_attribute: one of {', '.join(MEMBERSHIP_ATTRIBUTES)}"]})
    for key in ("user_search_filter", "group_search_filter"):
        if key in values and not (values[key].startswith("(") and values[key].endswith(")")):
            raise InvalidInput(f"{key} must be an LDAP filter in parentheses", detail={"settings": [f"{key}: (filter)"]})
    return dict(values)


def _validated(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    if kind == AuthSourceKind.LDAP:
        return validate_ldap_settings(values)
    raise InvalidInput(f"sources of kind {kind!r} cannot be configured yet; choose ldap", detail={"kind": ["ldap"]})


def create_source(actor: Principal, *, kind: str, name: str, settings: dict[str, Any], secret: str = "",
                  enabled: bool = True, priority: int = 100, source_ip: str | None = None) -> AuthSource:
    _require_admin(actor, Action.UPDATE)
    validate_name(name)
    checked = _validated(kind, settings)
    try:
        with transaction.atomic():
            source = AuthSource.objects.create(kind=kind, name=name, settings=checked, enabled=enabled, priority=priority,
                                               encrypted_secret=encrypt(secret) if secret else "")
            record(actor, "create", "auth_source", name, source_ip=source_ip,
                   detail={"kind": kind, "enabled": enabled, "settings": checked, "secret_set": bool(secret)})
    except IntegrityError:
        raise Conflict(f"an authentication source named {name!r} exists", code="source_exists",
                       detail={"name": ["already used"]}) from None
    return source


def update_source(actor: Principal, source: AuthSource, changes: dict[str, Any], source_ip: str | None = None) -> AuthSource:
    """`changes` may hold enabled, priority, settings (replacing them) and secret (empty: keep the stored one)."""
    _require_admin(actor, Action.UPDATE)
    detail: dict[str, Any] = {}
    with transaction.atomic():
        if "settings" in changes:
            source.settings = detail["settings"] = _validated(source.kind, changes["settings"])
        for key in ("enabled", "priority"):
            if key in changes:
                setattr(source, key, changes[key])
                detail[key] = changes[key]
        if changes.get("secret"):
            source.encrypted_secret = encrypt(changes["secret"])
            detail["secret_changed"] = True
        source.save()
        record(actor, "update", "auth_source", source.name, source_ip=source_ip, detail=detail)
    return source


def delete_source(actor: Principal, source: AuthSource, source_ip: str | None = None) -> None:
    _require_admin(actor, Action.UPDATE)
    with transaction.atomic():
        users = source.users.count()
        if users:
            raise Conflict(f"{users} users came from {source.name}; disable the source instead, or delete them first",
                           code="source_in_use")
        record(actor, "delete", "auth_source", source.name, source_ip=source_ip)
        source.delete()


def test_source(actor: Principal, source: AuthSource, username: str, source_ip: str | None = None) -> dict[str, Any]:
    """Looks a user up as a sign-in would (without its password): whether the settings work, and what Berth would see."""
    _require_admin(actor, Action.UPDATE)
    result: dict[str, Any] = {"ok": True, "found": False, "error": "", "dn": "", "display_name": "", "email": "",
                              "groups": [], "is_admin": False}
    try:
        account = LdapDirectory(source).lookup(username)
    except DirectoryError as error:
        result.update(ok=False, error=str(error))
    else:
        if account is not None:
            result.update(found=True, dn=account.dn, display_name=account.display_name, email=account.email,
                          groups=sorted(account.groups), is_admin=_is_admin(source, account))
    record(actor, "test", "auth_source", source.name, source_ip=source_ip,
           detail={"username": username, "ok": result["ok"], "found": result["found"]})
    return result


# Signing in


def directory_username(uid: str, source: AuthSource) -> str:
    return f"{uid}{SOURCE_SEPARATOR}{source.name}"


def _is_admin(source: AuthSource, account: DirectoryAccount) -> bool:
    return account.in_group(LdapSettings.of(source).admin_group)


def sign_in(username: str, password: str) -> User | None:
    """The directory user `username` names, if a directory accepts the password.

    `alice+corp` asks the source `corp` only; a plain `alice` asks each enabled source in turn.
    """
    uid, separator, source_name = username.partition(SOURCE_SEPARATOR)
    sources = AuthSource.objects.filter(enabled=True, kind=AuthSourceKind.LDAP)
    if separator:
        sources = sources.filter(name=source_name)
    uid = uid.lower()
    if not DIRECTORY_UID_PATTERN.match(uid):
        return None
    for source in sources:
        try:
            account = LdapDirectory(source).authenticate(uid, password)
        except DirectoryError as error:
            logger.warning("authentication source %s: %s", source.name, error)
            continue
        if account is not None:
            return sync_account(source, account)
    return None


def find_directory_user(username: str) -> User | None:
    """The directory user a sign-in name means, if Berth already knows it (for a cached sign-in)."""
    uid, separator, source_name = username.partition(SOURCE_SEPARATOR)
    users = User.objects.select_related("source").filter(source__enabled=True, source_username=uid.lower())
    if separator:
        users = users.filter(source__name=source_name)
    return users.order_by("source__priority", "source__name").first()


def sync_account(source: AuthSource, account: DirectoryAccount) -> User:
    """Onboards the account on its first sign-in, and brings its name, e-mail, admin flag and groups up to date."""
    if not DIRECTORY_UID_PATTERN.match(account.uid):
        raise DirectoryError(f"the directory's uid {account.uid!r} cannot be a Berth username")
    admin_group = LdapSettings.of(source).admin_group
    with transaction.atomic():
        user = User.objects.select_for_update().filter(source=source, source_username=account.uid).first()
        created = user is None
        if user is None:
            user = User(username=directory_username(account.uid, source), source=source, source_username=account.uid)
            user.set_unusable_password()
        user.display_name = account.display_name[:255]
        user.email = account.email[:254]
        if admin_group:
            user.is_admin = _is_admin(source, account)
        user.source_active = True
        user.source_checked_at = timezone.now()
        user.save()
        _store_groups(user, account.groups)
        if created:
            record(None, "create", "user", user.username, actor_name=f"source:{source.name}",
                   detail={"source": source.name, "dn": account.dn, "is_admin": user.is_admin})
    return user


def _store_groups(user: User, groups: frozenset[str]) -> None:
    stored = set(UserGroup.objects.filter(user=user).values_list("group", flat=True))
    if stored == groups:
        return
    UserGroup.objects.filter(user=user).exclude(group__in=groups).delete()
    UserGroup.objects.bulk_create([UserGroup(user=user, group=group) for group in groups - stored])


def is_stale(user: User) -> bool:
    if user.source_id is None:
        return False
    checked = user.source_checked_at
    return checked is None or timezone.now() - checked >= timedelta(seconds=django_settings.LDAP_CACHE_SECONDS)


def refresh(user: User) -> bool:
    """Asks the directory again about a directory user whose last check is older than the cache period, and
    stores what it says; whether the user may act. An unreachable directory refuses (it cannot vouch)."""
    if not is_stale(user):
        return user.can_sign_in
    source = user.source
    if source is None or not source.enabled:
        return False
    try:
        account = LdapDirectory(source).lookup(user.source_username)
    except DirectoryError as error:
        logger.warning("authentication source %s: %s", source.name, error)
        return False
    if account is None:
        _lapse(user)
        return False
    fresh = sync_account(source, account)
    user.is_admin, user.source_active, user.source_checked_at = fresh.is_admin, True, fresh.source_checked_at
    return user.can_sign_in


def _lapse(user: User) -> None:
    """The directory no longer finds the user (removed, or no longer matching the filter: disabled)."""
    with transaction.atomic():
        was_active = user.source_active
        User.objects.filter(pk=user.pk).update(source_active=False, source_checked_at=timezone.now())
        UserGroup.objects.filter(user=user).delete()
        user.source_active = False
        if was_active:
            record(None, "disable", "user", user.username, actor_name=f"source:{user.source.name if user.source else ''}",
                   detail={"reason": "no longer found in the directory"})
