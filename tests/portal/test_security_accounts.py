"""Security review of sign-in: no timing oracle for account names; hostile credentials are 401s, never 500s."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from portal.accounts import authentication
from portal.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

TOKEN_SHAPED = "berth_pat_" + "x" * 43


@pytest.fixture
def password_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the slow password hashes a sign-in attempt costs."""
    calls: list[str] = []
    set_password, check_password = User.set_password, User.check_password

    def counted_set(self: User, raw: Any) -> None:
        calls.append("set")
        set_password(self, raw)

    def counted_check(self: User, raw: Any) -> bool:
        calls.append("check")
        return check_password(self, raw)

    monkeypatch.setattr(User, "set_password", counted_set)
    monkeypatch.setattr(User, "check_password", counted_check)
    return calls


def _attempt(username: str, secret: str) -> None:
    with pytest.raises(authentication.InvalidCredentials):
        authentication.authenticate_credentials(username, secret, "192.0.2.7")


def test_a_token_shaped_password_costs_the_same_for_an_existing_and_a_missing_account(make_user, password_work):
    make_user("alice")
    password_work.clear()

    _attempt("alice", TOKEN_SHAPED)
    existing = list(password_work)
    password_work.clear()
    _attempt("nobody-here", TOKEN_SHAPED)

    assert existing == password_work


def test_a_password_costs_one_slow_hash_for_an_existing_and_a_missing_account(make_user, password_work):
    make_user("alice")
    password_work.clear()

    _attempt("alice", "not-her-password")
    existing = list(password_work)
    password_work.clear()
    _attempt("nobody-here", "not-her-password")

    assert len(existing) == len(password_work) == 1


@pytest.fixture
def secret_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the slow hashes a robot's sign-in costs (chosen secrets are hashed as passwords are)."""
    from portal.utilities import secrets

    calls: list[str] = []
    make, check = secrets.make_password, secrets.check_password
    monkeypatch.setattr(secrets, "make_password", lambda raw, *a, **k: calls.append("make") or make(raw, *a, **k))
    monkeypatch.setattr(secrets, "check_password", lambda raw, *a, **k: calls.append("check") or check(raw, *a, **k))
    return calls


def test_a_guessed_robot_secret_costs_one_slow_hash_whatever_the_robot(make_project, make_robot, secret_work):
    from portal.robots.models import Robot
    from portal.utilities.secrets import hash_chosen_secret

    app = make_project("app")
    make_robot("generated", project=app)
    chosen, _ = make_robot("chosen", project=app)
    Robot.objects.filter(pk=chosen.pk).update(secret_hash=hash_chosen_secret("Chosen-Secret-With-Digits-123"))
    costs = []
    for name in ("robot$app+generated", "robot$app+chosen", "robot$app+missing", "robot$nowhere+ci"):
        secret_work.clear()
        _attempt(name, "Guessed-Secret-0000")
        costs.append(len(secret_work))

    assert costs == [1, 1, 1, 1]


def test_a_generated_robot_secret_costs_no_slow_hash(make_project, make_robot, secret_work):
    robot, secret = make_robot("ci", project=make_project("app"))
    principal = authentication.authenticate_credentials(robot.full_name, secret, "192.0.2.7")
    _attempt(robot.full_name, "berth_robot_" + "x" * 43)
    _attempt("robot$app+missing", "berth_robot_" + "x" * 43)

    assert principal.audit_name == robot.full_name and secret_work == []


def test_a_token_still_signs_in_only_its_own_owner(make_user, client_for, anonymous):
    from portal.accounts.services import create_token
    from portal.rbac.principals import UserPrincipal

    alice, bob = make_user("alice"), make_user("bob")
    issued = create_token(UserPrincipal(alice), "ci", 30)

    principal = authentication.authenticate_credentials("alice", issued.secret, None)
    with pytest.raises(authentication.InvalidCredentials):
        authentication.authenticate_credentials("bob", issued.secret, None)
    alice.is_active = False
    alice.save()
    with pytest.raises(authentication.InvalidCredentials):
        authentication.authenticate_credentials("alice", issued.secret, None)

    assert isinstance(principal, UserPrincipal) and principal.user == alice and principal.via == "token"
    assert bob.username == "bob"


@pytest.mark.parametrize("credentials", [b"ali\x00ce:secret", b"robot$ci\x00:secret", b"robot$team+c\x00i:secret",
                                         b"alice:berth_pat_\x00abc"])
def test_a_nul_in_basic_credentials_is_a_401_audited_under_a_printable_name(make_user, anonymous, credentials):
    from portal.audit.models import AuditEntry

    make_user("alice")
    anonymous.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials).decode())

    response = anonymous.get("/api/v1/projects")

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "invalid username or password"
    username = credentials.decode().split(":", 1)[0]
    assert AuditEntry.objects.filter(action="login", outcome="failure", actor=username.replace("\x00", "\\x00")).exists()
    assert not any("\x00" in entry.actor + entry.resource for entry in AuditEntry.objects.all())


def test_a_nul_in_a_bearer_token_is_a_401_audited_under_a_printable_prefix(anonymous):
    from portal.audit.models import AuditEntry

    anonymous.credentials(HTTP_AUTHORIZATION="Bearer berth_pat_\x00abc")

    response = anonymous.get("/api/v1/projects")

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "invalid, expired or revoked token"
    assert AuditEntry.objects.filter(action="login", resource="berth_pat_\\x00a").exists()


@pytest.mark.parametrize("username", ["a" * 400, "robot$" + "p" * 200 + "+" + "r" * 200])
def test_an_overlong_username_is_a_401_audited_under_a_cut_name(anonymous, username):
    from portal.audit.models import AuditEntry

    anonymous.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{username}:secret".encode()).decode())

    response = anonymous.get("/api/v1/projects")

    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "invalid username or password"
    assert AuditEntry.objects.filter(action="login", outcome="failure", actor=username[:300]).exists()
