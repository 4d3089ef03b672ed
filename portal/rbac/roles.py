"""Roles are data: each project role maps to a set of (resource, action) pairs, Harbor's way."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"


class ProjectResource(StrEnum):
    PROJECT = "project"
    MEMBER = "member"
    ROBOT = "robot"
    LOG = "log"
    REPOSITORY = "repository"
    ARTIFACT = "artifact"
    TAG = "tag"
    TAG_RULE = "tag-rule"
    # Harbor's names: immutability rules, and retention (its policy, runs and their reports).
    IMMUTABLE_TAG = "immutable-tag"
    TAG_RETENTION = "tag-retention"
    CONTAINER = "container"
    WEBHOOK = "webhook"


class SystemResource(StrEnum):
    PROJECT = "project"
    USER = "user"
    ROBOT = "robot"
    LOG = "log"
    CATALOG = "catalog"
    CONFIGURATION = "configuration"
    HOST = "host"
    GARBAGE_COLLECTION = "garbage-collection"
    WEBHOOK = "webhook"


class Role(StrEnum):
    PROJECT_ADMIN = "project_admin"
    MAINTAINER = "maintainer"
    DEVELOPER = "developer"
    GUEST = "guest"
    LIMITED_GUEST = "limited_guest"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


Permission = tuple[ProjectResource, Action]

A, R = Action, ProjectResource

_LIMITED_GUEST: frozenset[Permission] = frozenset(
    {
        (R.PROJECT, A.READ),
        (R.REPOSITORY, A.LIST),
        (R.REPOSITORY, A.READ),
        (R.REPOSITORY, A.PULL),
        (R.ARTIFACT, A.LIST),
        (R.ARTIFACT, A.READ),
        (R.TAG, A.LIST),
    }
)

_GUEST = _LIMITED_GUEST | {
    (R.MEMBER, A.LIST),
    (R.MEMBER, A.READ),
    (R.LOG, A.LIST),
    (R.ROBOT, A.LIST),
    (R.ROBOT, A.READ),
    (R.CONTAINER, A.LIST),
    (R.CONTAINER, A.READ),
}

_DEVELOPER = _GUEST | {
    (R.REPOSITORY, A.PUSH),
    (R.REPOSITORY, A.UPDATE),
    (R.ARTIFACT, A.CREATE),
    (R.TAG, A.CREATE),
    (R.CONTAINER, A.CREATE),
    (R.CONTAINER, A.UPDATE),
    (R.CONTAINER, A.DELETE),
}

_MAINTAINER = _DEVELOPER | {
    (R.REPOSITORY, A.DELETE),
    (R.ARTIFACT, A.DELETE),
    (R.TAG, A.DELETE),
    (R.TAG_RULE, A.LIST),
    (R.TAG_RULE, A.READ),
    (R.TAG_RULE, A.CREATE),
    (R.TAG_RULE, A.UPDATE),
    (R.TAG_RULE, A.DELETE),
    (R.WEBHOOK, A.LIST),
    (R.WEBHOOK, A.READ),
    (R.IMMUTABLE_TAG, A.LIST),
    (R.IMMUTABLE_TAG, A.READ),
    (R.IMMUTABLE_TAG, A.CREATE),
    (R.IMMUTABLE_TAG, A.UPDATE),
    (R.IMMUTABLE_TAG, A.DELETE),
    (R.TAG_RETENTION, A.LIST),
    (R.TAG_RETENTION, A.READ),
    (R.TAG_RETENTION, A.CREATE),  # start a run
    (R.TAG_RETENTION, A.UPDATE),  # change the policy
}

_PROJECT_ADMIN = _MAINTAINER | {
    (R.PROJECT, A.UPDATE),
    (R.PROJECT, A.DELETE),
    (R.MEMBER, A.CREATE),
    (R.MEMBER, A.UPDATE),
    (R.MEMBER, A.DELETE),
    (R.ROBOT, A.CREATE),
    (R.ROBOT, A.UPDATE),
    (R.ROBOT, A.DELETE),
    (R.WEBHOOK, A.CREATE),
    (R.WEBHOOK, A.UPDATE),
    (R.WEBHOOK, A.DELETE),
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PROJECT_ADMIN: frozenset(_PROJECT_ADMIN),
    Role.MAINTAINER: frozenset(_MAINTAINER),
    Role.DEVELOPER: frozenset(_DEVELOPER),
    Role.GUEST: frozenset(_GUEST),
    Role.LIMITED_GUEST: _LIMITED_GUEST,
}

# Ranked from the most to the least powerful; each role holds every permission of the next.
ROLE_ORDER: tuple[Role, ...] = (Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.GUEST, Role.LIMITED_GUEST)


def highest_role(first: Role | None, second: Role | None) -> Role | None:
    """The stronger of two roles (a user's own and a group's); None only when both are."""
    held = [role for role in (first, second) if role is not None]
    return min(held, key=ROLE_ORDER.index) if held else None

# What anyone, signed in or not, may do in a public project.
PUBLIC_PROJECT_PERMISSIONS: frozenset[Permission] = _LIMITED_GUEST

# What a robot may be granted: never membership or robot management, which stay with people.
ROBOT_GRANTABLE: frozenset[Permission] = frozenset(
    {
        (R.REPOSITORY, A.PULL),
        (R.REPOSITORY, A.PUSH),
        (R.REPOSITORY, A.LIST),
        (R.REPOSITORY, A.READ),
        (R.REPOSITORY, A.DELETE),
        (R.ARTIFACT, A.LIST),
        (R.ARTIFACT, A.READ),
        (R.ARTIFACT, A.CREATE),
        (R.ARTIFACT, A.DELETE),
        (R.TAG, A.LIST),
        (R.TAG, A.CREATE),
        (R.TAG, A.DELETE),
        (R.PROJECT, A.READ),
        (R.LOG, A.LIST),
        (R.CONTAINER, A.LIST),
        (R.CONTAINER, A.READ),
        (R.CONTAINER, A.CREATE),
        (R.CONTAINER, A.UPDATE),
        (R.CONTAINER, A.DELETE),
    }
)


# Every meaningful (resource, action) pair in a project: what a system administrator holds everywhere.
ALL_PROJECT_PERMISSIONS: frozenset[Permission] = _PROJECT_ADMIN | ROBOT_GRANTABLE


def permission_label(permission: Permission) -> str:
    """`repository:pull`, the spelling the API and the UI use."""
    resource, action = permission
    return f"{resource.value}:{action.value}"


def permissions_of(role: Role | str | None) -> frozenset[Permission]:
    if role is None:
        return frozenset()
    return ROLE_PERMISSIONS[Role(role)]


def role_allows(role: Role | str | None, resource: ProjectResource | str, action: Action | str) -> bool:
    return (ProjectResource(resource), Action(action)) in permissions_of(role)


class TokenScope(StrEnum):
    """What a personal access token may be used for, chosen when it is made, as GitHub's and GitLab's are."""

    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"
    API_READ = "api:read"
    API_WRITE = "api:write"
    API_CREDENTIALS = "api:credentials"


class Surface(StrEnum):
    """Where a token is used: the REST API, or the registry (`/service/token` and Basic on `/v2/`)."""

    API = "api"
    REGISTRY = "registry"


# A new token's scopes when none are chosen: what `docker login`, push and pull need, and nothing of the API.
DEFAULT_TOKEN_SCOPES: tuple[TokenScope, ...] = (TokenScope.REGISTRY_WRITE,)
# What tokens made before scopes existed keep: all they did, except minting credentials.
LEGACY_TOKEN_SCOPES: tuple[TokenScope, ...] = (TokenScope.REGISTRY_WRITE, TokenScope.API_READ, TokenScope.API_WRITE)

# Each scope includes the lesser ones of its family (registry:write reads too, as GitHub's write:packages does;
# api:credentials is a write, api:write reads), so no one has to tick read beside write.
_SATISFIED_BY: dict[TokenScope, frozenset[TokenScope]] = {
    TokenScope.REGISTRY_READ: frozenset({TokenScope.REGISTRY_READ, TokenScope.REGISTRY_WRITE}),
    TokenScope.REGISTRY_WRITE: frozenset({TokenScope.REGISTRY_WRITE}),
    TokenScope.API_READ: frozenset({TokenScope.API_READ, TokenScope.API_WRITE, TokenScope.API_CREDENTIALS}),
    TokenScope.API_WRITE: frozenset({TokenScope.API_WRITE, TokenScope.API_CREDENTIALS}),
    TokenScope.API_CREDENTIALS: frozenset({TokenScope.API_CREDENTIALS}),
}

_READS = frozenset({Action.READ, Action.LIST, Action.PULL})

# Writes that create or change credentials (robots and their secrets, user accounts and passwords, host join
# tokens): a token needs api:credentials for them, so a leaked everyday token cannot mint ones that outlive it.
# Memberships are credentials only when they make a project admin, which the members service says per call.
CREDENTIAL_PROJECT_WRITES: frozenset[Permission] = frozenset({(R.ROBOT, A.CREATE), (R.ROBOT, A.UPDATE)})
CREDENTIAL_SYSTEM_WRITES: frozenset[tuple[SystemResource, Action]] = frozenset({
    (SystemResource.USER, A.CREATE),
    (SystemResource.USER, A.UPDATE),
    (SystemResource.ROBOT, A.CREATE),
    (SystemResource.ROBOT, A.UPDATE),
    (SystemResource.HOST, A.CREATE),
})


def scope_needed(action: Action, kind: str, *, in_project: bool, credential: bool, surface: Surface) -> TokenScope:
    """The scope a token needs to do `action` to a `kind` of resource, by the surface it is used on."""
    if surface is Surface.REGISTRY:
        return TokenScope.REGISTRY_READ if action in _READS else TokenScope.REGISTRY_WRITE
    if action in _READS:
        return TokenScope.API_READ
    if in_project:
        credential = credential or (ProjectResource(kind), action) in CREDENTIAL_PROJECT_WRITES
    else:
        credential = credential or (SystemResource(kind), action) in CREDENTIAL_SYSTEM_WRITES
    return TokenScope.API_CREDENTIALS if credential else TokenScope.API_WRITE


def scope_satisfied(needed: TokenScope, held: frozenset[TokenScope]) -> bool:
    return not _SATISFIED_BY[needed].isdisjoint(held)
