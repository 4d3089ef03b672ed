"""Personal access token scopes: what a token may do is chosen when it is made, and nothing it makes outlives it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.models import PersonalToken, User
from portal.audit.models import AuditEntry
from portal.fleet.models import JoinToken
from portal.projects.models import Member
from portal.robots.models import Robot
from tests.fixtures.portal import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

TOKENS = "/api/v1/users/current/tokens"
NEW_PASSWORD = "Quiet-Lantern-Orbit-42"
EVERYDAY = ("registry:write", "api:read", "api:write")  # what tokens made before scopes were migrated to
WITH_CREDENTIALS = (*EVERYDAY, "api:credentials")


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def signed_in(username: str) -> APIClient:
    """A fresh browser session, signed in with the password."""
    client = APIClient()
    response = client.post("/api/v1/auth/login", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return client


def error(response: Any) -> dict[str, str]:
    return dict(response.json()["errors"][0])


# Each call that mints or changes a credential


@dataclass(frozen=True)
class Minting:
    name: str
    actor: str  # "admin" or "project_admin"
    path: str
    body: dict[str, Any]
    doing: str  # how the refusal names it
    success: int = 201


MINTING = [
    Minting("create user", "admin", "/api/v1/users", {"username": "newbie", "password": NEW_PASSWORD}, "create user"),
    Minting("create admin", "admin", "/api/v1/users", {"username": "boss2", "password": NEW_PASSWORD, "is_admin": True},
            "create user"),
    Minting("reset password", "admin", "/api/v1/users/victim/password", {"password": NEW_PASSWORD}, "update user", 204),
    Minting("create robot", "project_admin", "/api/v1/projects/app/robots",
            {"name": "new-bot", "permissions": [{"resource": "repository", "action": "push"}]},
            "create robot in project app"),
    Minting("refresh robot secret", "project_admin", "/api/v1/projects/app/robots/tool/secret", {},
            "update robot in project app", 200),
    Minting("create system robot", "admin", "/api/v1/robots",
            {"name": "everywhere", "permissions": [{"project": "*", "resource": "repository", "action": "push"}]},
            "create robot"),
    Minting("create join token", "admin", "/api/v1/hosts/join-tokens", {"expires_in_hours": 24}, "create host"),
    Minting("add project admin", "project_admin", "/api/v1/projects/app/members",
            {"username": "victim", "role": "project_admin"}, "create member in project app"),
]


@pytest.fixture
def world(make_user, make_project, make_robot) -> dict[str, Any]:
    admin = make_user("root", admin=True)
    owner = make_user("owner")
    make_user("victim")
    app = make_project("app", members={owner: "project_admin"})
    make_robot("tool", project=app, permissions=[("repository", "pull")])
    return {"admin": admin, "project_admin": owner}


def credentials_snapshot() -> dict[str, Any]:
    return {
        "users": list(User.objects.order_by("pk").values_list("username", "is_admin", "password")),
        "robots": list(Robot.objects.order_by("pk").values_list("name", "secret_hash", "expires_at")),
        "members": list(Member.objects.order_by("pk").values_list("user_id", "role")),
        "join_tokens": JoinToken.objects.count(),
        "tokens": PersonalToken.objects.count(),
    }


@pytest.mark.parametrize("call", MINTING, ids=lambda call: call.name.replace(" ", "-"))
def test_a_token_without_api_credentials_cannot_mint_credentials(world, make_token, call):
    token = make_token(world[call.actor], scopes=EVERYDAY)
    before = credentials_snapshot()

    response = bearer(token).post(call.path, call.body, format="json")

    assert response.status_code == 403, response.content
    assert error(response) == {
        "code": "insufficient_scope",
        "message": f"this personal access token lacks the api:credentials scope, needed to {call.doing}",
    }
    assert credentials_snapshot() == before
    assert AuditEntry.objects.filter(outcome="denied", resource=call.path).exists()


@pytest.mark.parametrize("call", MINTING, ids=lambda call: call.name.replace(" ", "-"))
def test_a_fresh_session_mints_credentials(world, call):
    before = credentials_snapshot()

    response = signed_in(world[call.actor].username).post(call.path, call.body, format="json")

    assert response.status_code == call.success, response.content
    assert credentials_snapshot() != before


@pytest.mark.parametrize("call", MINTING, ids=lambda call: call.name.replace(" ", "-"))
def test_a_token_with_api_credentials_mints_them(world, make_token, call):
    token = make_token(world[call.actor], scopes=WITH_CREDENTIALS, expires_at=timezone.now() + timedelta(days=7))

    response = bearer(token).post(call.path, call.body, format="json")

    assert response.status_code == call.success, response.content


@pytest.mark.parametrize("scopes", [EVERYDAY, WITH_CREDENTIALS])
def test_no_token_creates_tokens(world, make_token, scopes):
    token = make_token(world["admin"], scopes=scopes)

    response = bearer(token).post(TOKENS, {"name": "more", "scopes": ["api:credentials"]}, format="json")

    assert response.status_code == 403
    assert error(response) == {"code": "token_cannot_create_tokens",
                               "message": "a personal access token cannot create tokens; sign in with your password"}
    assert PersonalToken.objects.count() == 1
    assert signed_in("root").post(TOKENS, {"name": "more"}, format="json").status_code == 201


def test_a_token_may_add_an_everyday_member_with_api_write_alone(world, make_token):
    token = make_token(world["project_admin"], scopes=("api:write",))

    response = bearer(token).post("/api/v1/projects/app/members", {"username": "victim", "role": "developer"},
                                  format="json")

    assert response.status_code == 201, response.content
    promoted = bearer(token).patch("/api/v1/projects/app/members/victim", {"role": "project_admin"}, format="json")
    assert promoted.status_code == 403
    assert error(promoted)["message"] == (
        "this personal access token lacks the api:credentials scope, needed to update member in project app")
    assert Member.objects.get(user__username="victim").role == "developer"


# Nothing a token makes outlives it


def test_a_robot_made_by_a_token_expires_with_it(world, make_token):
    ends = timezone.now() + timedelta(days=3)
    token = make_token(world["project_admin"], scopes=WITH_CREDENTIALS, expires_at=ends)
    robots = "/api/v1/projects/app/robots"
    pull = [{"resource": "repository", "action": "pull"}]

    never = bearer(token).post(robots, {"name": "forever", "permissions": pull, "expires_in_days": None}, format="json")
    month = bearer(token).post(robots, {"name": "month", "permissions": pull, "expires_in_days": 30}, format="json")
    day = bearer(token).post(robots, {"name": "day", "permissions": pull, "expires_in_days": 1}, format="json")

    assert (never.status_code, month.status_code, day.status_code) == (201, 201, 201)
    assert Robot.objects.get(name="forever").expires_at == ends
    assert Robot.objects.get(name="month").expires_at == ends
    assert Robot.objects.get(name="day").expires_at < ends
    assert AuditEntry.objects.get(action="create", resource="robot$app+forever").detail["expires_at"] == ends.isoformat()


def test_a_system_robot_made_by_a_token_expires_with_it(world, make_token):
    ends = timezone.now() + timedelta(days=2)
    token = make_token(world["admin"], scopes=("api:credentials",), expires_at=ends)

    response = bearer(token).post("/api/v1/robots", MINTING[5].body, format="json")

    assert response.status_code == 201, response.content
    assert Robot.objects.get(name="everywhere").expires_at == ends


def test_a_secret_refreshed_or_a_robot_renewed_by_a_token_expires_with_it(world, make_token):
    ends = timezone.now() + timedelta(hours=5)
    token = make_token(world["project_admin"], scopes=WITH_CREDENTIALS, expires_at=ends)
    assert Robot.objects.get(name="tool").expires_at is None

    refreshed = bearer(token).post("/api/v1/projects/app/robots/tool/secret", {}, format="json")

    assert refreshed.status_code == 200, refreshed.content
    assert Robot.objects.get(name="tool").expires_at == ends
    Robot.objects.filter(name="tool").update(expires_at=None)
    renewed = bearer(token).patch("/api/v1/projects/app/robots/tool", {"expires_in_days": 90}, format="json")
    assert renewed.status_code == 200, renewed.content
    assert Robot.objects.get(name="tool").expires_at == ends
    # A new description gives the credential no new life, so it is left as it is.
    Robot.objects.filter(name="tool").update(expires_at=None)
    assert bearer(token).patch("/api/v1/projects/app/robots/tool", {"description": "ci"},
                               format="json").status_code == 200
    assert Robot.objects.get(name="tool").expires_at is None


def test_a_join_token_made_by_a_token_expires_with_it(world, make_token):
    ends = timezone.now() + timedelta(hours=2)
    token = make_token(world["admin"], scopes=WITH_CREDENTIALS, expires_at=ends)

    response = bearer(token).post("/api/v1/hosts/join-tokens", {"expires_in_hours": 24}, format="json")

    assert response.status_code == 201, response.content
    assert JoinToken.objects.get().expires_at == ends


def test_a_session_makes_robots_for_as_long_as_asked(world):
    response = signed_in("owner").post("/api/v1/projects/app/robots", {
        "name": "forever", "permissions": [{"resource": "repository", "action": "pull"}], "expires_in_days": None,
    }, format="json")

    assert response.status_code == 201
    assert Robot.objects.get(name="forever").expires_at is None


# Passwords


def test_no_token_changes_its_owners_password(world, make_token):
    token = make_token(world["project_admin"], scopes=WITH_CREDENTIALS)
    before = User.objects.get(username="owner").password

    response = bearer(token).post("/api/v1/users/current/password",
                                  {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")

    assert response.status_code == 403
    assert error(response) == {"code": "token_cannot_change_password",
                               "message": "a personal access token cannot change your password; sign in with your password"}
    assert User.objects.get(username="owner").password == before


def test_an_administrator_resets_only_others_passwords_without_the_current_one(world, make_token):
    token = make_token(world["admin"], scopes=WITH_CREDENTIALS)
    before = User.objects.get(username="root").password

    for client in (bearer(token), signed_in("root")):
        own = client.post("/api/v1/users/root/password", {"password": NEW_PASSWORD}, format="json")
        assert own.status_code == 403
        assert error(own) == {"code": "own_password",
                              "message": "change your own password at /users/current/password, with your current password"}
    assert User.objects.get(username="root").password == before
    assert signed_in("root").post("/api/v1/users/victim/password", {"password": NEW_PASSWORD},
                                  format="json").status_code == 204


def test_changing_ones_password_needs_the_current_one(world):
    client = signed_in("owner")

    wrong = client.post("/api/v1/users/current/password",
                        {"old_password": "not-it", "new_password": NEW_PASSWORD}, format="json")

    assert wrong.status_code == 400
    assert error(wrong)["code"] == "wrong_password"
    right = client.post("/api/v1/users/current/password",
                        {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json")
    assert right.status_code == 204


def test_password_change_attempts_are_throttled_with_sign_in(settings, world):
    client = signed_in("owner")
    change = "/api/v1/users/current/password"
    for _ in range(settings.LOGIN_MAX_FAILURES):
        wrong = client.post(change, {"old_password": "guess", "new_password": NEW_PASSWORD}, format="json",
                            REMOTE_ADDR="198.51.100.9")
        assert wrong.status_code == 400

    refused = client.post(change, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json",
                          REMOTE_ADDR="198.51.100.9")

    assert refused.status_code == 429
    assert error(refused) == {"code": "too_many_attempts",
                              "message": "too many failed password attempts; wait a few minutes and try again"}
    assert User.objects.get(username="owner").check_password(PASSWORD)
    # The guesses count against signing in from there too, and the owner elsewhere is not held up.
    login = APIClient().post("/api/v1/auth/login", {"username": "owner", "password": PASSWORD}, format="json",
                             REMOTE_ADDR="198.51.100.9")
    assert login.status_code == 429
    assert client.post(change, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json",
                       REMOTE_ADDR="203.0.113.4").status_code == 204


# API reads and writes


def test_a_registry_token_reads_nothing_through_the_api(world, make_token):
    token = make_token(world["project_admin"], scopes=("registry:write",))

    for path in ("/api/v1/users/current", "/api/v1/projects", "/api/v1/projects/app", "/api/v1/search?q=app",
                 "/api/v1/projects/app/repositories"):
        response = bearer(token).get(path)
        assert response.status_code == 403, path
        assert error(response) == {"code": "insufficient_scope",
                                   "message": "this personal access token lacks the api:read scope, needed to "
                                              "read through the API"}


def test_a_read_token_writes_nothing_through_the_api(world, make_token):
    token = make_token(world["project_admin"], scopes=("api:read",))

    assert bearer(token).get("/api/v1/projects/app").status_code == 200
    for method, path, body in [("patch", "/api/v1/users/current", {"display_name": "x"}),
                               ("patch", "/api/v1/projects/app", {"description": "x"}),
                               ("delete", "/api/v1/projects/app/robots/tool", None)]:
        response = getattr(bearer(token), method)(path, body, format="json")
        assert response.status_code == 403, path
        assert error(response)["message"] == (
            "this personal access token lacks the api:write scope, needed to write through the API")
    assert Robot.objects.filter(name="tool").exists()


# Choosing and showing scopes


def test_a_new_token_has_the_scopes_chosen_and_registry_write_by_default(world):
    client = signed_in("owner")

    plain = client.post(TOKENS, {"name": "docker"}, format="json")
    chosen = client.post(TOKENS, {"name": "ci", "scopes": ["api:write", "registry:read", "api:write"]}, format="json")

    assert plain.status_code == 201 and plain.json()["scopes"] == ["registry:write"]
    assert chosen.status_code == 201 and chosen.json()["scopes"] == ["api:write", "registry:read"]
    listed = {t["name"]: t["scopes"] for t in client.get(TOKENS).json()["results"]}
    assert listed == {"docker": ["registry:write"], "ci": ["api:write", "registry:read"]}
    entry = AuditEntry.objects.get(action="create", resource_type="token", resource="owner/ci")
    assert entry.detail["scopes"] == ["api:write", "registry:read"]


@pytest.mark.parametrize(("scopes", "message"), [
    ([], "scopes: Ensure this field has at least 1 elements."),
    (["admin"], 'scopes: 0: "admin" is not a valid choice.'),
])
def test_bad_scopes_are_refused(world, scopes, message):
    response = signed_in("owner").post(TOKENS, {"name": "x", "scopes": scopes}, format="json")

    assert response.status_code == 400
    assert error(response)["message"] == message
    assert not PersonalToken.objects.exists()


# Point 15: a robot follows its permission list


def test_a_pull_only_robot_cannot_read_the_projects_details(make_project, make_robot, client_for):
    app = make_project("app")
    make_project("other")
    puller, pull_secret = make_robot("puller", project=app, permissions=[("repository", "pull")])
    reader, read_secret = make_robot("reader", project=app, permissions=[("project", "read")])

    refused = client_for(puller.full_name, pull_secret).get("/api/v1/projects/app")

    assert refused.status_code == 403
    assert error(refused) == {"code": "forbidden", "message": "robot$app+puller may not read project in project app"}
    assert client_for(puller.full_name, pull_secret).get("/api/v1/projects").json()["count"] == 0
    assert client_for(reader.full_name, read_secret).get("/api/v1/projects/app").status_code == 200
    listed = client_for(reader.full_name, read_secret).get("/api/v1/projects").json()
    assert [project["name"] for project in listed["results"]] == ["app"]


def test_a_system_robot_reads_only_the_projects_its_list_names_for_reading(make_project, make_robot, client_for):
    make_project("app")
    make_project("other")
    robot, secret = make_robot("sys", permissions=[("*", "repository", "pull"), ("app", "project", "read")])
    client = client_for(robot.full_name, secret)

    assert client.get("/api/v1/projects/app").status_code == 200
    assert client.get("/api/v1/projects/other").status_code == 403
    assert [project["name"] for project in client.get("/api/v1/projects").json()["results"]] == ["app"]


# The registry: /service/token and Basic on /v2/ grant what the token's registry scopes allow


@pytest.mark.parametrize(("scopes", "granted"), [
    (("registry:write",), ["pull", "push"]),
    (("registry:read",), ["pull"]),
    (("api:read", "api:write", "api:credentials"), []),
])
def test_the_token_service_grants_by_registry_scope(berth, make_user, make_project, make_token, scopes, granted):
    dev = make_user("dev")
    make_project("app", members={dev: "developer"})
    token = make_token(dev, scopes=scopes)

    issued = berth.token(("dev", token), "repository:app/web:pull,push")

    access = berth.claims(issued)["access"]
    assert access == ([{"type": "repository", "name": "app/web", "actions": granted}] if granted else [])
    # The password still gets all the role allows: scopes bind tokens only.
    assert berth.claims(berth.token(("dev", PASSWORD), "repository:app/web:pull,push"))["access"] == [
        {"type": "repository", "name": "app/web", "actions": ["pull", "push"]}]


def test_basic_on_v2_with_a_read_token_cannot_push(berth, make_user, make_project, make_token):
    from tests.fixtures.registry import basic

    dev = make_user("dev")
    make_project("app", members={dev: "developer"})
    token = make_token(dev, scopes=("registry:read", "api:write"))

    response = berth.http.post(f"{berth.url}/v2/app/web/blobs/uploads/", headers={"Authorization": basic("dev", token)})

    # 403 DENIED today; issue 14 turns a push with a pull-only grant into a 401 scope challenge.
    assert response.status_code in (401, 403), response.text
    assert response.json()["errors"][0]["code"] in ("UNAUTHORIZED", "DENIED")
    assert "may not push repository app/web" in response.json()["errors"][0]["message"]
    assert berth.http.get(f"{berth.url}/v2/app/web/tags/list",
                          headers={"Authorization": basic("dev", token)}).status_code == 404


# The migration


def test_tokens_made_before_scopes_keep_registry_write_and_the_api_without_credentials(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("accounts", "0001_initial")], [("accounts", "0002_token_scopes")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldUser, OldToken = old_apps.get_model("accounts", "User"), old_apps.get_model("accounts", "PersonalToken")
    user = OldUser.objects.create(username="early")
    OldToken.objects.create(user=user, name="old", prefix="berth_pat_x", secret_hash="x")
    try:
        MigrationExecutor(connection).migrate(after)
    finally:
        # Whatever happened above, the schema is left at its latest for the tests after this one.
        latest = MigrationExecutor(connection)
        latest.migrate(latest.loader.graph.leaf_nodes())

    assert PersonalToken.objects.get(name="old").scopes == ["registry:write", "api:read", "api:write"]
    assert PersonalToken(user_id=user.pk, name="new").scopes == ["registry:write"]
