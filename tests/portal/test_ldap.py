"""LDAP sign-in against a real OpenLDAP: onboarding, groups (nested, in a loop) as project members, the admin
group, a user disabled, removed or taken out of a group, wrong passwords throttled, and the sources API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fixtures.portal import basic_header
from tests.support.openldap import ADMIN_PASSWORD, PASSWORD, group_dn, person_dn

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]


def sign_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/login", {"username": username, "password": password}, format="json")


def as_basic(client_for: Any, username: str, password: str = PASSWORD) -> Any:
    return client_for(username, password)


def test_a_directory_user_signs_in_and_is_onboarded_as_name_plus_source(make_ldap_source, anonymous):
    from portal.accounts.models import User

    source = make_ldap_source()

    response = sign_in(anonymous, "alice")

    assert response.status_code == 200, response.content
    user = User.objects.get(source=source, source_username="alice")
    assert user.username == "alice+corp"
    assert (user.display_name, user.email, user.has_usable_password()) == ("Alice Liddell", "alice@berth.test", False)
    current = anonymous.get("/api/v1/users/current").json()
    assert current["username"] == "alice+corp"


def test_the_qualified_name_signs_in_too_and_basic_auth_works_on_the_api(make_ldap_source, client_for):
    make_ldap_source()

    assert client_for("alice+corp", PASSWORD).get("/api/v1/users/current").json()["username"] == "alice+corp"
    assert client_for("alice", PASSWORD).get("/api/v1/users/current").json()["username"] == "alice+corp"


def test_a_wrong_password_is_refused_audited_and_throttled(make_ldap_source, client_for, settings):
    from portal.audit.models import AuditEntry

    make_ldap_source()
    settings.LOGIN_MAX_FAILURES = 3

    statuses = [client_for("alice", "not-the-password").get("/api/v1/users/current").status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]
    failures = AuditEntry.objects.filter(action="login", actor="alice", outcome="failure")
    assert [entry.detail["reason"] for entry in failures.order_by("id")] == ["invalid credentials"] * 3 + [
        "too many failed attempts"
    ]
    # Throttled: even the right password is refused from here until the window passes.
    assert client_for("alice", PASSWORD).get("/api/v1/users/current").status_code == 429


def test_an_empty_password_never_binds(make_ldap_source, anonymous):
    make_ldap_source()

    assert sign_in(anonymous, "alice", "").status_code == 400
    assert as_basic_status(anonymous, "alice", "") == 401


def as_basic_status(client: Any, username: str, password: str) -> int:
    client.credentials(HTTP_AUTHORIZATION=basic_header(username, password))
    return int(client.get("/api/v1/users/current").status_code)


def test_group_role_and_nested_group_role(make_ldap_source, make_project, client_for):
    from portal.projects.models import GroupMember

    source = make_ldap_source()
    project = make_project("secret-app")
    GroupMember.objects.create(project=project, source=source, group=group_dn("developers").lower(), role="developer")

    alice = client_for("alice", PASSWORD)  # in developers
    bob = client_for("bob", PASSWORD)  # in platform, which is in developers
    carol = client_for("carol", PASSWORD)  # in no group

    for client in (alice, bob):
        assert client.get("/api/v1/projects/secret-app").status_code == 200
        assert [p["name"] for p in client.get("/api/v1/projects").json()["results"]] == ["secret-app"]
        listed = client.get("/api/v1/projects").json()["results"][0]
        assert listed["current_user_role"] == "developer"
        permissions = client.get("/api/v1/users/current/permissions").json()["projects"]
        assert permissions["secret-app"]["role"] == "developer"
    assert carol.get("/api/v1/projects/secret-app").status_code == 404
    assert carol.get("/api/v1/projects").json()["count"] == 0


def test_a_users_own_role_and_its_groups_give_the_stronger(make_ldap_source, make_project, client_for):
    from portal.accounts.models import User
    from portal.projects.models import GroupMember, Member

    source = make_ldap_source()
    project = make_project("app")
    GroupMember.objects.create(project=project, source=source, group=group_dn("platform").lower(), role="maintainer")
    client = client_for("bob", PASSWORD)
    assert client.get("/api/v1/users/current").status_code == 200
    Member.objects.create(project=project, user=User.objects.get(username="bob+corp"), role="guest")

    listed = client.get("/api/v1/projects").json()["results"][0]
    assert listed["current_user_role"] == "maintainer"
    assert client.get("/api/v1/users/current/permissions").json()["projects"]["app"]["role"] == "maintainer"


def test_groups_in_a_loop_resolve(make_ldap_source, client_for):
    from portal.accounts.models import UserGroup

    make_ldap_source()

    assert client_for("dave", PASSWORD).get("/api/v1/users/current").status_code == 200
    assert set(UserGroup.objects.filter(user__username="dave+corp").values_list("group", flat=True)) == {
        group_dn("ops-a").lower(), group_dn("ops-b").lower()
    }


def test_the_admin_group_makes_system_admins(make_ldap_source, client_for):
    make_ldap_source(admin_group=group_dn("admins"))

    assert client_for("alice", PASSWORD).get("/api/v1/users/current").json()["is_admin"] is True
    assert client_for("bob", PASSWORD).get("/api/v1/users/current").json()["is_admin"] is False


def test_a_user_taken_out_of_a_group_loses_access_at_the_next_check(
    make_ldap_source, make_project, client_for, make_token, fresh_directory, settings
):
    from portal.accounts.models import User
    from portal.projects.models import GroupMember

    settings.LDAP_CACHE_SECONDS = 1
    source = make_ldap_source()
    project = make_project("app")
    GroupMember.objects.create(project=project, source=source, group=group_dn("developers").lower(), role="developer")
    password_client = client_for("bob", PASSWORD)
    assert password_client.get("/api/v1/projects/app").status_code == 200
    token_client = client_for()
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(User.objects.get(username='bob+corp'))}")
    assert token_client.get("/api/v1/projects/app").status_code == 200

    fresh_directory.modify(f"dn: {group_dn('platform')}\nchangetype: modify\ndelete: member\nmember: {person_dn('bob')}\n"
                           f"-\nadd: member\nmember: {person_dn('carol')}\n")
    # Within the cache period Berth does not ask the directory again.
    assert token_client.get("/api/v1/projects/app").status_code == 200
    time.sleep(1.1)

    assert token_client.get("/api/v1/projects/app").status_code == 404
    assert password_client.get("/api/v1/projects/app").status_code == 404
    assert password_client.get("/api/v1/users/current").status_code == 200


def test_a_user_disabled_in_the_directory_is_refused_with_its_password_and_its_tokens(
    make_ldap_source, client_for, make_token, fresh_directory, settings
):
    from portal.accounts.models import User
    from portal.audit.models import AuditEntry

    settings.LDAP_CACHE_SECONDS = 1
    # Disabled accounts are those the user filter no longer matches (Active Directory:
    # (!(userAccountControl:1.2.840.113556.1.4.803:=2))).
    make_ldap_source(user_search_filter="(&(objectClass=inetOrgPerson)(!(employeeType=disabled)))")
    assert client_for("carol", PASSWORD).get("/api/v1/users/current").status_code == 200
    token_client = client_for()
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(User.objects.get(username='carol+corp'))}")
    assert token_client.get("/api/v1/users/current").status_code == 200

    fresh_directory.modify(f"dn: {person_dn('carol')}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
    time.sleep(1.1)

    assert token_client.get("/api/v1/users/current").status_code == 401
    assert client_for("carol", PASSWORD).get("/api/v1/users/current").status_code == 401
    carol = User.objects.get(username="carol+corp")
    assert carol.source_active is False
    assert AuditEntry.objects.filter(action="disable", resource="carol+corp", actor="source:corp").exists()


def test_a_user_removed_from_the_directory_loses_its_session(make_ldap_source, anonymous, fresh_directory, settings):
    settings.LDAP_CACHE_SECONDS = 1
    make_ldap_source()
    assert sign_in(anonymous, "bob").status_code == 200
    assert anonymous.get("/api/v1/users/current").status_code == 200

    fresh_directory.modify(f"dn: {person_dn('bob')}\nchangetype: delete\n")
    time.sleep(1.1)

    response = anonymous.get("/api/v1/users/current")
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "your directory account is disabled, removed or cannot be checked"


def test_a_local_user_and_a_directory_user_of_the_same_name_stay_two_users(make_ldap_source, make_user, client_for):
    from portal.accounts.models import User

    make_ldap_source()
    local = make_user("alice")

    local_me = client_for("alice").get("/api/v1/users/current").json()  # the local password
    directory_me = client_for("alice", PASSWORD).get("/api/v1/users/current").json()  # the directory's

    assert (local_me["username"], local_me["id"]) == ("alice", local.pk)
    assert directory_me["username"] == "alice+corp"
    assert directory_me["id"] != local.pk
    assert User.objects.filter(username__in=["alice", "alice+corp"]).count() == 2
    # Neither password opens the other account.
    assert client_for("alice+corp", "Correct-Horse-Battery-9").get("/api/v1/users/current").status_code == 401


def test_a_disabled_source_signs_no_one_in(make_ldap_source, client_for):
    source = make_ldap_source()
    source.enabled = False
    source.save()

    assert client_for("alice", PASSWORD).get("/api/v1/users/current").status_code == 401


# The administration API


LDAP_SETTINGS = {"bind_dn": "cn=admin,dc=berth,dc=test", "user_search_base": "ou=people,dc=berth,dc=test",
                 "group_search_base": "ou=groups,dc=berth,dc=test"}


def test_admins_create_a_source_whose_password_is_encrypted_and_never_returned(admin_user, client_for, openldap):
    from portal.accounts.models import AuthSource
    from portal.audit.models import AuditEntry

    client = client_for(admin_user)
    response = client.post("/api/v1/system/auth-sources", {
        "kind": "ldap", "name": "corp", "settings": {"urls": [openldap.url], **LDAP_SETTINGS}, "secret": ADMIN_PASSWORD,
    }, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret_set"] is True
    assert ADMIN_PASSWORD not in response.content.decode()
    assert ADMIN_PASSWORD not in client.get("/api/v1/system/auth-sources").content.decode()
    stored = AuthSource.objects.get(name="corp")
    assert ADMIN_PASSWORD not in stored.encrypted_secret
    entry = AuditEntry.objects.get(action="create", resource_type="auth_source")
    assert entry.detail["secret_set"] is True and ADMIN_PASSWORD not in str(entry.detail)


def test_the_test_action_looks_a_user_up(admin_user, client_for, make_ldap_source):
    source = make_ldap_source(admin_group=group_dn("admins"))

    response = client_for(admin_user).post(f"/api/v1/system/auth-sources/{source.pk}/test", {"username": "bob"},
                                           format="json")

    assert response.status_code == 200
    assert response.json() == {
        "ok": True, "found": True, "error": "", "dn": person_dn("bob"), "display_name": "Bob Builder",
        "email": "bob@berth.test", "groups": sorted([group_dn("developers").lower(), group_dn("platform").lower()]),
        "is_admin": False,
    }


def test_the_test_action_reports_an_unreachable_directory(admin_user, client_for, make_ldap_source):
    source = make_ldap_source(urls=["ldap://127.0.0.1:1"], timeout_seconds=1)

    body = client_for(admin_user).post(f"/api/v1/system/auth-sources/{source.pk}/test", {"username": "bob"},
                                       format="json").json()

    assert (body["ok"], body["found"]) == (False, False)
    assert body["error"].startswith("cannot reach the directory")


@pytest.mark.parametrize(("settings_body", "message"), [
    ({"user_search_base": "ou=people"}, "an LDAP source needs urls"),
    ({"urls": ["http://x"], "user_search_base": "ou=people"},
     "urls must be a list of ldap://host[:port] or ldaps://host[:port]"),
    ({"urls": ["ldap://x"], "user_search_base": "ou=people", "membership_attribute": "owner"},
     "membership_attribute must be one of member, uniqueMember, memberOf"),
    ({"urls": ["ldap://x"], "user_search_base": "ou=people", "bind_password": "x"}, "unknown LDAP settings: bind_password"),
])
def test_bad_settings_are_refused(admin_user, client_for, settings_body, message):
    response = client_for(admin_user).post("/api/v1/system/auth-sources",
                                           {"kind": "ldap", "name": "corp", "settings": settings_body}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message


def test_non_admins_cannot_read_sources(make_user, client_for, make_ldap_source):
    make_ldap_source()

    response = client_for(make_user()).get("/api/v1/system/auth-sources")

    assert response.status_code == 403


def test_a_source_with_users_cannot_be_deleted(admin_user, client_for, make_ldap_source):
    source = make_ldap_source()
    assert client_for("alice", PASSWORD).get("/api/v1/users/current").status_code == 200

    response = client_for(admin_user).delete(f"/api/v1/system/auth-sources/{source.pk}")

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "source_in_use"


def test_project_admins_add_a_group_member(make_user, make_project, client_for, make_ldap_source):
    from portal.audit.models import AuditEntry

    make_ldap_source()
    owner = make_user()
    make_project("app", members={owner: "project_admin"})
    client = client_for(owner)

    response = client.post("/api/v1/projects/app/group-members",
                           {"source": "corp", "group": group_dn("Developers"), "role": "developer"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["group"] == group_dn("developers").lower()
    listed = client.get("/api/v1/projects/app/group-members").json()["results"]
    assert [(m["source"], m["group"], m["role"]) for m in listed] == [("corp", group_dn("developers").lower(), "developer")]
    assert AuditEntry.objects.filter(action="create", resource_type="group_member", project_name="app").exists()
    assert client_for("alice", PASSWORD).get("/api/v1/projects/app").status_code == 200
    assert client.delete(f"/api/v1/projects/app/group-members/{listed[0]['id']}").status_code == 204
    assert client_for("alice", PASSWORD).get("/api/v1/projects/app").status_code == 404


def test_a_remembered_directory_sign_in_spends_no_password_hash(make_ldap_source, client_for, monkeypatch):
    from portal.accounts.models import User

    make_ldap_source()
    assert client_for("bob", PASSWORD).get("/api/v1/users/current").status_code == 200
    hashes: list[str] = []
    original = User.set_password
    monkeypatch.setattr(User, "set_password", lambda self, raw: hashes.append(raw) or original(self, raw))

    assert client_for("bob", PASSWORD).get("/api/v1/users/current").status_code == 200
    assert hashes == []
    # A failure still costs a hash, as a missing local account always did.
    assert client_for("bob", "wrong").get("/api/v1/users/current").status_code == 401
    assert hashes == ["wrong"]


def test_a_directory_users_password_is_the_directorys(make_ldap_source, client_for, admin_user):
    make_ldap_source()
    bob = client_for("bob", PASSWORD)
    assert bob.get("/api/v1/users/current").status_code == 200

    own = bob.post("/api/v1/users/current/password", {"old_password": PASSWORD, "new_password": "Another-Pass-77"},
                   format="json")
    reset = client_for(admin_user).post("/api/v1/users/bob+corp/password", {"password": "Another-Pass-77"}, format="json")

    for response in (own, reset):
        assert response.status_code == 409
        error = response.json()["errors"][0]
        assert (error["code"], error["message"]) == (
            "directory_password", "bob+corp signs in with the password of the directory corp; change it there"
        )
