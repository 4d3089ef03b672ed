"""Users API: administration, self-service, user search and the current user's permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import identify_hasher

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from tests.fixtures.portal import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

NEW_PASSWORD = "Quiet-Lantern-Orbit-42"


def audited(action: str, resource: str, **fields: str) -> bool:
    return AuditEntry.objects.filter(action=action, resource=resource, **fields).exists()


# Administration


def test_admin_creates_user_with_hashed_password(admin_user, client_for):
    response = client_for(admin_user).post(
        "/api/v1/users",
        {"username": "carol", "password": NEW_PASSWORD, "email": "carol@example.org"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["username"] == "carol"
        and body["email"] == "carol@example.org"
        and body["is_admin"] is False
    )
    assert "password" not in body
    carol = User.objects.get(username="carol")
    assert carol.password != NEW_PASSWORD and carol.check_password(NEW_PASSWORD)
    assert audited("create", "carol", actor="root-admin", outcome="success")


def test_passwords_are_hashed_with_scrypt_by_default(settings, make_user):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.ScryptPasswordHasher"]
    user = make_user("slowhash")
    assert identify_hasher(user.password).algorithm == "scrypt"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("12345678901", "This password is too common."),
        ("password", "This password is too common."),
    ],
)
def test_weak_password_is_refused(admin_user, client_for, password, message):
    response = client_for(admin_user).post(
        "/api/v1/users", {"username": "dave", "password": password}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "weak_password"
    assert message in error["message"]
    assert not User.objects.filter(username="dave").exists()


@pytest.mark.parametrize(
    "username", ["", "-lead", "has space", "robot$x", "current", "search", "x" * 151, "ü"]
)
def test_bad_usernames_are_refused(admin_user, client_for, username):
    response = client_for(admin_user).post(
        "/api/v1/users", {"username": username, "password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 400, response.content
    assert User.objects.count() == 1


def test_duplicate_username_and_email_conflict(admin_user, make_user, client_for):
    make_user("erin", email="erin@example.org")
    client = client_for(admin_user)
    taken_name = client.post(
        "/api/v1/users", {"username": "erin", "password": NEW_PASSWORD}, format="json"
    )
    assert taken_name.status_code == 409 and taken_name.json()["errors"][0]["code"] == "user_exists"
    taken_mail = client.post(
        "/api/v1/users",
        {"username": "erin2", "password": NEW_PASSWORD, "email": "ERIN@example.org"},
        format="json",
    )
    assert taken_mail.status_code == 409
    assert (
        taken_mail.json()["errors"][0]["message"]
        == "the e-mail address 'ERIN@example.org' is already in use"
    )


def test_admin_lists_filters_and_sorts_users(admin_user, make_user, client_for):
    make_user("zed", email="zed@example.org")
    make_user("amy", email="amy@corp.example", is_active=False)
    make_user("bob", admin=True, email="bob@corp.example")
    client = client_for(admin_user)
    everyone = client.get("/api/v1/users").json()
    assert everyone["count"] == 4
    assert [u["username"] for u in everyone["results"]] == ["amy", "bob", "root-admin", "zed"]
    corp = client.get("/api/v1/users?email=corp.example&sort=-username").json()
    assert [u["username"] for u in corp["results"]] == ["bob", "amy"]
    assert [u["username"] for u in client.get("/api/v1/users?is_admin=true").json()["results"]] == [
        "bob",
        "root-admin",
    ]
    assert [
        u["username"] for u in client.get("/api/v1/users?is_active=false").json()["results"]
    ] == ["amy"]
    assert client.get("/api/v1/users?username=ze").json()["count"] == 1


def test_admin_disables_and_enables_user(admin_user, make_user, client_for):
    frank = make_user("frank")
    admin = client_for(admin_user)
    response = admin.patch(
        "/api/v1/users/frank", {"is_active": False, "display_name": "Frank F."}, format="json"
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert client_for(frank).get("/api/v1/users/current").status_code == 401
    assert admin.patch("/api/v1/users/frank", {"is_active": True}, format="json").status_code == 200
    assert client_for(frank).get("/api/v1/users/current").status_code == 200
    assert AuditEntry.objects.filter(action="update", resource="frank").count() == 2


def test_admin_cannot_delete_self_or_the_last_admin(admin_user, make_user, client_for):
    admin = client_for(admin_user)
    response = admin.delete("/api/v1/users/root-admin")
    assert response.status_code == 409
    assert response.json()["errors"][0]["message"] == "you cannot delete your own account"
    demote = admin.patch("/api/v1/users/root-admin", {"is_admin": False}, format="json")
    assert demote.status_code == 409
    assert (
        demote.json()["errors"][0]["message"] == "Berth must keep at least one active administrator"
    )
    assert User.objects.get(username="root-admin").is_admin


def test_another_admin_may_be_deleted_and_deletion_is_audited(admin_user, make_user, client_for):
    make_user("second", admin=True)
    response = client_for(admin_user).delete("/api/v1/users/second")
    assert response.status_code == 204
    assert not User.objects.filter(username="second").exists()
    assert audited("delete", "second", actor="root-admin")


def test_admin_cannot_disable_own_account(make_user, client_for):
    only = make_user("only", admin=True)
    make_user("sleeping", admin=True, is_active=False)
    response = client_for(only).patch("/api/v1/users/only", {"is_active": False}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0]["message"] == "you cannot disable your own account"
    only.refresh_from_db()
    assert only.is_active


def test_a_disabled_admin_does_not_count_as_the_remaining_one(make_user, client_for):
    only = make_user("only", admin=True)
    make_user("sleeping", admin=True, is_active=False)
    response = client_for(only).patch("/api/v1/users/only", {"is_admin": False}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "last_admin"


def test_promoted_user_becomes_an_admin(admin_user, make_user, client_for):
    rita = make_user("rita")
    assert client_for(rita).get("/api/v1/users").status_code == 403
    response = client_for(admin_user).patch("/api/v1/users/rita", {"is_admin": True}, format="json")
    assert response.status_code == 200 and response.json()["is_admin"] is True
    assert client_for(rita).get("/api/v1/users").status_code == 200


def test_deleting_a_user_removes_memberships_and_tokens(admin_user, make_user, make_project, make_token,
                                                         client_for):
    from portal.accounts.models import PersonalToken
    from portal.projects.models import Member

    sam = make_user("sam")
    make_project("app", members={sam: "developer", admin_user: "project_admin"})
    make_token(sam)
    assert client_for(admin_user).delete("/api/v1/users/sam").status_code == 204
    assert not Member.objects.filter(user__username="sam").exists()
    assert not PersonalToken.objects.exists()


def test_admin_resets_password(admin_user, make_user, client_for):
    grace = make_user("grace")
    response = client_for(admin_user).post(
        "/api/v1/users/grace/password", {"password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204
    grace.refresh_from_db()
    assert grace.check_password(NEW_PASSWORD) and grace.password_changed_at is not None
    assert client_for(grace, NEW_PASSWORD).get("/api/v1/users/current").status_code == 200
    assert audited("reset_password", "grace", actor="root-admin")


def test_unknown_user_is_404_for_admins(admin_user, client_for):
    response = client_for(admin_user).get("/api/v1/users/nobody")
    assert response.status_code == 404
    assert response.json()["errors"][0] == {
        "code": "user_not_found",
        "message": "user 'nobody' not found",
    }


# Non-admins


def test_non_admin_cannot_list_or_read_users(make_user, client_for):
    alice = make_user("alice")
    make_user("bob", email="bob@example.org")
    client = client_for(alice)
    for response in (client.get("/api/v1/users"), client.get("/api/v1/users/bob")):
        assert response.status_code == 403
        assert response.json()["errors"][0]["message"] == "alice may not read user"


def test_search_returns_usernames_only(make_user, client_for):
    alice = make_user("alice")
    make_user("bob", email="bob@example.org")
    make_user("bobby", email="bobby@example.org")
    make_user("bo-gone", is_active=False)
    make_user("carl")
    response = client_for(alice).get("/api/v1/users/search?q=bo")
    assert response.status_code == 200
    assert response.json()["results"] == [{"username": "bob"}, {"username": "bobby"}]


def test_search_needs_a_query(make_user, client_for):
    response = client_for(make_user()).get("/api/v1/users/search")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "q: This field is required."


def test_search_refused_to_anonymous_and_robots(anonymous, make_robot, client_for):
    robot, secret = make_robot()
    assert anonymous.get("/api/v1/users/search?q=a").status_code == 401
    assert client_for(robot.full_name, secret).get("/api/v1/users/search?q=a").status_code == 403


# Current user


def test_current_user_reads_and_updates_own_profile(make_user, client_for):
    henry = make_user("henry", email="h@example.org")
    client = client_for(henry)
    assert client.get("/api/v1/users/current").json()["email"] == "h@example.org"
    response = client.patch(
        "/api/v1/users/current",
        {"display_name": "Henry", "email": "henry@example.org"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["display_name"] == "Henry"
    henry.refresh_from_db()
    assert henry.email == "henry@example.org"
    assert audited("update", "henry", actor="henry")


def test_current_user_cannot_make_self_admin(make_user, client_for):
    ivy = make_user("ivy")
    response = client_for(ivy).patch("/api/v1/users/current", {"is_admin": True}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["fields"] == {"is_admin": ["unknown field"]}
    ivy.refresh_from_db()
    assert not ivy.is_admin


def test_change_own_password(make_user, make_token, client_for):
    jack = make_user("jack")
    token = make_token(jack)
    response = client_for(jack).post(
        "/api/v1/users/current/password",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 204, response.content
    assert client_for(jack).get("/api/v1/users/current").status_code == 401
    assert client_for(jack, NEW_PASSWORD).get("/api/v1/users/current").status_code == 200
    # Tokens are separate credentials: they keep working, and the audit row says so.
    assert client_for(jack, token).get("/api/v1/users/current").status_code == 200
    entry = AuditEntry.objects.get(action="change_password", resource="jack", outcome="success")
    assert entry.detail["tokens_kept"] == 1


def test_change_own_password_needs_the_old_one_and_a_strong_new_one(make_user, client_for):
    kim = make_user("kim")
    client = client_for(kim)
    wrong = client.post(
        "/api/v1/users/current/password",
        {"old_password": "nope", "new_password": NEW_PASSWORD},
        format="json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0] == {
        "code": "wrong_password",
        "message": "the current password is wrong",
        "fields": {"old_password": ["wrong password"]},
    }
    weak = client.post(
        "/api/v1/users/current/password",
        {"old_password": PASSWORD, "new_password": "kim"},
        format="json",
    )
    assert weak.status_code == 400 and weak.json()["errors"][0]["code"] == "weak_password"
    kim.refresh_from_db()
    assert kim.check_password(PASSWORD)
    assert audited("change_password", "kim", outcome="failure")


def test_session_password_change_keeps_this_session(make_user):
    from rest_framework.test import APIClient

    leo = make_user("leo")
    browser = APIClient(enforce_csrf_checks=True)
    login = browser.post(
        "/api/v1/auth/login", {"username": "leo", "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200
    csrf = browser.cookies["berth_csrftoken"].value
    changed = browser.post(
        "/api/v1/users/current/password",
        {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert changed.status_code == 204
    assert browser.get("/api/v1/users/current").json()["username"] == "leo"
    leo.refresh_from_db()
    assert leo.check_password(NEW_PASSWORD)


def test_robot_has_no_current_user(make_robot, client_for):
    robot, secret = make_robot("ci")
    response = client_for("robot$ci", secret).get("/api/v1/users/current")
    assert response.status_code == 403
    assert response.json()["errors"][0] == {
        "code": "not_a_user",
        "message": "robot$ci is not a user account",
    }


# Permissions for the UI


def test_current_permissions_per_project(make_user, make_project, client_for):
    mia = make_user("mia")
    make_project("dev", members={mia: "developer"})
    make_project("ops", members={mia: "limited_guest"})
    make_project("elsewhere")
    make_project("open", public=True)
    body = client_for(mia).get("/api/v1/users/current/permissions").json()
    assert body["system"]["is_admin"] is False
    assert body["system"]["can_create_project"] is True
    assert body["system"]["can_manage_users"] is False
    assert set(body["projects"]) == {"dev", "ops"}
    assert body["projects"]["dev"]["role"] == "developer"
    assert "repository:push" in body["projects"]["dev"]["permissions"]
    assert "member:create" not in body["projects"]["dev"]["permissions"]
    assert body["projects"]["ops"]["permissions"] == [
        "artifact:list",
        "artifact:read",
        "project:read",
        "repository:list",
        "repository:pull",
        "repository:read",
        "tag:list",
    ]


def test_current_permissions_for_one_public_project(make_user, make_project, client_for):
    make_project("open", public=True)
    make_project("hidden")
    client = client_for(make_user())
    body = client.get("/api/v1/users/current/permissions?project=open").json()
    assert body["projects"] == {
        "open": {
            "role": None,
            "permissions": [
                "artifact:list",
                "artifact:read",
                "project:read",
                "repository:list",
                "repository:pull",
                "repository:read",
                "tag:list",
            ],
        }
    }
    assert client.get("/api/v1/users/current/permissions?project=hidden").status_code == 404


def test_admin_capabilities(admin_user, make_project, client_for):
    make_project("any")
    body = client_for(admin_user).get("/api/v1/users/current/permissions?project=any").json()
    assert all(body["system"].values())
    assert "member:create" in body["projects"]["any"]["permissions"]


def test_project_creation_restricted_to_admins_shows_in_capabilities(make_user, client_for):
    from portal.system.models import SystemSettings

    SystemSettings.objects.update_or_create(pk=1, defaults={"project_creation_admin_only": True})
    body = client_for(make_user()).get("/api/v1/users/current/permissions").json()
    assert body["system"]["can_create_project"] is False


def test_robot_permissions_list_its_grants(make_project, make_robot, client_for):
    make_project("app")
    robot, secret = make_robot(
        "puller", permissions=[("app", "repository", "pull"), ("*", "repository", "list")]
    )
    body = client_for(robot.full_name, secret).get("/api/v1/users/current/permissions").json()
    assert body["projects"] == {
        "*": {"role": None, "permissions": ["repository:list"]},
        "app": {"role": None, "permissions": ["repository:list", "repository:pull"]},
    }
    assert not any(body["system"].values())


def test_current_permissions_use_one_membership_query(
    make_user, make_project, client_for, django_assert_max_num_queries
):
    nora = make_user("nora")
    for index in range(50):
        make_project(f"p{index}", members={nora: "guest" if index % 2 else "maintainer"})
    for index in range(200):
        make_project(f"other{index}")
    client = client_for(nora)
    client.get("/api/v1/users/current/permissions")  # creates the system settings row once
    # Authentication (two failure counts, the user) + system settings + one membership query.
    with django_assert_max_num_queries(5):
        body = client.get("/api/v1/users/current/permissions").json()
    assert len(body["projects"]) == 50


# Sessions


def test_session_writes_need_the_csrf_token(make_user):
    from rest_framework.test import APIClient

    make_user("olga")
    browser = APIClient(enforce_csrf_checks=True)
    assert browser.post("/api/v1/auth/login", {"username": "olga", "password": PASSWORD}, format="json").status_code == 200
    response = browser.patch("/api/v1/users/current", {"display_name": "Forged"}, format="json")
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"].startswith("CSRF Failed")
    assert User.objects.get(username="olga").display_name == ""


def test_robots_and_tokens_cannot_open_sessions(make_robot, make_user, make_token):
    from rest_framework.test import APIClient

    robot, secret = make_robot("ci")
    token = make_token(make_user("pat"))
    for username, password in (("robot$ci", secret), ("pat", token)):
        response = APIClient().post("/api/v1/auth/login", {"username": username, "password": password}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == (
            "sign in with a user's password; robot secrets and tokens are for the API"
        )


def test_disabled_user_cannot_sign_in(make_user):
    from rest_framework.test import APIClient

    make_user("quinn", is_active=False)
    response = APIClient().post("/api/v1/auth/login", {"username": "quinn", "password": PASSWORD}, format="json")
    assert response.status_code == 401


# First administrator


def test_ensure_admin_creates_the_first_admin_once(db, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.ADMIN_PASSWORD = NEW_PASSWORD
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    call_command("ensure_admin", stdout=out)
    admin = User.objects.get(username="admin")
    assert admin.is_admin and admin.check_password(NEW_PASSWORD)
    assert User.objects.count() == 1
    assert out.getvalue().count("Created the administrator") == 1


def test_a_user_without_an_email_address_shows_null_which_the_schema_allows(make_user, client_for):
    from drf_spectacular.generators import SchemaGenerator

    nora = make_user("nora", email="")

    body = client_for(nora).get("/api/v1/users/current").json()

    assert body["email"] is None
    declared = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]["User"]
    assert declared["properties"]["email"] == {"type": "string", "format": "email", "readOnly": True, "nullable": True}
