"""Principals: who is calling. Authentication builds one; everything else asks it `can(action, resource)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from django.db.models import Q, QuerySet

from portal.accounts.models import User, UserGroup
from portal.projects.models import GroupMember, Member
from portal.rbac.roles import (
    ALL_PROJECT_PERMISSIONS,
    PUBLIC_PROJECT_PERMISSIONS,
    ROLE_PERMISSIONS,
    Action,
    Permission,
    ProjectResource,
    Role,
    Surface,
    SystemResource,
    TokenScope,
    highest_role,
    scope_needed,
    scope_satisfied,
)
from portal.robots.models import Robot
from portal.system.models import SystemSettings
from portal.utilities.errors import Forbidden


class ProjectLike(Protocol):
    id: int
    name: str
    public: bool


@dataclass(frozen=True)
class Resource:
    """What an action is done to: a kind of thing inside one project, or a system-wide kind."""

    kind: str
    project: ProjectLike | None = None
    # A write that creates or changes a credential although its kind alone does not say so (a membership
    # that makes a project admin): a personal access token needs api:credentials for it.
    credential: bool = field(default=False, kw_only=True)

    @classmethod
    def of_project(cls, project: ProjectLike, kind: ProjectResource | str, *, credential: bool = False) -> Resource:
        return cls(str(ProjectResource(kind)), project, credential=credential)

    @classmethod
    def system(cls, kind: SystemResource | str) -> Resource:
        return cls(str(SystemResource(kind)))


class Principal:
    """The one question every caller answers; subclasses only say which permissions they hold."""

    kind: ClassVar[str] = "abstract"
    name: str = ""
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    is_system_admin: bool = False
    # DRF and Django's auth machinery look for these on request.user.
    is_active: bool = True
    pk: Any = None

    def can(self, action: Action | str, resource: Resource) -> bool:
        action = Action(action)
        if self.missing_scope(action, resource) is not None:
            return False
        if self.is_system_admin:
            return True
        if resource.project is None:
            return self.can_system(action, SystemResource(resource.kind))
        return (ProjectResource(resource.kind), action) in self.permissions_in(resource.project)

    def effective_permissions(self, project: ProjectLike) -> frozenset[Permission]:
        """Every project permission `can` grants here: what the UI shows as enabled controls."""
        return ALL_PROJECT_PERMISSIONS if self.is_system_admin else self.permissions_in(project)

    def permissions_in(self, project: ProjectLike) -> frozenset[Permission]:
        granted = self.granted_in(project)
        if project.public:
            return granted | PUBLIC_PROJECT_PERMISSIONS
        return granted

    def granted_in(self, project: ProjectLike) -> frozenset[Permission]:
        return frozenset()

    def can_system(self, action: Action, resource: SystemResource) -> bool:
        return False

    def role_in(self, project: ProjectLike) -> Role | None:
        return None

    def missing_scope(self, action: Action, resource: Resource) -> TokenScope | None:
        """The token scope this caller lacks for the action, if it is a token that lacks one."""
        return None

    def missing_api_scope(self, method: str) -> TokenScope | None:
        """The same for any API call by its HTTP method: the gate of calls that ask `can` nothing."""
        return None

    @property
    def credentials_deadline(self) -> datetime | None:
        """When credentials this caller makes must expire at the latest: its token's own expiry."""
        return None

    def cap_expiry(self, expires_at: datetime | None) -> datetime | None:
        """`expires_at` (None: never), brought forward so that nothing this caller makes outlives its token."""
        deadline = self.credentials_deadline
        if deadline is None:
            return expires_at
        return deadline if expires_at is None else min(expires_at, deadline)

    def visible_projects_q(self) -> Q:
        """A filter on Project rows this principal may see."""
        return Q(public=True)

    def readable_projects_q(self) -> Q:
        """A filter on Project rows whose details it may read: every role, and the public, holds `project:read`."""
        return self.visible_projects_q()

    @property
    def audit_name(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.audit_name


class AnonymousPrincipal(Principal):
    kind = "anonymous"
    name = "anonymous"
    is_authenticated = False  # type: ignore[assignment]
    is_anonymous = True  # type: ignore[assignment]
    is_active = False


@dataclass(eq=False)
class UserPrincipal(Principal):
    """A person: by session, password, or one of their personal access tokens."""

    user: User
    via: str = "password"
    _roles: dict[int, Role | None] = field(default_factory=dict, repr=False)
    # A personal access token's scopes; None for a password or a session, which may do all the user may.
    scopes: frozenset[TokenScope] | None = None
    surface: Surface = Surface.API
    token_expires_at: datetime | None = None

    kind = "user"

    def __post_init__(self) -> None:
        self.name = self.user.username
        self.pk = self.user.pk
        self.is_system_admin = bool(self.user.is_admin)
        self.is_active = self.user.can_sign_in

    def preload_roles(self, project_ids: list[int]) -> None:
        missing = [pid for pid in project_ids if pid not in self._roles]
        if not missing:
            return
        found: dict[int, Role | None] = {
            pid: Role(role)
            for pid, role in Member.objects.filter(user=self.user, project_id__in=missing).values_list("project_id", "role")
        }
        if self.user.source_id is not None:
            # One query for every group of the user, however many: the groups are stored at each directory check.
            for pid, role in self.group_memberships().filter(project_id__in=missing).values_list("project_id", "role"):
                found[pid] = highest_role(found.get(pid), Role(role))
        for pid in missing:
            self._roles[pid] = found.get(pid)

    def group_memberships(self) -> QuerySet[GroupMember]:
        """The project memberships of the groups the directory last said the user is in."""
        return GroupMember.objects.filter(
            source_id=self.user.source_id, group__in=UserGroup.objects.filter(user_id=self.user.pk).values("group")
        ).order_by()

    def remember_roles(self, roles: dict[int, Role | None]) -> None:
        """Seeds the role cache from a query the caller already ran, so no per-project query follows."""
        self._roles.update(roles)

    def role_in(self, project: ProjectLike) -> Role | None:
        if project.id not in self._roles:
            self.preload_roles([project.id])
        return self._roles[project.id]

    def granted_in(self, project: ProjectLike) -> frozenset[Permission]:
        role = self.role_in(project)
        return ROLE_PERMISSIONS[role] if role else frozenset()

    def missing_scope(self, action: Action, resource: Resource) -> TokenScope | None:
        if self.scopes is None:
            return None
        needed = scope_needed(action, resource.kind, in_project=resource.project is not None,
                              credential=resource.credential, surface=self.surface)
        return None if scope_satisfied(needed, self.scopes) else needed

    def missing_api_scope(self, method: str) -> TokenScope | None:
        if self.scopes is None:
            return None
        needed = TokenScope.API_READ if method in ("GET", "HEAD", "OPTIONS") else TokenScope.API_WRITE
        return None if scope_satisfied(needed, self.scopes) else needed

    @property
    def credentials_deadline(self) -> datetime | None:
        return self.token_expires_at if self.scopes is not None else None

    def can_system(self, action: Action, resource: SystemResource) -> bool:
        if resource is SystemResource.PROJECT and action is Action.CREATE:
            return not SystemSettings.load().project_creation_admin_only
        # Signed-in users may list usernames (the search used to add members); reading user
        # records, with their e-mail addresses, stays with administrators.
        return resource is SystemResource.USER and action is Action.LIST

    def visible_projects_q(self) -> Q:
        if self.is_system_admin:
            return Q()
        # `id IN (their project ids)` is evaluated once, as a hashed set; a correlated EXISTS
        # probed the member index once for every private project row the count walks.
        visible = Q(public=True) | Q(pk__in=Member.objects.filter(user_id=self.user.pk).values("project_id"))
        if self.user.source_id is not None:
            visible |= Q(pk__in=self.group_memberships().values("project_id"))
        return visible


@dataclass(eq=False)
class RobotPrincipal(Principal):
    """A robot account: only what its permission list says, in the projects it names."""

    robot: Robot
    _grants: dict[int | None, frozenset[Permission]] | None = field(default=None, repr=False)

    kind = "robot"

    def __post_init__(self) -> None:
        self.name = self.robot.full_name
        self.pk = self.robot.pk
        self.is_active = self.robot.is_usable()

    @property
    def grants(self) -> dict[int | None, frozenset[Permission]]:
        """Permissions by project id; the key None means every project."""
        if self._grants is None:
            collected: dict[int | None, set[Permission]] = {}
            for grant in self.robot.permissions.all():
                collected.setdefault(grant.project_id, set()).add(
                    (ProjectResource(grant.resource), Action(grant.action))
                )
            self._grants = {key: frozenset(value) for key, value in collected.items()}
        return self._grants

    def granted_in(self, project: ProjectLike) -> frozenset[Permission]:
        if not self.robot.is_usable():
            return frozenset()
        return self.grants.get(project.id, frozenset()) | self.grants.get(None, frozenset())

    def can_system(self, action: Action, resource: SystemResource) -> bool:
        return False

    def visible_projects_q(self) -> Q:
        if None in self.grants:
            return Q()
        return Q(public=True) | Q(id__in=[pid for pid in self.grants if pid is not None])

    def readable_projects_q(self) -> Q:
        # A robot sees the projects its list names (to reach their repositories) but reads a project's details
        # only where the list grants `project:read`.
        read = (ProjectResource.PROJECT, Action.READ)
        if read in self.grants.get(None, frozenset()):
            return Q()
        return Q(public=True) | Q(id__in=[pid for pid, held in self.grants.items() if pid is not None and read in held])


def require(principal: Principal, action: Action | str, resource: Resource) -> None:
    """Raises Forbidden with a message naming what was refused, unless `principal.can` says yes."""
    if principal.can(action, resource):
        return
    if not principal.is_authenticated:
        raise SignInRequired(f"sign in to {Action(action)} {resource.kind}")
    where = f" in project {resource.project.name}" if resource.project is not None else ""
    missing = principal.missing_scope(Action(action), resource)
    if missing is not None:
        raise MissingScope(missing, f"{Action(action)} {resource.kind}{where}")
    raise Forbidden(f"{principal.audit_name or 'anonymous'} may not {Action(action)} {resource.kind}{where}")


def require_scope(principal: Principal, method: str) -> None:
    """Refuses a token whose scopes do not cover API calls of this HTTP method at all."""
    missing = principal.missing_api_scope(method)
    if missing is not None:
        raise MissingScope(missing, "read through the API" if missing is TokenScope.API_READ else "write through the API")


class MissingScope(Forbidden):
    """A personal access token used beyond the scopes chosen when it was made."""

    code = "insufficient_scope"

    def __init__(self, scope: TokenScope, doing: str) -> None:
        super().__init__(f"this personal access token lacks the {scope} scope, needed to {doing}")
        self.scope = scope


class SignInRequired(Forbidden):
    """A refusal to an anonymous caller: 401, since signing in may change the answer.

    It stays a Forbidden so callers that catch Forbidden (the registry proxy) keep working.
    """

    code = "unauthorized"
    status_code = 401
