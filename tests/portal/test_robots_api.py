"""Robot accounts: system and project level, permission lists, secrets, expiry and enable/disable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.robots.models import Robot, RobotPermission
from portal.utilities.secrets import hash_secret

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

PULL = {"resource": "repository", "action": "pull"}
PUSH = {"resource": "repository", "action": "push"}
STRONG = "Chosen-Secret-With-Digits-123"


def test_project_admin_creates_project_robot(make_user, make_project, client_for):
    owner = make_user("owner")
    make_project("app", members={owner: "project_admin"})
    response = client_for(owner).post(
        "/api/v1/projects/app/robots",
        {"name": "ci", "permissions": [PULL, PUSH], "expires_in_days": 7},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["full_name"] == "robot$app+ci"
        and body["level"] == "project"
        and body["project"] == "app"
    )
    assert body["created_by"] == "owner"
    assert body["permissions"] == [{"project": "app", **PULL}, {"project": "app", **PUSH}]
    robot = Robot.objects.get(name="ci")
    assert (
        robot.secret_hash == hash_secret(body["secret"]) and body["secret"] not in robot.secret_hash
    )
    assert timedelta(days=6, hours=23) < robot.expires_at - timezone.now() <= timedelta(days=7)
    entry = AuditEntry.objects.get(action="create", resource_type="robot")
    assert (entry.resource, entry.actor, entry.project_name) == ("robot$app+ci", "owner", "app")
    assert body["secret"] not in str(entry.detail)


def test_robot_secret_is_never_shown_again(make_user, make_project, make_robot, client_for):
    owner = make_user()
    project = make_project("app", members={owner: "project_admin"})
    created = (
        client_for(owner)
        .post("/api/v1/projects/app/robots", {"name": "ci", "permissions": [PULL]}, format="json")
        .json()
    )
    client = client_for(owner)
    for response in (
        client.get("/api/v1/projects/app/robots"),
        client.get("/api/v1/projects/app/robots/ci"),
        client.patch("/api/v1/projects/app/robots/ci", {"description": "x"}, format="json"),
    ):
        assert response.status_code == 200
        assert created["secret"] not in response.content.decode()
        assert '"secret"' not in response.content.decode()
    assert project.robots.count() == 1


def test_robot_authenticates_and_is_limited_to_its_list(
    make_user, make_project, make_robot, client_for
):
    app = make_project("app")
    make_project("other")
    robot, secret = make_robot("ci", project=app, permissions=[("project", "read")])
    client = client_for("robot$app+ci", secret)
    assert client.get("/api/v1/projects/app").status_code == 200
    assert client.get("/api/v1/projects/other").status_code == 404
    assert [p["name"] for p in client.get("/api/v1/projects").json()["results"]] == ["app"]
    assert client.get("/api/v1/projects/app/members").status_code == 403
    assert client_for("robot$app+ci", "wrong").get("/api/v1/projects/app").status_code == 401


def test_system_robot_spans_chosen_or_all_projects(admin_user, make_project, client_for):
    make_project("one")
    make_project("two")
    make_project("three")
    admin = client_for(admin_user)
    chosen = admin.post(
        "/api/v1/robots",
        {
            "name": "sync",
            "permissions": [
                {"project": "one", "resource": "project", "action": "read"},
                {"project": "two", "resource": "project", "action": "read"},
            ],
        },
        format="json",
    )
    assert chosen.status_code == 201, chosen.content
    assert chosen.json()["full_name"] == "robot$sync" and chosen.json()["level"] == "system"
    names = [
        p["name"]
        for p in client_for("robot$sync", chosen.json()["secret"])
        .get("/api/v1/projects")
        .json()["results"]
    ]
    assert names == ["one", "two"]
    everywhere = admin.post(
        "/api/v1/robots",
        {"name": "all", "permissions": [{"project": "*", "resource": "project", "action": "read"}]},
        format="json",
    ).json()
    names = [
        p["name"]
        for p in client_for("robot$all", everywhere["secret"])
        .get("/api/v1/projects")
        .json()["results"]
    ]
    assert names == ["one", "three", "two"]


@pytest.mark.parametrize(
    ("permission", "message"),
    [
        (
            {"project": "*", "resource": "member", "action": "create"},
            "robots may not be granted member:create; ",
        ),
        (
            {"project": "*", "resource": "robot", "action": "create"},
            "robots may not be granted robot:create; ",
        ),
        (
            {"project": "nope", "resource": "repository", "action": "pull"},
            "no project named 'nope'",
        ),
        (
            {"resource": "repository", "action": "pull"},
            "each permission of a system robot names a project",
        ),
    ],
)
def test_system_robot_permissions_are_checked(admin_user, client_for, permission, message):
    response = client_for(admin_user).post(
        "/api/v1/robots", {"name": "bad", "permissions": [permission]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith(message)
    assert not Robot.objects.exists()


def test_project_robot_cannot_reach_other_projects(make_user, make_project, client_for):
    owner = make_user()
    make_project("app", members={owner: "project_admin"})
    make_project("other", members={owner: "project_admin"})
    response = client_for(owner).post(
        "/api/v1/projects/app/robots",
        {"name": "ci", "permissions": [{"project": "other", **PULL}]},
        format="json",
    )
    assert response.status_code == 400
    assert (
        response.json()["errors"][0]["message"]
        == "a robot of project app can only be granted permissions in it"
    )
    assert not Robot.objects.exists()


@pytest.mark.parametrize("name", ["CI", "-x", "a+b", "robot$x", "", "x" * 256, "a..b"])
def test_bad_robot_names(make_user, make_project, client_for, name):
    owner = make_user()
    make_project("app", members={owner: "project_admin"})
    response = client_for(owner).post(
        "/api/v1/projects/app/robots", {"name": name, "permissions": [PULL]}, format="json"
    )
    assert response.status_code == 400
    assert not Robot.objects.exists()


def test_robot_needs_a_permission_and_a_unique_name(make_user, make_project, client_for):
    owner = make_user()
    make_project("app", members={owner: "project_admin"})
    client = client_for(owner)
    empty = client.post(
        "/api/v1/projects/app/robots", {"name": "ci", "permissions": []}, format="json"
    )
    assert (
        empty.status_code == 400
        and empty.json()["errors"][0]["message"] == "a robot needs at least one permission"
    )
    assert (
        client.post(
            "/api/v1/projects/app/robots", {"name": "ci", "permissions": [PULL]}, format="json"
        ).status_code
        == 201
    )
    again = client.post(
        "/api/v1/projects/app/robots", {"name": "ci", "permissions": [PULL]}, format="json"
    )
    assert again.status_code == 409
    assert (
        again.json()["errors"][0]["message"] == "a robot named 'ci' already exists in project app"
    )


def test_same_robot_name_in_two_projects_and_at_system_level(admin_user, make_project, client_for):
    make_project("a")
    make_project("b")
    admin = client_for(admin_user)
    for url in ("/api/v1/projects/a/robots", "/api/v1/projects/b/robots"):
        assert (
            admin.post(url, {"name": "ci", "permissions": [PULL]}, format="json").status_code == 201
        )
    system = admin.post(
        "/api/v1/robots", {"name": "ci", "permissions": [{"project": "a", **PULL}]}, format="json"
    )
    assert system.status_code == 201
    assert (
        admin.post(
            "/api/v1/robots",
            {"name": "ci", "permissions": [{"project": "a", **PULL}]},
            format="json",
        ).status_code
        == 409
    )


def test_refresh_secret_replaces_the_old_one(make_user, make_project, make_robot, client_for):
    owner = make_user()
    app = make_project("app", members={owner: "project_admin"})
    robot, old = make_robot("ci", project=app, permissions=[("project", "read")])
    response = client_for(owner).post(
        f"/api/v1/projects/app/robots/{robot.pk}/secret", {}, format="json"
    )
    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old
    assert client_for("robot$app+ci", old).get("/api/v1/projects/app").status_code == 401
    assert client_for("robot$app+ci", new).get("/api/v1/projects/app").status_code == 200
    robot.refresh_from_db()
    assert robot.secret_hash == hash_secret(new) and robot.secret_refreshed_at is not None
    assert AuditEntry.objects.filter(action="refresh_secret", resource="robot$app+ci").exists()


def test_refresh_secret_accepts_a_strong_chosen_secret_only(admin_user, make_robot, client_for):
    robot, old = make_robot("sys")
    admin = client_for(admin_user)
    weak = admin.post("/api/v1/robots/robot$sys/secret", {"secret": "short"}, format="json")
    assert weak.status_code == 400 and weak.json()["errors"][0]["code"] == "weak_secret"
    robot.refresh_from_db()
    assert robot.secret_hash == hash_secret(old)
    chosen = admin.post("/api/v1/robots/sys/secret", {"secret": STRONG}, format="json")
    assert chosen.status_code == 200 and chosen.json() == {"secret": STRONG}
    robot.refresh_from_db()
    assert_slow_hash_of(STRONG, robot.secret_hash)


def assert_slow_hash_of(secret: str, stored: str) -> None:
    """Stored as passwords are: with the first configured (salted, slow) hasher, never the fast SHA-256."""
    from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher

    assert identify_hasher(stored).algorithm == get_hasher().algorithm
    assert check_password(secret, stored) and secret not in stored and stored != hash_secret(secret)


def test_chosen_secrets_are_salted_and_slow_and_generated_ones_stay_fast(make_user, make_project, client_for):
    owner = make_user()
    make_project("app", members={owner: "project_admin"})
    client = client_for(owner)
    for name in ("one", "two"):
        response = client.post("/api/v1/projects/app/robots",
                               {"name": name, "permissions": [PULL], "secret": STRONG}, format="json")
        assert response.status_code == 201, response.content
    generated = client.post("/api/v1/projects/app/robots", {"name": "gen", "permissions": [PULL]}, format="json")

    one, two, gen = (Robot.objects.get(name=name) for name in ("one", "two", "gen"))
    assert_slow_hash_of(STRONG, one.secret_hash)
    assert one.secret_hash != two.secret_hash  # salted: the same secret is stored differently
    assert gen.secret_hash == hash_secret(generated.json()["secret"])
    # A pull-only robot may not read the project's details, but its permissions, as any signed-in caller.
    mine = "/api/v1/users/current/permissions"
    assert client_for("robot$app+one", STRONG).get(mine).status_code == 200
    assert client_for("robot$app+one", STRONG + "x").get(mine).status_code == 401
    assert client_for("robot$app+gen", generated.json()["secret"]).get(mine).status_code == 200


def test_a_chosen_secret_stored_by_an_earlier_version_keeps_working_and_is_rehashed(
    make_project, make_robot, client_for
):
    app = make_project("app")
    robot, _ = make_robot("ci", project=app, permissions=[("project", "read")])
    Robot.objects.filter(pk=robot.pk).update(secret_hash=hash_secret(STRONG))  # one unsalted SHA-256, as before

    assert client_for("robot$app+ci", STRONG).get("/api/v1/projects/app").status_code == 200
    robot.refresh_from_db()
    assert_slow_hash_of(STRONG, robot.secret_hash)
    assert client_for("robot$app+ci", STRONG).get("/api/v1/projects/app").status_code == 200
    assert client_for("robot$app+ci", "Other-Secret-1234567").get("/api/v1/projects/app").status_code == 401


def test_a_chosen_secret_may_not_pass_for_a_generated_one(admin_user, make_robot, client_for):
    robot, old = make_robot("sys")
    response = client_for(admin_user).post("/api/v1/robots/sys/secret", {"secret": "berth_robot_" + STRONG},
                                           format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "weak_secret",
        "message": "a chosen robot secret may not start with 'berth_robot_', which marks generated ones",
        "fields": {"secret": ["starts with 'berth_robot_'"]},
    }
    robot.refresh_from_db()
    assert robot.secret_hash == hash_secret(old)


def test_disable_enable_and_expiry(make_user, make_project, make_robot, client_for):
    owner = make_user()
    app = make_project("app", members={owner: "project_admin"})
    robot, secret = make_robot("ci", project=app, permissions=[("project", "read")])
    admin = client_for(owner)
    bot = client_for("robot$app+ci", secret)
    assert admin.patch("/api/v1/projects/app/robots/ci", {"disabled": True}, format="json").json()[
        "disabled"
    ]
    assert bot.get("/api/v1/projects/app").status_code == 401
    assert (
        admin.patch(
            "/api/v1/projects/app/robots/ci", {"disabled": False}, format="json"
        ).status_code
        == 200
    )
    assert bot.get("/api/v1/projects/app").status_code == 200
    Robot.objects.filter(pk=robot.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bot.get("/api/v1/projects/app").status_code == 401
    assert admin.get("/api/v1/projects/app/robots/ci").json()["expired"] is True
    renewed = admin.patch(
        "/api/v1/projects/app/robots/ci", {"expires_in_days": None}, format="json"
    ).json()
    assert renewed["expires_at"] is None and renewed["expired"] is False
    assert bot.get("/api/v1/projects/app").status_code == 200


def test_update_replaces_the_permission_list(make_user, make_project, make_robot, client_for):
    owner = make_user()
    app = make_project("app", members={owner: "project_admin"})
    robot, _ = make_robot(
        "ci", project=app, permissions=[("repository", "pull"), ("repository", "push")]
    )
    response = client_for(owner).patch(
        "/api/v1/projects/app/robots/ci",
        {"permissions": [{"resource": "artifact", "action": "read"}]},
        format="json",
    )
    assert response.status_code == 200
    assert list(RobotPermission.objects.filter(robot=robot).values_list("resource", "action")) == [
        ("artifact", "read")
    ]
    entry = AuditEntry.objects.get(action="update", resource="robot$app+ci")
    assert entry.detail["permissions"] == [
        {"project": "app", "resource": "artifact", "action": "read"}
    ]


def test_delete_robot(make_user, make_project, make_robot, client_for):
    owner = make_user()
    app = make_project("app", members={owner: "project_admin"})
    robot, secret = make_robot("ci", project=app, permissions=[("project", "read")])
    assert client_for(owner).delete("/api/v1/projects/app/robots/robot$app+ci").status_code == 204
    assert not Robot.objects.exists()
    assert client_for("robot$app+ci", secret).get("/api/v1/projects/app").status_code == 401
    assert AuditEntry.objects.filter(
        action="delete", resource="robot$app+ci", project_name="app"
    ).exists()


def test_robot_lookup_errors(make_user, make_project, client_for):
    owner = make_user()
    make_project("app", members={owner: "project_admin"})
    response = client_for(owner).get("/api/v1/projects/app/robots/ghost")
    assert response.status_code == 404
    assert response.json()["errors"][0] == {
        "code": "robot_not_found",
        "message": "robot 'ghost' not found",
    }


def test_project_robot_is_not_reachable_through_system_paths(
    admin_user, make_project, make_robot, client_for
):
    app = make_project("app")
    robot, _ = make_robot("ci", project=app, permissions=[("project", "read")])
    assert client_for(admin_user).get(f"/api/v1/robots/{robot.pk}").status_code == 404
    assert client_for(admin_user).get("/api/v1/robots").json()["count"] == 0


def test_robot_list_filters_and_sorts(make_user, make_project, make_robot, client_for):
    owner = make_user()
    app = make_project("app", members={owner: "project_admin"})
    for name, disabled in (("beta", False), ("alpha", True), ("gamma", False)):
        make_robot(name, project=app, permissions=[("project", "read")], disabled=disabled)
    client = client_for(owner)
    assert [
        r["name"] for r in client.get("/api/v1/projects/app/robots?sort=-name").json()["results"]
    ] == ["gamma", "beta", "alpha"]
    assert [
        r["name"] for r in client.get("/api/v1/projects/app/robots?disabled=true").json()["results"]
    ] == ["alpha"]
    assert [
        r["name"] for r in client.get("/api/v1/projects/app/robots?name=amm").json()["results"]
    ] == ["gamma"]


def test_robot_cannot_manage_robots(make_project, make_robot, client_for):
    app = make_project("app")
    robot, secret = make_robot("ci", project=app, permissions=[("project", "read")])
    response = client_for("robot$app+ci", secret).post(
        "/api/v1/projects/app/robots", {"name": "spawn", "permissions": [PULL]}, format="json"
    )
    assert response.status_code == 403
    assert Robot.objects.count() == 1
