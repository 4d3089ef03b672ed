"""Authentication: turns credentials into a principal. It decides who, never what they may do."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions

from portal.accounts import sources
from portal.accounts.models import PersonalToken, User
from portal.audit.models import Outcome
from portal.audit.services import recent_login_failures, record
from portal.rbac.principals import Principal, RobotPrincipal, UserPrincipal
from portal.rbac.roles import Surface
from portal.robots.models import ROBOT_PREFIX, ROBOT_SECRET_LABEL, Robot
from portal.utilities.errors import TooManyAttempts
from portal.utilities.requests import client_address
from portal.utilities.secrets import (
    display_prefix,
    hash_chosen_secret,
    is_fast_hash,
    spend_slow_hash,
    verify_secret,
)

TOKEN_LABEL = "berth_pat"
# The challenge sent with 401s of the API. Not `Basic`, which would make browsers pop up their own
# password dialog over the UI; scripts send their credentials up front anyway.
SESSION_CHALLENGE = 'Bearer realm="Berth"'
# The audit log's actor column: failed sign-ins are recorded (and counted) under at most this much of the name.
AUDIT_ACTOR_LENGTH = 300


class InvalidCredentials(exceptions.AuthenticationFailed):
    default_detail = "invalid username or password"


def authenticate_credentials(username: str, secret: str, source_ip: str | None,
                             surface: Surface = Surface.API) -> Principal:
    """Checks a username and a password, CLI secret or robot secret; audits failures and slows their source.

    The source is the address *and* the account: failures from one address for one account refuse further
    guessable credentials from there until the window passes, while the owner elsewhere (or a CI job with a
    token or a generated robot secret, which no one can guess) still signs in. Nothing ever locks an account.
    """
    # No account, token or robot secret holds a NUL, and PostgreSQL refuses one in any text parameter (a 500):
    # such credentials are never looked up, and are audited under a printable name.
    malformed = "\x00" in username or "\x00" in secret
    username = printable(username)
    if guessable(username, secret) and recent_login_failures(username, source_ip) >= _max_failures():
        record(None, "login", "user", username, outcome=Outcome.FAILURE, source_ip=source_ip,
               actor_name=username, detail={"reason": "too many failed attempts"})
        raise TooManyAttempts("too many failed sign-in attempts; wait a few minutes and try again")
    principal = None if malformed else _check(username, secret, surface)
    if principal is None:
        record(None, "login", "user", username, outcome=Outcome.FAILURE, source_ip=source_ip,
               actor_name=username, detail={"reason": "invalid credentials"})
        raise InvalidCredentials()
    return principal


def guessable(username: str, secret: str) -> bool:
    """Whether a credential could be guessed, judged by its shape alone (never by what is stored, so a refusal
    tells nothing about the account): a personal access token or a generated robot secret holds 256 random
    bits, and a chosen robot secret may not take the generated prefix."""
    if username.startswith(ROBOT_PREFIX):
        return not secret.startswith(ROBOT_SECRET_LABEL + "_")
    return not secret.startswith(TOKEN_LABEL + "_")


def printable(text: str) -> str:
    """`text` with NUL bytes spelled `\\x00` and cut to the audit log's actor column (a longer one was a 500
    on PostgreSQL), fit for the database."""
    return text.replace("\x00", "\\x00")[:AUDIT_ACTOR_LENGTH]


def _max_failures() -> int:
    from django.conf import settings

    return settings.LOGIN_MAX_FAILURES


def _check(username: str, secret: str, surface: Surface) -> Principal | None:
    if not username or not secret:
        return None
    if username.startswith(ROBOT_PREFIX):
        robot = _check_robot(username, secret)
        return RobotPrincipal(robot) if robot is not None else None
    if secret.startswith(TOKEN_LABEL + "_"):
        # Checked before the account is looked up: the same work whether the name exists or not, so a
        # token-shaped password (one fast hash) cannot tell existing accounts from the slow-hashed missing ones.
        token = _usable_token(secret)
        return token_principal(token, surface) if token is not None and _names(token.user, username) else None
    user = User.objects.filter(username=username, source=None).first()
    if user is not None and user.is_active:
        subject = f"user:{user.pk}"
        if _recently_verified(subject, secret, user.password) or user.check_password(secret):
            _remember_verified(subject, secret, user.password)
            return UserPrincipal(user)
    # The same name in a directory is another person (stored as `name+source`), who signs in with the
    # directory's password: local and directory accounts never share a password check.
    principal = _check_directory(username, secret)
    if principal is None and (user is None or not user.is_active):
        # Hash anyway so a missing account takes as long as a wrong password. Only on failure: a directory
        # user's remembered sign-in (a pull storm's every token request) must not pay a slow hash.
        User().set_password(secret)
    return principal


def _check_directory(username: str, secret: str) -> Principal | None:
    from django.conf import settings

    known = sources.find_directory_user(username)
    if known is not None and known.can_sign_in and not sources.is_stale(known) \
            and _recently_verified(f"directory:{known.pk}", secret, _directory_stamp(known)):
        return UserPrincipal(known)
    user = sources.sign_in(username, secret)
    if user is None or not user.can_sign_in:
        return None
    # A pull storm sends the same Basic credentials on every token request: the bind is trusted this long.
    _remember_verified(f"directory:{user.pk}", secret, _directory_stamp(user), ttl=settings.LDAP_CACHE_SECONDS)
    return UserPrincipal(user)


def _directory_stamp(user: User) -> str:
    """What a remembered directory sign-in is bound to: editing the source ends every one made under it."""
    source = user.source
    return f"{user.source_id}:{source.updated_at.isoformat() if source is not None else ''}"


def _names(user: User, username: str) -> bool:
    """Whether `username` is the user's: a directory user may also go by its directory name alone."""
    return username == user.username or (user.source_id is not None and username.lower() == user.source_username)


def _check_robot(username: str, secret: str) -> Robot | None:
    """A generated secret costs one fast hash; any other costs one slow hash whether the robot exists, has a
    chosen secret (slow-hashed) or a generated one, so timing tells nothing about the robot."""
    robot = find_robot(username)
    if robot is not None and not robot.is_usable():
        robot = None
    if not guessable(username, secret):
        # A chosen secret never has the generated prefix: only a generated one (fast-hashed) can match.
        if robot is None or not is_fast_hash(robot.secret_hash):
            return None
        return robot if verify_secret(secret, robot.secret_hash) else None
    if robot is None:
        spend_slow_hash(secret)
        return None
    subject, stored = f"robot:{robot.pk}", robot.secret_hash
    if _recently_verified(subject, secret, stored):
        return robot
    if is_fast_hash(stored):
        spend_slow_hash(secret)
        if not verify_secret(secret, stored):
            return None
        # A secret chosen before chosen secrets were slow-hashed: it keeps working, stored slow-hashed from now on.
        upgraded = hash_chosen_secret(secret)
        Robot.objects.filter(pk=robot.pk, secret_hash=stored).update(secret_hash=upgraded)
        robot.secret_hash = stored = upgraded
    elif not verify_secret(secret, stored):
        return None
    _remember_verified(subject, secret, stored)
    return robot


# Password hashing is deliberately slow (scrypt, ~0.1 s of CPU), and clients such as docker and podman send
# the same Basic credentials on every token request. A successful check of a password or a chosen robot
# secret is remembered for a few minutes as an HMAC of the credentials, bound to the stored hash, so a
# change of the password or secret ends it at once.
_VERIFIED_TTL_SECONDS = 300
_VERIFIED_MAX_ENTRIES = 4096
_verified: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
_verified_lock = threading.Lock()


def _credential_key(subject: str, secret: str) -> bytes:
    from django.conf import settings

    message = f"{subject}\0{secret}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()


def _recently_verified(subject: str, secret: str, stored_hash: str) -> bool:
    key = _credential_key(subject, secret)
    with _verified_lock:
        entry = _verified.get(key)
    if entry is None:
        return False
    remembered_hash, expires = entry
    return expires > time.monotonic() and hmac.compare_digest(remembered_hash, stored_hash)


def forget_verified_passwords() -> None:
    with _verified_lock:
        _verified.clear()


def _remember_verified(subject: str, secret: str, stored_hash: str, ttl: float = _VERIFIED_TTL_SECONDS) -> None:
    key = _credential_key(subject, secret)
    with _verified_lock:
        _verified[key] = (stored_hash, time.monotonic() + ttl)
        _verified.move_to_end(key)
        while len(_verified) > _VERIFIED_MAX_ENTRIES:
            _verified.popitem(last=False)


def find_robot(full_name: str) -> Robot | None:
    """Looks up `robot$name` (system) or `robot$project+name` (project)."""
    rest = full_name[len(ROBOT_PREFIX):]
    robots = Robot.objects.select_related("project")
    if "+" in rest:
        project_name, _, name = rest.partition("+")
        return robots.filter(project__name=project_name, name=name).first()
    return robots.filter(project__isnull=True, name=rest).first()


def _usable_token(secret: str) -> PersonalToken | None:
    if "\x00" in secret:
        return None
    for token in PersonalToken.objects.filter(prefix=display_prefix(secret)).select_related("user"):
        # A directory user's token works only while the directory still has the user, asked once a cache period.
        if verify_secret(secret, token.secret_hash) and token.is_usable() and token.user.can_sign_in \
                and sources.refresh(token.user):
            now = timezone.now()
            # Written at most once a minute: a script hammering the API should not write on every call.
            if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
                PersonalToken.objects.filter(pk=token.pk).update(last_used_at=now)
            return token
    return None


def token_principal(token: PersonalToken, surface: Surface) -> UserPrincipal:
    """The token's owner, held to the token's scopes on the surface it is used on."""
    return UserPrincipal(token.user, via="token", scopes=token.scope_set(), surface=surface,
                         token_expires_at=token.expires_at)


def principal_for_token(secret: str) -> Principal | None:
    token = _usable_token(secret)
    return token_principal(token, Surface.API) if token is not None else None


def parse_basic(header: str) -> tuple[str, str] | None:
    """Decodes an `Authorization: Basic …` header; None when it is not Basic or is malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class SessionPrincipalAuthentication(authentication.SessionAuthentication):
    """Browser sessions (CSRF enforced by DRF on unsafe methods)."""

    def authenticate(self, request: Any) -> tuple[Principal, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        if not sources.refresh(result[0]):
            raise exceptions.AuthenticationFailed("your directory account is disabled, removed or cannot be checked")
        return UserPrincipal(result[0], via="session"), None

    def authenticate_header(self, request: Any) -> str:
        # DRF asks the first authenticator for a challenge and answers 403 instead of 401 without one.
        return SESSION_CHALLENGE


class BasicPrincipalAuthentication(authentication.BaseAuthentication):
    """HTTP Basic with a password, a CLI secret or a robot secret."""

    def authenticate(self, request: Any) -> tuple[Principal, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        credentials = parse_basic(header)
        if credentials is None:
            raise exceptions.AuthenticationFailed("malformed Basic credentials")
        return authenticate_credentials(*credentials, client_address(request)), None

    def authenticate_header(self, request: Any) -> str:
        return 'Basic realm="Berth"'


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer berth_pat_…` personal access tokens."""

    def authenticate(self, request: Any) -> tuple[Principal, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        principal = principal_for_token(secret.strip()) if secret.strip().startswith(TOKEN_LABEL + "_") else None
        if principal is None:
            record(None, "login", "token", printable(display_prefix(secret.strip())), outcome=Outcome.FAILURE,
                   source_ip=client_address(request), detail={"reason": "invalid, expired or revoked token"})
            raise exceptions.AuthenticationFailed("invalid, expired or revoked token")
        return principal, None

