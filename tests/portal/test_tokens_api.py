"""Personal access tokens (CLI secrets) and the login rate limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.models import PersonalToken
from portal.audit.models import AuditEntry
from portal.utilities.secrets import hash_secret
from tests.fixtures.portal import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

TOKENS = "/api/v1/users/current/tokens"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_created_token_secret_is_shown_once_and_stored_hashed(make_user, client_for):
    alice = make_user("alice")
    client = client_for(alice)
    response = client.post(TOKENS, {"name": "laptop", "expires_in_days": 30}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("berth_pat_") and len(secret) > 40
    assert body["prefix"] == secret[:12] and body["name"] == "laptop" and body["expired"] is False
    stored = PersonalToken.objects.get(user=alice, name="laptop")
    assert stored.secret_hash == hash_secret(secret) and secret not in stored.secret_hash
    assert timedelta(days=29, hours=23) < stored.expires_at - timezone.now() <= timedelta(days=30)
    listing = client.get(TOKENS).json()
    assert listing["count"] == 1 and "secret" not in listing["results"][0]
    assert secret not in client.get(TOKENS).content.decode()
    entry = AuditEntry.objects.get(action="create", resource_type="token")
    assert entry.resource == "alice/laptop" and secret not in str(entry.detail)


def test_token_defaults_to_90_days(make_user, client_for):
    response = client_for(make_user()).post(TOKENS, {"name": "ci"}, format="json")
    expires = PersonalToken.objects.get(pk=response.json()["id"]).expires_at
    assert timedelta(days=89, hours=23) < expires - timezone.now() <= timedelta(days=90)


def test_token_without_expiry_needs_the_setting(settings, make_user, client_for):
    client = client_for(make_user())
    refused = client.post(TOKENS, {"name": "forever", "expires_in_days": None}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "expiry_required"
    assert not PersonalToken.objects.exists()
    settings.TOKEN_ALLOW_NO_EXPIRY = True
    allowed = client.post(TOKENS, {"name": "forever", "expires_in_days": None}, format="json")
    assert allowed.status_code == 201 and allowed.json()["expires_at"] is None


@pytest.mark.parametrize("days", [0, -1, 366])
def test_token_lifetime_is_bounded(make_user, client_for, days):
    response = client_for(make_user()).post(
        TOKENS, {"name": "x", "expires_in_days": days}, format="json"
    )
    assert response.status_code == 400
    assert (
        response.json()["errors"][0]["message"]
        == f"expires_in_days must be from 1 to 365, not {days}"
    )


def test_token_names_are_unique_per_user(make_user, client_for):
    client = client_for(make_user())
    assert client.post(TOKENS, {"name": "ci"}, format="json").status_code == 201
    again = client.post(TOKENS, {"name": "ci"}, format="json")
    assert (
        again.status_code == 409
        and again.json()["errors"][0]["message"] == "you already have a token named 'ci'"
    )
    assert client_for(make_user()).post(TOKENS, {"name": "ci"}, format="json").status_code == 201


def test_token_works_as_basic_password_and_bearer(make_user, make_token, client_for):
    bob = make_user("bob")
    secret = make_token(bob)
    assert client_for(bob, secret).get("/api/v1/users/current").json()["username"] == "bob"
    assert bearer(secret).get("/api/v1/users/current").json()["username"] == "bob"
    assert PersonalToken.objects.get(user=bob).last_used_at is not None


def test_token_of_another_user_is_not_their_password(make_user, make_token, client_for):
    bob, eve = make_user("bob"), make_user("eve")
    secret = make_token(bob)
    assert client_for(eve, secret).get("/api/v1/users/current").status_code == 401


def test_revoked_token_is_refused(make_user, client_for):
    carol = make_user("carol")
    client = client_for(carol)
    created = client.post(TOKENS, {"name": "old", "scopes": ["api:read"]}, format="json").json()
    assert bearer(created["secret"]).get("/api/v1/users/current").status_code == 200
    assert client.delete(f"{TOKENS}/{created['id']}").status_code == 204
    response = bearer(created["secret"]).get("/api/v1/users/current")
    assert response.status_code == 401
    assert response.json()["errors"][0] == {
        "code": "unauthorized",
        "message": "invalid, expired or revoked token",
    }
    assert client_for(carol, created["secret"]).get("/api/v1/users/current").status_code == 401
    assert AuditEntry.objects.filter(
        action="delete", resource_type="token", resource="carol/old"
    ).exists()


def test_expired_token_is_refused(make_user, make_token, client_for):
    dan = make_user("dan")
    secret = make_token(dan, expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(secret).get("/api/v1/users/current").status_code == 401
    assert client_for(dan, secret).get("/api/v1/users/current").status_code == 401
    assert client_for(dan).get(TOKENS).json()["results"][0]["expired"] is True


def test_token_of_disabled_user_is_refused(make_user, make_token):
    gone = make_user("gone")
    secret = make_token(gone)
    gone.is_active = False
    gone.save()
    assert bearer(secret).get("/api/v1/users/current").status_code == 401


def test_cannot_revoke_someone_elses_token(make_user, make_token, client_for):
    owner = make_user()
    make_token(owner, name="mine")
    token_id = PersonalToken.objects.get(name="mine").pk
    response = client_for(make_user()).delete(f"{TOKENS}/{token_id}")
    assert response.status_code == 404
    assert PersonalToken.objects.filter(pk=token_id).exists()


def test_token_cannot_mint_tokens(make_user, make_token):
    secret = make_token(make_user())
    response = bearer(secret).post(TOKENS, {"name": "more"}, format="json")
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "token_cannot_create_tokens"
    assert PersonalToken.objects.count() == 1


def test_robots_have_no_tokens(make_robot, client_for):
    robot, secret = make_robot()
    assert (
        client_for(robot.full_name, secret).post(TOKENS, {"name": "x"}, format="json").status_code
        == 403
    )
    assert not PersonalToken.objects.exists()


def test_tokens_list_sorts(make_user, make_token, client_for):
    frank = make_user()
    for name in ("b", "c", "a"):
        make_token(frank, name=name)
    names = [t["name"] for t in client_for(frank).get(f"{TOKENS}?sort=name").json()["results"]]
    assert names == ["a", "b", "c"]


# Login rate limiting


def login(username: str, password: str, address: str = "203.0.113.7") -> object:
    return APIClient().post(
        "/api/v1/auth/login",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=address,
    )


def test_failed_login_is_audited_with_source_address(make_user):
    make_user("ann")
    response = login("ann", "wrong")
    assert response.status_code == 401
    assert response.json()["errors"][0] == {
        "code": "unauthorized",
        "message": "invalid username or password",
    }
    entry = AuditEntry.objects.get(action="login", outcome="failure")
    assert (entry.actor, entry.source_ip, entry.detail["reason"]) == (
        "ann",
        "203.0.113.7",
        "invalid credentials",
    )


def test_repeated_failures_refuse_their_source_until_the_window_passes(settings, make_user):
    make_user("ben")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert login("ben", "wrong").status_code == 401
    blocked = login("ben", PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["errors"][0] == {
        "code": "too_many_attempts",
        "message": "too many failed sign-in attempts; wait a few minutes and try again",
    }
    assert AuditEntry.objects.filter(
        action="login", actor="ben", detail__reason="too many failed attempts"
    ).exists()
    # Basic authentication on the API, from the same address, is the same gate.
    from tests.fixtures.portal import basic_header

    api = APIClient().get("/api/v1/users/current", HTTP_AUTHORIZATION=basic_header("ben", PASSWORD),
                          REMOTE_ADDR="203.0.113.7")
    assert api.status_code == 429
    AuditEntry.objects.update(
        time=F("time") - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
    )
    assert login("ben", PASSWORD).status_code == 200


def test_the_owner_elsewhere_still_signs_in_after_an_attacker_failed_twenty_times(make_user):
    make_user("ben")
    attacker, owner = "198.51.100.66", "203.0.113.10"
    for _ in range(20):
        login("ben", "guess", address=attacker)

    assert login("ben", PASSWORD, address=attacker).status_code == 429
    assert login("ben", PASSWORD, address=owner).status_code == 200


def test_tokens_and_generated_robot_secrets_are_never_refused_for_password_failures(
    make_user, make_project, make_robot, make_token
):
    from tests.fixtures.portal import basic_header

    ben = make_user("ben")
    project = make_project("app", members={ben: "developer"})
    robot, robot_secret = make_robot("ci", project=project, permissions=[("project", "read")])
    token = make_token(ben)
    source = "198.51.100.66"
    for _ in range(20):
        login("ben", "guess", address=source)
        APIClient().get("/api/v1/projects/app", HTTP_AUTHORIZATION=basic_header(robot.full_name, "Guess-Secret-0000"),
                        REMOTE_ADDR=source)

    def as_(username: str, secret: str) -> int:
        return APIClient().get("/api/v1/projects/app", HTTP_AUTHORIZATION=basic_header(username, secret),
                               REMOTE_ADDR=source).status_code

    assert as_("ben", PASSWORD) == 429
    assert as_(robot.full_name, "Guess-Secret-0000") == 429
    assert as_("ben", token) == 200
    assert bearer(token).get("/api/v1/projects/app", REMOTE_ADDR=source).status_code == 200
    assert as_(robot.full_name, robot_secret) == 200


def test_refused_attempts_do_not_extend_the_window(settings, make_user):
    make_user("ben")
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login("ben", "wrong")
    # The failures are nearly a window old; refused attempts keep coming until the last moment.
    AuditEntry.objects.update(time=F("time") - timedelta(seconds=window - 10))
    for _ in range(3):
        assert login("ben", PASSWORD).status_code == 429
    AuditEntry.objects.update(time=F("time") - timedelta(seconds=11))

    assert login("ben", PASSWORD).status_code == 200


def test_other_accounts_are_not_blocked_by_one_account_failures(settings, make_user):
    make_user("ben")
    make_user("cat")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login("ben", "wrong", address="198.51.100.1")
    assert login("cat", PASSWORD, address="198.51.100.2").status_code == 200


def test_an_address_trying_many_accounts_is_slowed_per_account_only(settings, make_user):
    make_user("dee")
    for index in range(settings.LOGIN_MAX_FAILURES * 4):
        login(f"guess{index}", "wrong", address="192.0.2.66")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        login("guess0", "wrong", address="192.0.2.66")
    # Whoever else signs in from that address (a shared NAT, a proxy) is not refused for it.
    assert login("dee", PASSWORD, address="192.0.2.66").status_code == 200
    assert login("guess0", "wrong", address="192.0.2.66").status_code == 429

def test_successful_login_is_audited(make_user):
    make_user("eli")
    assert login("eli", PASSWORD).status_code == 200
    entry = AuditEntry.objects.get(action="login", outcome="success")
    assert (entry.actor, entry.source_ip) == ("eli", "203.0.113.7")


def test_spoofed_forwarded_for_does_not_dodge_the_address_limit(settings, make_user):
    make_user("fay")
    for index in range(settings.LOGIN_MAX_FAILURES):
        APIClient().post("/api/v1/auth/login", {"username": "fay", "password": "wrong"}, format="json",
                         REMOTE_ADDR="192.0.2.99", HTTP_X_FORWARDED_FOR=f"10.0.0.{index}")
    assert set(AuditEntry.objects.filter(action="login").values_list("source_ip", flat=True)) == {"192.0.2.99"}
    response = APIClient().post("/api/v1/auth/login", {"username": "fay", "password": PASSWORD}, format="json",
                                REMOTE_ADDR="192.0.2.99", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


def test_forwarded_for_from_a_trusted_proxy_is_the_source(settings, make_user):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]
    make_user("gus")
    APIClient().post("/api/v1/auth/login", {"username": "gus", "password": "wrong"}, format="json",
                     REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.23, 127.0.0.1")
    assert AuditEntry.objects.get(action="login").source_ip == "198.51.100.23"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name: This field may not be blank."),
        ("a/b", "name: 1 to 100 letters, digits, spaces or . _ - @"),
        ("x" * 101, "name: Ensure this field has no more than 100 characters."),
    ],
)
def test_bad_token_names(make_user, client_for, name, message):
    response = client_for(make_user()).post(TOKENS, {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message
    assert not PersonalToken.objects.exists()
