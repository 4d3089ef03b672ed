"""The role × action matrix: every API read and write of projects, members, robots, users and tokens, for
every kind of caller, allowed or refused as the role data says, and nothing changed when refused.

The oracle is portal.rbac.roles (kept short that way); hand-written expectations for key cells follow it,
so a wrong role table cannot make both sides agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.models import PersonalToken, User
from portal.audit.models import AuditEntry
from portal.projects.models import Member, Project
from portal.rbac.roles import ALL_PROJECT_PERMISSIONS, ROBOT_GRANTABLE, ROLE_PERMISSIONS, Role
from portal.robots.models import Robot, RobotPermission
from tests.fixtures.portal import PASSWORD, basic_header

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

ROLES = [role.value for role in Role]
ROBOT_KINDS = ["robot_with", "robot_without", "robot_disabled", "robot_expired"]
CALLERS = ["anonymous", "no_role", *ROLES, "system_admin", *ROBOT_KINDS]
PULL_ONLY = frozenset({("repository", "pull")})
NEW_PASSWORD = "Quiet-Lantern-Orbit-42"


@dataclass(frozen=True)
class Op:
    """One API call. `needs` is a (resource, action) pair in the target project, or one of:
    "admin" (system administrators), "user" (any person, not a
    robot), "signed_in" (any principal)."""

    name: str
    method: str
    path: str
    needs: Any
    success: int
    body: dict[str, Any] | None = None
    anonymous: int = 401

    @property
    def writes(self) -> bool:
        return self.method != "get"


P = "/api/v1/projects/target"
OPS = [
    # Projects
    # Robots read a project's details only with `project:read` in their list, as every role holds it.
    Op("read project", "get", P, ("project", "read"), 200, anonymous=404),
    Op("update project", "patch", P, ("project", "update"), 200, {"description": "changed"}),
    Op("delete project", "delete", P, ("project", "delete"), 204),
    Op("create project", "post", "/api/v1/projects", "user", 201, {"name": "fresh"}),
    # Members (private project: anonymous callers cannot tell it exists)
    Op("list members", "get", f"{P}/members", ("member", "list"), 200, anonymous=404),
    Op("read member", "get", f"{P}/members/dev", ("member", "read"), 200, anonymous=404),
    Op(
        "add member",
        "post",
        f"{P}/members",
        ("member", "create"),
        201,
        {"username": "outsider", "role": "guest"},
        anonymous=404,
    ),
    Op(
        "change member role",
        "patch",
        f"{P}/members/dev",
        ("member", "update"),
        200,
        {"role": "guest"},
        anonymous=404,
    ),
    Op("remove member", "delete", f"{P}/members/dev", ("member", "delete"), 204, anonymous=404),
    # Project robots
    Op("list project robots", "get", f"{P}/robots", ("robot", "list"), 200),
    Op("read project robot", "get", f"{P}/robots/tool", ("robot", "read"), 200),
    Op(
        "create project robot",
        "post",
        f"{P}/robots",
        ("robot", "create"),
        201,
        {"name": "new-bot", "permissions": [{"resource": "repository", "action": "pull"}]},
    ),
    Op(
        "update project robot",
        "patch",
        f"{P}/robots/tool",
        ("robot", "update"),
        200,
        {"disabled": True},
    ),
    Op(
        "refresh project robot secret",
        "post",
        f"{P}/robots/tool/secret",
        ("robot", "update"),
        200,
        {},
    ),
    Op("delete project robot", "delete", f"{P}/robots/tool", ("robot", "delete"), 204),
    # System robots
    Op("list system robots", "get", "/api/v1/robots", "admin", 200),
    Op("read system robot", "get", "/api/v1/robots/sysbot", "admin", 200),
    Op(
        "create system robot",
        "post",
        "/api/v1/robots",
        "admin",
        201,
        {
            "name": "new-sys",
            "permissions": [{"project": "*", "resource": "repository", "action": "pull"}],
        },
    ),
    Op(
        "update system robot",
        "patch",
        "/api/v1/robots/sysbot",
        "admin",
        200,
        {"description": "changed"},
    ),
    Op("refresh system robot secret", "post", "/api/v1/robots/sysbot/secret", "admin", 200, {}),
    Op("delete system robot", "delete", "/api/v1/robots/sysbot", "admin", 204),
    # Users
    Op("list users", "get", "/api/v1/users", "admin", 200),
    Op("read user", "get", "/api/v1/users/victim", "admin", 200),
    Op(
        "create user",
        "post",
        "/api/v1/users",
        "admin",
        201,
        {"username": "newbie", "password": NEW_PASSWORD},
    ),
    Op("update user", "patch", "/api/v1/users/victim", "admin", 200, {"is_active": False}),
    Op(
        "reset password",
        "post",
        "/api/v1/users/victim/password",
        "admin",
        204,
        {"password": NEW_PASSWORD},
    ),
    Op("delete user", "delete", "/api/v1/users/victim", "admin", 204),
    Op("search users", "get", "/api/v1/users/search?q=vic", "user", 200),
    Op("read own permissions", "get", "/api/v1/users/current/permissions", "signed_in", 200),
    # Tokens
    Op("list own tokens", "get", "/api/v1/users/current/tokens", "user", 200),
    Op("create own token", "post", "/api/v1/users/current/tokens", "user", 201, {"name": "cli"}),
    # Someone else's token does not exist as far as anyone else can tell, administrators included.
    Op(
        "revoke another user's token",
        "delete",
        "/api/v1/users/current/tokens/{victim_token}",
        "user",
        404,
    ),
]


def granted(caller: str) -> frozenset[tuple[str, str]] | None:
    """The caller's permissions in the target project; None when the project is invisible to it."""
    if caller == "system_admin":
        return frozenset((r.value, a.value) for r, a in ALL_PROJECT_PERMISSIONS)
    if caller in ROLES:
        return frozenset((r.value, a.value) for r, a in ROLE_PERMISSIONS[Role(caller)])
    if caller == "robot_with":
        return frozenset((r.value, a.value) for r, a in ROBOT_GRANTABLE)
    if caller == "robot_without":
        return PULL_ONLY
    return None


def expected_status(caller: str, op: Op) -> int:
    if caller == "anonymous":
        return op.anonymous
    if caller in ("robot_disabled", "robot_expired"):
        return 401
    is_robot = caller.startswith("robot")
    if op.needs == "admin":
        return op.success if caller == "system_admin" else 403
    if op.needs == "user":
        return 403 if is_robot else op.success
    if op.needs == "signed_in":
        return op.success
    permissions = granted(caller)
    if permissions is None:
        return 404
    return op.success if op.needs in permissions else 403


def snapshot() -> dict[str, Any]:
    """Everything an API write could change, audit log aside (refusals are audited on purpose)."""
    return {
        "projects": list(
            Project.objects.order_by("pk").values_list("name", "public", "description")
        ),
        "members": list(Member.objects.order_by("pk").values_list("project_id", "user_id", "role")),
        "robots": list(
            Robot.objects.order_by("pk").values_list(
                "name", "project_id", "description", "disabled", "expires_at", "secret_hash"
            )
        ),
        "grants": list(
            RobotPermission.objects.order_by("pk").values_list(
                "robot_id", "project_id", "resource", "action"
            )
        ),
        "users": list(
            User.objects.order_by("pk").values_list(
                "username", "email", "is_admin", "is_active", "password", "display_name"
            )
        ),
        "tokens": list(
            PersonalToken.objects.order_by("pk").values_list(
                "user_id", "name", "secret_hash", "revoked_at"
            )
        ),
    }


@pytest.fixture(scope="module")
def shared_world(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """Built once for the module, like TestCase.setUpTestData: each test's changes roll back with its
    transaction, and the rows are deleted when the module ends. Hundreds of cases stay fast this way."""
    from django.contrib.auth.hashers import MD5PasswordHasher

    from portal.utilities.secrets import display_prefix, hash_secret, new_secret

    with django_db_blocker.unblock():
        # MD5 is what `fast_password_hashing` allows during each test; nothing here is a real secret.
        md5 = MD5PasswordHasher()
        password = md5.encode(PASSWORD, md5.salt())

        def user(username: str, **fields: Any) -> User:
            return User.objects.create(username=username, password=password, **fields)

        users = {role: user("dev" if role == "developer" else role.replace("_", "-")) for role in ROLES}
        users["no_role"] = user("stranger")
        users["system_admin"] = user("boss", is_admin=True)
        bystanders = [user("outsider"), user("victim")]
        target = Project.objects.create(name="target")
        elsewhere = Project.objects.create(name="elsewhere")
        Member.objects.bulk_create(Member(project=target, user=users[role], role=role) for role in ROLES)
        grantable = [(r.value, a.value) for r, a in ROBOT_GRANTABLE]
        pull = [("repository", "pull")]
        past = timezone.now() - timedelta(days=1)

        def robot(name: str, project: Project | None, grants: list[tuple[str, str]], scope: Project | None,
                  **fields: Any) -> tuple[Robot, str]:
            secret = new_secret("berth_robot")
            made = Robot.objects.create(name=name, project=project, secret_hash=hash_secret(secret), **fields)
            RobotPermission.objects.bulk_create(
                RobotPermission(robot=made, project=scope, resource=r, action=a) for r, a in grants)
            return made, secret

        robot("tool", target, pull, target)
        robot("sysbot", None, pull, elsewhere)
        robots = {
            "robot_with": robot("with", target, grantable, target),
            "robot_without": robot("without", target, pull, target),
            # Refused at authentication, whatever they hold.
            "robot_disabled": robot("off", target, grantable, target, disabled=True),
            "robot_expired": robot("old", target, grantable, target, expires_at=past),
        }
        secret = new_secret("berth_pat")
        victim_token = PersonalToken.objects.create(user=bystanders[1], name="victims", prefix=display_prefix(secret),
                                                    secret_hash=hash_secret(secret))
        yield {"users": users, "robots": robots, "victim_token": victim_token}
        Project.objects.filter(pk__in=[target.pk, elsewhere.pk]).delete()
        Robot.objects.filter(project__isnull=True, name="sysbot").delete()
        User.objects.filter(pk__in=[u.pk for u in [*users.values(), *bystanders]]).delete()


@pytest.fixture
def world(shared_world: dict[str, Any], db: Any) -> dict[str, Any]:
    return shared_world


def client_as(world: dict[str, Any], caller: str) -> APIClient:
    client = APIClient()
    if caller in world["users"]:
        client.credentials(
            HTTP_AUTHORIZATION=basic_header(
                world["users"][caller].username, "Correct-Horse-Battery-9"
            )
        )
    elif caller in world["robots"]:
        robot, secret = world["robots"][caller]
        client.credentials(HTTP_AUTHORIZATION=basic_header(robot.full_name, secret))
    return client


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name.replace(" ", "-"))
def test_matrix(world, caller, op):
    path = op.path.format(victim_token=world["victim_token"].pk)
    # Reads change nothing by construction; only writes pay for the before/after comparison.
    before = snapshot() if op.writes else None
    audited_before = AuditEntry.objects.filter(outcome="success").count() if op.writes else 0
    response = getattr(client_as(world, caller), op.method)(path, op.body, format="json")
    expected = expected_status(caller, op)
    assert response.status_code == expected, (
        f"{caller} {op.method.upper()} {path}: {response.content[:300]!r}"
    )
    if expected >= 400:
        assert response.json()["errors"][0]["code"] in REFUSAL_CODES
        if op.writes:
            assert snapshot() == before, "a refused request changed something"
    elif op.writes:
        assert snapshot() != before, "an allowed write changed nothing"
        assert AuditEntry.objects.filter(outcome="success").count() > audited_before, (
            "the write was not audited"
        )


REFUSAL_CODES = {"unauthorized", "forbidden", "not_found", "project_not_found", "not_a_user", "token_not_found",
                 "member_not_found"}
REFUSED_WRITES = [op for op in OPS if op.writes and expected_status("limited_guest", op) == 403]


@pytest.mark.parametrize("op", REFUSED_WRITES, ids=lambda op: op.name.replace(" ", "-"))
def test_refused_writes_are_audited(world, op):
    path = op.path.format(victim_token=world["victim_token"].pk)
    response = getattr(client_as(world, "limited_guest"), op.method)(path, op.body, format="json")
    assert response.status_code == 403
    entry = AuditEntry.objects.get(actor="limited-guest", outcome="denied")
    assert entry.resource == path


# Hand-written cells: these do not consult the role table.


def test_developer_cannot_add_members(world):
    response = client_as(world, "developer").post(
        f"{P}/members", {"username": "outsider", "role": "guest"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == "dev may not create member in project target"
    assert not Member.objects.filter(user__username="outsider").exists()


def test_limited_guest_cannot_list_members_but_reads_the_project(world):
    client = client_as(world, "limited_guest")
    assert client.get(P).status_code == 200
    response = client.get(f"{P}/members")
    assert response.status_code == 403
    assert (
        response.json()["errors"][0]["message"]
        == "limited-guest may not list member in project target"
    )


def test_guest_lists_members_and_robots_but_cannot_create_robots(world):
    client = client_as(world, "guest")
    assert client.get(f"{P}/members").status_code == 200
    assert client.get(f"{P}/robots").status_code == 200
    refused = client.post(
        f"{P}/robots",
        {"name": "x", "permissions": [{"resource": "repository", "action": "pull"}]},
        format="json",
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"] == "guest may not create robot in project target"


def test_maintainer_cannot_manage_robots_or_members(world):
    client = client_as(world, "maintainer")
    assert client.patch(f"{P}/robots/tool", {"disabled": True}, format="json").status_code == 403
    assert client.delete(f"{P}/members/dev").status_code == 403
    assert client.patch(P, {"description": "x"}, format="json").status_code == 403


def test_project_admin_manages_robots_but_not_system_robots(world):
    client = client_as(world, "project_admin")
    assert client.patch(f"{P}/robots/tool", {"description": "ok"}, format="json").status_code == 200
    assert client.get("/api/v1/robots").status_code == 403


def test_push_and_delete_by_role(world):
    """Guests pull but never push; developers push; maintainers delete artifacts — as `can` answers."""
    from portal.rbac.principals import Resource, UserPrincipal

    target = Project.objects.get(name="target")

    def can(role: str, action: str, kind: str) -> bool:
        return UserPrincipal(world["users"][role]).can(action, Resource.of_project(target, kind))

    assert can("guest", "pull", "repository") and not can("guest", "push", "repository")
    assert not can("limited_guest", "push", "repository") and not can(
        "limited_guest", "list", "member"
    )
    assert can("developer", "push", "repository") and not can("developer", "delete", "artifact")
    assert can("maintainer", "delete", "artifact") and not can("maintainer", "create", "member")
    assert can("project_admin", "create", "member") and can("project_admin", "delete", "robot")
    assert not can("no_role", "pull", "repository")


def test_anonymous_on_a_public_project(make_project, anonymous):
    make_project("open", public=True)
    assert anonymous.get("/api/v1/projects/open").status_code == 200
    members = anonymous.get("/api/v1/projects/open/members")
    assert members.status_code == 401
    assert members.json()["errors"][0] == {
        "code": "unauthorized",
        "message": "sign in to list member",
    }
    assert anonymous.get("/api/v1/projects/open/robots").status_code == 401
    assert (
        anonymous.patch("/api/v1/projects/open", {"description": "x"}, format="json").status_code
        == 401
    )


def test_signed_in_stranger_on_a_public_project(make_project, make_user, client_for):
    make_project("open", public=True)
    client = client_for(make_user("passer-by"))
    assert client.get("/api/v1/projects/open").status_code == 200
    assert client.get("/api/v1/projects/open/robots").status_code == 403
    assert (
        client.post(
            "/api/v1/projects/open/members",
            {"username": "passer-by", "role": "guest"},
            format="json",
        ).status_code
        == 403
    )
    assert not Member.objects.filter(user__username="passer-by").exists()


def test_unauthenticated_answers_carry_a_challenge(anonymous):
    response = anonymous.get("/api/v1/users/current")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Berth"'
