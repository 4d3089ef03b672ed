"""Registry bearer tokens: signing keys with rotation, scopes, grants decided by `can()`, and verification.

A token carries the Docker `access` claim: the actions granted per repository. `TokenPrincipal` answers
`can()` from that claim alone, so authorising a `/v2/` request never touches the database.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from portal.projects.models import Project
from portal.rbac.principals import Principal, Resource
from portal.rbac.roles import Action, ProjectResource, SystemResource

ISSUER = "berth"
SERVICE = "berth"
ALGORITHM = "ES256"
REPOSITORY_ACTIONS = ("pull", "push", "delete")
# The OCI name grammar, one path component; Berth needs at least two (`project/name`).
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})+$")
MAX_NAME_LENGTH = 255
KEY_RECHECK_SECONDS = 1.0
_KEY_NAME = re.compile(r"^(\d{8}T\d{6}\d{6})-([0-9a-f]{16})\.pem$")


# --- keys --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey

    @property
    def public(self) -> ec.EllipticCurvePublicKey:
        return self.private.public_key()


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


RACY_STAMP_NS = 1_000_000_000


class KeyRing:
    """The keys in a directory: the newest signs, every one verifies. Reloaded when the directory changes,
    so a rotation by the management command reaches every running worker."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._stamp: int | None = None
        self._keys: dict[str, SigningKey] = {}
        self._newest: SigningKey | None = None
        self._checked_at = 0.0

    def _reload_if_changed(self) -> None:
        try:
            stamp = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp == self._stamp and self._newest is not None:
            return
        with self._lock:
            if stamp is None or not any(self.directory.glob("*.pem")):
                self.rotate()
                stamp = self.directory.stat().st_mtime_ns
            keys: dict[str, SigningKey] = {}
            newest: tuple[str, SigningKey] | None = None
            for path in sorted(self.directory.glob("*.pem")):
                match = _KEY_NAME.match(path.name)
                if not match:
                    continue
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if not isinstance(private, ec.EllipticCurvePrivateKey):
                    continue
                key = SigningKey(match.group(2), private)
                keys[key.kid] = key
                if newest is None or match.group(1) > newest[0]:
                    newest = (match.group(1), key)
            # A directory's time may move in clock ticks (4 ms at HZ=250, later under load): a key added
            # within the tick of this reload would leave it unchanged. For a second, look again each time.
            if stamp is not None and time.time_ns() - stamp < RACY_STAMP_NS:
                stamp = None
            self._keys, self._newest, self._stamp = keys, newest[1] if newest else None, stamp

    def signing_key(self) -> SigningKey:
        self._reload_if_changed()
        assert self._newest is not None
        return self._newest

    def verification_key(self, kid: str) -> SigningKey | None:
        # Looked at again at most once a second even when the key is known: a key retired by the management
        # command (another process) must stop verifying here too, not only once this process next signs.
        now = time.monotonic()
        if kid not in self._keys or now - self._checked_at > KEY_RECHECK_SECONDS:
            self._checked_at = now
            self._reload_if_changed()
        return self._keys.get(kid)

    def rotate(self) -> SigningKey:
        """Writes a new key (mode 0600); it signs from now on, older ones still verify until retired."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = ec.generate_private_key(ec.SECP256R1())
        kid = key_id(private.public_key())
        # One reading of the clock for both parts: two could straddle a second and sort backwards.
        now_ns = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns // 1_000_000_000)) + f"{now_ns // 1000 % 1_000_000:06d}"
        path = self.directory / f"{stamp}-{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self._stamp = None  # this ring signs with it from its next use, whatever the directory's time says
        return SigningKey(kid, private)

    def retire(self, keep: int = 2) -> list[str]:
        """Deletes all but the `keep` newest keys; returns the retired key ids."""
        paths = sorted((p for p in self.directory.glob("*.pem") if _KEY_NAME.match(p.name)), reverse=True)
        retired = []
        for path in paths[keep:]:
            path.unlink()
            retired.append(_KEY_NAME.match(path.name).group(2))  # type: ignore[union-attr]
        return retired


# --- scopes ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """`repository:project/name:pull,push` or `registry:catalog:*`."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        # The name may itself hold a colon only as a port in a reference, which clients never send here.
        parts = text.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            return None
        kind, name, actions = parts
        if kind.startswith("repository(") and kind.endswith(")"):
            kind = "repository"  # `repository(plugin)` from old clients
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: list[str]) -> list[Scope]:
    """Scopes from `scope=` parameters; one parameter may hold several separated by spaces."""
    scopes = []
    for value in values:
        for text in value.split():
            scope = Scope.parse(text)
            if scope is not None:
                scopes.append(scope)
    return scopes


def grant(principal: Principal, scope: Scope, projects: dict[str, Any] | None = None) -> list[str]:
    """The requested actions `principal.can()` allows; never an error for the ones it does not."""
    if scope.type == "registry" and scope.name == "catalog":
        catalog = Resource.system(SystemResource.CATALOG)
        return ["*"] if "*" in scope.actions and principal.can(Action.LIST, catalog) else []
    if scope.type != "repository" or len(scope.name) > MAX_NAME_LENGTH or not NAME.match(scope.name):
        # Only names /v2/ accepts are granted: `..`, NUL (a 500 from PostgreSQL's lookup) or upper case would
        # put entries in the token no request can use, or that other code might read differently.
        return []
    project_name = scope.name.split("/", 1)[0]
    if projects is not None and project_name in projects:
        project = projects[project_name]
    else:
        project = Project.objects.filter(name=project_name).first()
        if projects is not None:
            projects[project_name] = project
    if project is None:
        return []
    allowed = []
    if principal.can(Action.PULL, Resource.of_project(project, ProjectResource.REPOSITORY)):
        allowed.append("pull")
    if principal.can(Action.PUSH, Resource.of_project(project, ProjectResource.REPOSITORY)):
        allowed.append("push")
    if principal.can(Action.DELETE, Resource.of_project(project, ProjectResource.ARTIFACT)):
        allowed.append("delete")
    requested = set(REPOSITORY_ACTIONS) if "*" in scope.actions else set(scope.actions)
    return [action for action in allowed if action in requested]


def access_for(principal: Principal, scopes: list[Scope]) -> list[dict[str, Any]]:
    """The token's `access` claim; scopes granting nothing are left out."""
    projects = _projects_named(principal, scopes)
    merged: dict[tuple[str, str], list[str]] = {}
    for scope in scopes:
        actions = grant(principal, scope, projects)
        if actions:
            held = merged.setdefault((scope.type, scope.name), [])
            held.extend(action for action in actions if action not in held)
    return [{"type": kind, "name": name, "actions": actions} for (kind, name), actions in merged.items()]


def _projects_named(principal: Principal, scopes: list[Scope]) -> dict[str, Any]:
    """Every project the scopes name, and the caller's roles in them, in one query each: an anonymous token
    request may name thousands of projects, and one query per project made it a cheap way to load the database."""
    names = {scope.name.split("/", 1)[0] for scope in scopes
             if scope.type == "repository" and len(scope.name) <= MAX_NAME_LENGTH and NAME.match(scope.name)}
    if not names:
        return {}
    found = {project.name: project for project in Project.objects.filter(name__in=names)}
    preload = getattr(principal, "preload_roles", None)
    if preload is not None and found and not principal.is_system_admin:
        preload([project.id for project in found.values()])
    return {name: found.get(name) for name in names}


# --- the principal a token stands for ----------------------------------------------------------------------------

# Which token action a (resource, action) question needs: the registry's coarse verbs over Berth's permissions.
_TOKEN_ACTION: dict[tuple[str, Action], str] = {
    (ProjectResource.REPOSITORY, Action.PULL): "pull",
    (ProjectResource.REPOSITORY, Action.READ): "pull",
    (ProjectResource.REPOSITORY, Action.LIST): "pull",
    (ProjectResource.ARTIFACT, Action.READ): "pull",
    (ProjectResource.ARTIFACT, Action.LIST): "pull",
    (ProjectResource.TAG, Action.LIST): "pull",
    (ProjectResource.REPOSITORY, Action.PUSH): "push",
    (ProjectResource.ARTIFACT, Action.CREATE): "push",
    (ProjectResource.TAG, Action.CREATE): "push",
    (ProjectResource.REPOSITORY, Action.DELETE): "delete",
    (ProjectResource.ARTIFACT, Action.DELETE): "delete",
    (ProjectResource.TAG, Action.DELETE): "delete",
}


@dataclass(frozen=True)
class RepositoryResource(Resource):
    """A resource inside one named repository, so a token's per-repository grants can be checked."""

    repository: str = ""


class TokenPrincipal(Principal):
    """Whoever a verified token (or Basic credentials checked for one request) was issued to."""

    kind: ClassVar[str] = "token"

    def __init__(self, subject: str, subject_kind: str, access: list[dict[str, Any]], expires_at: float,
                 *, request_scoped: bool = False) -> None:
        self.name = subject or "anonymous"
        self.subject_kind = subject_kind or "anonymous"
        # Audit rows name the kind of account the token was issued to, not "token".
        self.kind = self.subject_kind  # type: ignore[misc]
        # Grants computed for this one request (Basic credentials on /v2/), not chosen by the client.
        self.request_scoped = request_scoped
        self.expires_at = expires_at
        self.grants: dict[tuple[str, str], frozenset[str]] = {
            (entry["type"], entry["name"]): frozenset(entry.get("actions") or ()) for entry in access
        }

    @property
    def is_anonymous_subject(self) -> bool:
        return self.subject_kind == "anonymous"

    def allows(self, kind: str, name: str, action: str) -> bool:
        actions = self.grants.get((kind, name), frozenset())
        return action in actions or "*" in actions

    def can(self, action: Action | str, resource: Resource) -> bool:
        action = Action(action)
        if resource.project is None:
            return resource.kind == SystemResource.CATALOG and self.allows("registry", "catalog", "*")
        needed = _TOKEN_ACTION.get((ProjectResource(resource.kind), action))
        if needed is None:
            return False
        repository = getattr(resource, "repository", "")
        if repository:
            return self.allows("repository", repository, needed)
        # A project-wide question (the index asks one when deleting a tag): any repository of the
        # project the token names with that action.
        prefix = resource.project.name + "/"
        return any(kind == "repository" and name.startswith(prefix) and (needed in actions or "*" in actions)
                   for (kind, name), actions in self.grants.items())

    def has_entry(self, kind: str, name: str) -> bool:
        return (kind, name) in self.grants


# --- issuing and verifying ---------------------------------------------------------------------------------------


def issue(keys: KeyRing, principal: Principal, scopes: list[Scope], lifetime: int,
          now: float | None = None) -> tuple[str, list[dict[str, Any]], int]:
    """(token, access claim, issued-at) for `principal`, granting what it may of `scopes`."""
    issued_at = int(now if now is not None else time.time())
    access = access_for(principal, scopes)
    key = keys.signing_key()
    claims = {
        "iss": ISSUER, "aud": SERVICE, "sub": principal.audit_name if principal.is_authenticated else "",
        "kind": principal.kind, "iat": issued_at, "nbf": issued_at - 1, "exp": issued_at + lifetime,
        "jti": uuid.uuid4().hex, "access": access,
    }
    token = jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
    return token, access, issued_at


class InvalidToken(Exception):
    """The bearer token is malformed, signed by an unknown key, expired, or not for this service."""


class TokenVerifier:
    """Verifies tokens, remembering each verified one by its string until it expires (bounded LRU):
    a signature check costs ~100 µs, a lookup ~1 µs."""

    def __init__(self, keys: KeyRing, max_entries: int = 10_000) -> None:
        self.keys = keys
        self.max_entries = max_entries
        self._cache: OrderedDict[str, tuple[TokenPrincipal, str]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str, now: float | None = None) -> TokenPrincipal:
        now = time.time() if now is None else now
        cached = self._cache.get(token)
        if cached is not None:
            principal, kid = cached
            if principal.expires_at <= now:
                with self._lock:
                    self._cache.pop(token, None)
                raise InvalidToken("token expired")
            if self.keys.verification_key(kid) is None:
                # Its key was retired since: whatever lifetime the token claims, it ends now.
                with self._lock:
                    self._cache.pop(token, None)
                raise InvalidToken("token signed by an unknown key")
            return principal
        principal, kid = self._decode(token)
        with self._lock:
            self._cache[token] = (principal, kid)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return principal

    def _decode(self, token: str) -> tuple[TokenPrincipal, str]:
        try:
            header = jwt.get_unverified_header(token)
            kid = str(header.get("kid", ""))
            key = self.keys.verification_key(kid)
            if key is None:
                raise InvalidToken("token signed by an unknown key")
            claims = jwt.decode(token, key.public, algorithms=[ALGORITHM], audience=SERVICE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "access"]})
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        access = claims.get("access")
        if not isinstance(access, list) or not all(_is_access_entry(entry) for entry in access):
            raise InvalidToken("malformed access claim")
        principal = TokenPrincipal(str(claims.get("sub") or ""), str(claims.get("kind") or ""), access,
                                   float(claims["exp"]))
        return principal, kid

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def _is_access_entry(entry: Any) -> bool:
    """`{"type", "name", "actions"}` as Docker's token spec has it (signed by us, still checked: a key is
    shared with whatever else holds it)."""
    return (isinstance(entry, dict) and isinstance(entry.get("type"), str) and isinstance(entry.get("name"), str)
            and isinstance(entry.get("actions", []), list) and all(isinstance(a, str) for a in entry.get("actions", [])))
