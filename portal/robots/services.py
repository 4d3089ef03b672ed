"""Writes to robot accounts; each checks the actor, runs in a transaction and is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from portal.audit.services import record
from portal.projects.models import Project
from portal.projects.services import PROJECT_NAME_PATTERN
from portal.rbac.principals import Principal, Resource, UserPrincipal, require
from portal.rbac.roles import (
    ROBOT_GRANTABLE,
    Action,
    ProjectResource,
    SystemResource,
    permission_label,
)
from portal.robots.models import ROBOT_PREFIX, ROBOT_SECRET_LABEL, Robot, RobotPermission
from portal.utilities.errors import Conflict, InvalidInput, NotFound
from portal.utilities.secrets import hash_chosen_secret, hash_secret, new_secret

SECRET_LABEL = ROBOT_SECRET_LABEL
ALL_PROJECTS = "*"
GRANTABLE_LABELS = sorted(permission_label(p) for p in ROBOT_GRANTABLE)
# A secret a person chooses is stored with a salted slow hash; still, it is a robot's only credential and
# scripts keep it in files, so it must be long and varied as well.
MIN_CHOSEN_SECRET_LENGTH = 16
# Longer than any real need ("never" exists for that) and far from the calendar's end.
MAX_EXPIRY_DAYS = 36500


@dataclass(frozen=True)
class Grant:
    project: Project | None
    resource: ProjectResource
    action: Action

    def as_dict(self) -> dict[str, str]:
        return {"project": self.project.name if self.project else ALL_PROJECTS,
                "resource": self.resource.value, "action": self.action.value}


def robot_resource(project: Project | None) -> Resource:
    return Resource.of_project(project, ProjectResource.ROBOT) if project else Resource.system(SystemResource.ROBOT)


def robots_of(project: Project | None) -> QuerySet[Robot]:
    """Robots of one project, or system robots; with everything a list shows, in a fixed number of queries."""
    grants = RobotPermission.objects.select_related("project").order_by("project__name", "resource", "action")
    return (
        Robot.objects.filter(project=project)
        .select_related("project", "created_by")
        .prefetch_related(Prefetch("permissions", queryset=grants))
    )


def find_robot(project: Project | None, id_or_name: str) -> Robot:
    """By id (all digits), short name, or full name `robot$name` / `robot$project+name`."""
    robots = robots_of(project)
    name = id_or_name.removeprefix(ROBOT_PREFIX)
    if project is not None:
        name = name.removeprefix(f"{project.name}+")
    if id_or_name.isdigit():
        robot = robots.filter(pk=int(id_or_name)).first()
    elif PROJECT_NAME_PATTERN.match(name):
        robot = robots.filter(name=name).first()
    else:
        # A name no robot can have is not looked up (and bytes like NUL never reach the database).
        robot = None
    if robot is None:
        raise NotFound(f"robot {id_or_name!r} not found", code="robot_not_found")
    return robot


def validate_robot_name(name: str) -> str:
    if not 1 <= len(name) <= 255 or not PROJECT_NAME_PATTERN.match(name):
        raise InvalidInput(
            f"invalid robot name {name!r}: use lowercase letters and digits, separated by single '.', '_' or '-'",
            detail={"name": ["lowercase letters and digits, separated by single '.', '_' or '-'"]},
        )
    return name


def validate_chosen_secret(secret: str) -> str:
    if secret.startswith(SECRET_LABEL + "_"):
        # The prefix tells sign-in that a secret is a generated one, checked by its fast hash alone and never
        # slowed down by failed attempts; a person's choice must not pass for one.
        raise InvalidInput(f"a chosen robot secret may not start with {SECRET_LABEL + '_'!r}, which marks generated ones",
                           code="weak_secret", detail={"secret": [f"starts with {SECRET_LABEL + '_'!r}"]})
    classes = [r"[a-z]", r"[A-Z]", r"[0-9]"]
    if not MIN_CHOSEN_SECRET_LENGTH <= len(secret) <= 128 or not all(re.search(c, secret) for c in classes):
        raise InvalidInput(
            f"a robot secret must be {MIN_CHOSEN_SECRET_LENGTH} to 128 characters with lowercase and uppercase "
            "letters and digits",
            code="weak_secret", detail={"secret": ["too weak"]},
        )
    return secret


def _expiry(days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires_in_days must be from 1 to {MAX_EXPIRY_DAYS} (or null for never), not {days}",
                           detail={"expires_in_days": [f"from 1 to {MAX_EXPIRY_DAYS}, or null"]})
    return timezone.now() + timedelta(days=days)


def parse_grants(project: Project | None, requested: list[dict[str, Any]]) -> list[Grant]:
    """Checks a requested permission list against ROBOT_GRANTABLE and the robot's scope."""
    if not requested:
        raise InvalidInput("a robot needs at least one permission", detail={"permissions": ["at least one"]})
    names = {item.get("project") or ALL_PROJECTS for item in requested} - {ALL_PROJECTS}
    projects = {p.name: p for p in Project.objects.filter(name__in=names)}
    grants: list[Grant] = []
    for item in requested:
        try:
            pair = (ProjectResource(item["resource"]), Action(item["action"]))
        except ValueError:
            pair = None
        if pair not in ROBOT_GRANTABLE:
            raise InvalidInput(
                f"robots may not be granted {item['resource']}:{item['action']}; "
                f"grantable: {', '.join(GRANTABLE_LABELS)}",
                code="permission_not_grantable", detail={"permissions": ["not grantable"]},
            )
        target = item.get("project") or (project.name if project else None)
        if project is not None:
            if target != project.name:
                raise InvalidInput(f"a robot of project {project.name} can only be granted permissions in it",
                                   detail={"permissions": ["outside the robot's project"]})
            scope: Project | None = project
        elif target is None:
            raise InvalidInput("each permission of a system robot names a project, or '*' for all",
                               detail={"permissions": ["project required"]})
        elif target == ALL_PROJECTS:
            scope = None
        elif target in projects:
            scope = projects[target]
        else:
            raise InvalidInput(f"no project named {target!r}", code="project_not_found",
                               detail={"permissions": [f"no project {target!r}"]})
        grant = Grant(scope, *pair)
        if grant not in grants:
            grants.append(grant)
    return grants


def _save_grants(robot: Robot, grants: list[Grant]) -> None:
    RobotPermission.objects.filter(robot=robot).delete()
    RobotPermission.objects.bulk_create(
        RobotPermission(robot=robot, project=g.project, resource=g.resource.value, action=g.action.value)
        for g in grants
    )


@dataclass(frozen=True)
class IssuedRobot:
    robot: Robot
    secret: str


def create_robot(actor: Principal, *, name: str, project: Project | None = None, permissions: list[dict[str, Any]],
                 description: str = "", expires_in_days: int | None = None, disabled: bool = False,
                 secret: str | None = None, source_ip: str | None = None) -> IssuedRobot:
    """A new robot; the clear secret exists only in the returned value."""
    require(actor, Action.CREATE, robot_resource(project))
    validate_robot_name(name)
    grants = parse_grants(project, permissions)
    clear, secret_hash = _new_secret(secret)
    robot = Robot(name=name, project=project, description=description, disabled=disabled,
                  expires_at=actor.cap_expiry(_expiry(expires_in_days)), secret_hash=secret_hash,
                  created_by=actor.user if isinstance(actor, UserPrincipal) else None)
    try:
        with transaction.atomic():
            robot.save()
            _save_grants(robot, grants)
            record(actor, "create", "robot", robot.full_name, project=project, source_ip=source_ip,
                   detail={"permissions": [g.as_dict() for g in grants], "expires_at": _iso(robot.expires_at),
                           "secret_chosen": bool(secret)})
    except IntegrityError:
        where = f" in project {project.name}" if project else ""
        raise Conflict(f"a robot named {name!r} already exists{where}", code="robot_exists") from None
    return IssuedRobot(robot, clear)


def update_robot(actor: Principal, robot: Robot, changes: dict[str, Any], source_ip: str | None = None) -> Robot:
    """Description, enable/disable, a new expiry counted from now, or a replacement permission list."""
    require(actor, Action.UPDATE, robot_resource(robot.project))
    grants = parse_grants(robot.project, changes["permissions"]) if "permissions" in changes else None
    audit: dict[str, Any] = {}
    expired_before = robot.expires_at
    with transaction.atomic():
        for key in ("description", "disabled"):
            if key in changes:
                setattr(robot, key, changes[key])
                audit[key] = changes[key]
        if "expires_in_days" in changes:
            robot.expires_at = _expiry(changes["expires_in_days"])
        if _renews(changes):
            robot.expires_at = actor.cap_expiry(robot.expires_at)
        if "expires_in_days" in changes or robot.expires_at != expired_before:
            audit["expires_at"] = _iso(robot.expires_at)
        robot.save()
        if grants is not None:
            _save_grants(robot, grants)
            audit["permissions"] = [g.as_dict() for g in grants]
        record(actor, "update", "robot", robot.full_name, project=robot.project, source_ip=source_ip, detail=audit)
    return robot


def _renews(changes: dict[str, Any]) -> bool:
    """Whether an update gives the robot's credential new life (a new expiry, new permissions, re-enabling): then
    it is capped at the acting token's expiry, as a new robot would be. A new description changes no credential."""
    return "expires_in_days" in changes or "permissions" in changes or changes.get("disabled") is False


def refresh_secret(actor: Principal, robot: Robot, secret: str | None = None, source_ip: str | None = None) -> str:
    """Replaces the robot's secret (generated, or a strong one the caller chose); the old one stops working."""
    require(actor, Action.UPDATE, robot_resource(robot.project))
    clear, secret_hash = _new_secret(secret)
    with transaction.atomic():
        robot.secret_hash = secret_hash
        robot.secret_refreshed_at = timezone.now()
        # A new secret made by a token must not outlive the token.
        robot.expires_at = actor.cap_expiry(robot.expires_at)
        robot.save(update_fields=["secret_hash", "secret_refreshed_at", "expires_at", "updated_at"])
        record(actor, "refresh_secret", "robot", robot.full_name, project=robot.project, source_ip=source_ip,
               detail={"secret_chosen": bool(secret), "expires_at": _iso(robot.expires_at)})
    return clear


def _new_secret(chosen: str | None) -> tuple[str, str]:
    """The clear secret and its stored form: a generated one is random and fast-hashed, a chosen one slow-hashed."""
    if chosen:
        return validate_chosen_secret(chosen), hash_chosen_secret(chosen)
    clear = new_secret(SECRET_LABEL)
    return clear, hash_secret(clear)


def delete_robot(actor: Principal, robot: Robot, source_ip: str | None = None) -> None:
    require(actor, Action.DELETE, robot_resource(robot.project))
    with transaction.atomic():
        record(actor, "delete", "robot", robot.full_name, project=robot.project, source_ip=source_ip)
        robot.delete()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
