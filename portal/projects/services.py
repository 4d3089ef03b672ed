"""Writes to projects and memberships; each checks the actor, runs in a transaction and is audited."""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.db import IntegrityError, transaction

from portal.accounts.models import AuthSource, User
from portal.audit.services import record
from portal.projects.models import GroupMember, Member, Project
from portal.rbac.principals import Principal, Resource, UserPrincipal, require
from portal.rbac.roles import Action, ProjectResource, Role, SystemResource
from portal.registry.storage import RepositoryStorage, storage_from_settings
from portal.utilities.errors import Conflict, Forbidden, InvalidInput

PROJECT_NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def validate_project_name(name: str) -> str:
    if not 1 <= len(name) <= 255:
        raise InvalidInput("project name must be 1 to 255 characters long", detail={"name": ["1 to 255 characters"]})
    if not PROJECT_NAME_PATTERN.match(name):
        raise InvalidInput(
            f"invalid project name {name!r}: use lowercase letters and digits, separated by single '.', '_' or '-'",
            detail={"name": ["lowercase letters and digits, separated by single '.', '_' or '-'"]},
        )
    return name


def create_project(actor: Principal, name: str, *, public: bool = False, description: str = "",
                   source_ip: str | None = None) -> Project:
    require(actor, Action.CREATE, Resource.system(SystemResource.PROJECT))
    validate_project_name(name)
    owner = actor.user if isinstance(actor, UserPrincipal) else None
    try:
        with transaction.atomic():
            project = Project.objects.create(name=name, public=public, description=description, owner=owner)
            if owner is not None:
                Member.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
            record(actor, "create", "project", name, project=project, source_ip=source_ip,
                   detail={"public": public})
    except IntegrityError:
        raise Conflict(f"a project named {name!r} already exists", code="project_exists") from None
    return project


def update_project(actor: Principal, project: Project, changes: dict[str, Any], source_ip: str | None = None) -> Project:
    require(actor, Action.UPDATE, Resource.of_project(project, ProjectResource.PROJECT))
    # A project admin could otherwise hand the host to every developer of the project.
    if "allow_host_binds" in changes and not actor.can(Action.UPDATE, Resource.system(SystemResource.CONFIGURATION)):
        raise Forbidden(f"only a system administrator may change whether project {project.name} binds host paths",
                        code="admin_only")
    if "storage_limit" in changes and not actor.can(Action.UPDATE, Resource.system(SystemResource.CONFIGURATION)):
        raise Forbidden(f"only a system administrator may change the storage limit of project {project.name}",
                        code="admin_only")
    allowed = {"public", "description", "allow_host_binds", "storage_limit"}
    with transaction.atomic():
        for key, value in changes.items():
            if key in allowed:
                setattr(project, key, value)
        project.save()
        record(actor, "update", "project", project.name, project=project, source_ip=source_ip,
               detail={k: v for k, v in changes.items() if k in allowed})
    return project


def repository_count(project: Project) -> int:
    if not apps.is_installed("portal.artifacts"):
        return 0
    return apps.get_model("artifacts", "Repository").objects.filter(project=project).count()


def delete_project(actor: Principal, project: Project, source_ip: str | None = None, *,
                   storage: RepositoryStorage | None = None) -> None:
    """Deletes an empty project, and whatever distribution still stores under its name (repositories pushed
    around Berth or never indexed), so a project created again under the name starts empty."""
    require(actor, Action.DELETE, Resource.of_project(project, ProjectResource.PROJECT))
    storage = storage or storage_from_settings()
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        count = repository_count(locked)
        if count:
            raise Conflict(
                f"project {project.name!r} still holds {count} repositor{'y' if count == 1 else 'ies'}; "
                "delete them first",
                code="project_not_empty",
            )
        record(actor, "delete", "project", project.name, project=project, source_ip=source_ip)
        locked.delete()
        # Last, inside the transaction, as for a repository: a failure deletes nothing, a repeat finishes it.
        storage.remove_project(locked.name)


def _validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}; choose one of {choices}", detail={"role": [f"one of {choices}"]}) from None


def _require_credential_scope_for(actor: Principal, action: Action, project: Project, role: Role) -> None:
    """Making someone a project admin lets them make robots: a credential, which a token makes only with
    api:credentials. Other roles are everyday writes."""
    if role is Role.PROJECT_ADMIN:
        require(actor, action, Resource.of_project(project, ProjectResource.MEMBER, credential=True))


def add_member(actor: Principal, project: Project, username: str, role: str, source_ip: str | None = None) -> Member:
    require(actor, Action.CREATE, Resource.of_project(project, ProjectResource.MEMBER))
    checked_role = _validate_role(role)
    _require_credential_scope_for(actor, Action.CREATE, project, checked_role)
    user = User.objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"no user named {username!r}", code="user_not_found", detail={"username": ["no such user"]})
    try:
        with transaction.atomic():
            member = Member.objects.create(project=project, user=user, role=checked_role)
            record(actor, "create", "member", username, project=project, source_ip=source_ip,
                   detail={"role": checked_role.value})
    except IntegrityError:
        raise Conflict(f"{username} is already a member of {project.name}", code="member_exists") from None
    return member


def _ensure_admin_remains(member: Member) -> None:
    if member.role != Role.PROJECT_ADMIN:
        return
    others = Member.objects.filter(project_id=member.project_id, role=Role.PROJECT_ADMIN).exclude(pk=member.pk)
    if not others.exists():
        raise Conflict("a project must keep at least one project admin", code="last_project_admin")


def change_member_role(actor: Principal, member: Member, role: str, source_ip: str | None = None) -> Member:
    require(actor, Action.UPDATE, Resource.of_project(member.project, ProjectResource.MEMBER))
    checked_role = _validate_role(role)
    _require_credential_scope_for(actor, Action.UPDATE, member.project, checked_role)
    with transaction.atomic():
        if checked_role != Role.PROJECT_ADMIN:
            _ensure_admin_remains(member)
        previous = member.role
        member.role = checked_role
        member.save(update_fields=["role", "updated_at"])
        record(actor, "update", "member", member.user.username, project=member.project, source_ip=source_ip,
               detail={"from": previous, "to": checked_role.value})
    return member


def remove_member(actor: Principal, member: Member, source_ip: str | None = None) -> None:
    require(actor, Action.DELETE, Resource.of_project(member.project, ProjectResource.MEMBER))
    with transaction.atomic():
        _ensure_admin_remains(member)
        record(actor, "delete", "member", member.user.username, project=member.project, source_ip=source_ip)
        member.delete()


# Groups as members: every user a directory puts in the group holds the role (a user's own role may be stronger).


def add_group_member(actor: Principal, project: Project, source_name: str, group: str, role: str,
                     source_ip: str | None = None) -> GroupMember:
    require(actor, Action.CREATE, Resource.of_project(project, ProjectResource.MEMBER))
    checked_role = _validate_role(role)
    _require_credential_scope_for(actor, Action.CREATE, project, checked_role)
    source = AuthSource.objects.filter(name=source_name).first()
    if source is None:
        raise InvalidInput(f"no authentication source named {source_name!r}", code="source_not_found",
                           detail={"source": ["no such source"]})
    # LDAP DNs compare case-insensitively; stored lower-cased as the groups of users are.
    identifier = group.strip().lower() if source.kind == "ldap" else group.strip()
    if not identifier:
        raise InvalidInput("a group member needs the group's identifier", detail={"group": ["required"]})
    try:
        with transaction.atomic():
            member = GroupMember.objects.create(project=project, source=source, group=identifier, role=checked_role)
            record(actor, "create", "group_member", f"{source.name}:{identifier}", project=project, source_ip=source_ip,
                   detail={"role": checked_role.value})
    except IntegrityError:
        raise Conflict(f"group {identifier} of {source.name} is already a member of {project.name}",
                       code="member_exists") from None
    return member


def change_group_member_role(actor: Principal, member: GroupMember, role: str, source_ip: str | None = None) -> GroupMember:
    require(actor, Action.UPDATE, Resource.of_project(member.project, ProjectResource.MEMBER))
    checked_role = _validate_role(role)
    _require_credential_scope_for(actor, Action.UPDATE, member.project, checked_role)
    with transaction.atomic():
        previous = member.role
        member.role = checked_role
        member.save(update_fields=["role", "updated_at"])
        record(actor, "update", "group_member", f"{member.source.name}:{member.group}", project=member.project,
               source_ip=source_ip, detail={"from": previous, "to": checked_role.value})
    return member


def remove_group_member(actor: Principal, member: GroupMember, source_ip: str | None = None) -> None:
    require(actor, Action.DELETE, Resource.of_project(member.project, ProjectResource.MEMBER))
    with transaction.atomic():
        record(actor, "delete", "group_member", f"{member.source.name}:{member.group}", project=member.project,
               source_ip=source_ip)
        member.delete()
