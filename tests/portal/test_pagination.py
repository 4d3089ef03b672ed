"""Pagination, sorting and bad input on the list and write endpoints: clear 400s, never 500s.

Unknown sort fields are ignored (DRF's OrderingFilter behaviour, the same on every list), so the
default order applies; that choice is asserted below.
"""

from __future__ import annotations

import pytest

from portal.accounts.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

LISTS = [
    "/api/v1/projects",
    "/api/v1/projects/app/members",
    "/api/v1/projects/app/robots",
    "/api/v1/robots",
    "/api/v1/users",
    "/api/v1/users/current/tokens",
    "/api/v1/users/search?q=a",
]


@pytest.fixture
def admin_client(admin_user, make_project, client_for):
    make_project("app", members={admin_user: "project_admin"})
    return client_for(admin_user)


def with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.mark.parametrize("url", LISTS)
def test_page_size_up_to_1000(admin_client, url):
    response = admin_client.get(with_query(url, "page_size=1000"))
    assert response.status_code == 200, response.content
    assert response.json()["page_size"] == 1000


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page_size=1001", "page_size: must be from 1 to 1000, not 1001"),
        ("page_size=0", "page_size: must be from 1 to 1000, not 0"),
        ("page_size=lots", "page_size: must be a whole number from 1 to 1000"),
        ("page=0", "page: must be a whole number from 1"),
        ("page=first", "page: must be a whole number from 1"),
    ],
)
def test_bad_paging_is_a_clear_400(admin_client, url, query, message):
    response = admin_client.get(with_query(url, query))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"
    assert response.json()["errors"][0]["message"] == message


def test_pages_and_total_count(admin_user, make_user, client_for):
    for index in range(5):
        make_user(f"u{index}")
    client = client_for(admin_user)
    first = client.get("/api/v1/users?page_size=2").json()
    assert first["count"] == 6 and first["page"] == 1 and len(first["results"]) == 2
    assert first["next"].endswith("page=2&page_size=2") and first["previous"] is None
    third = client.get("/api/v1/users?page_size=2&page=3")
    assert [u["username"] for u in third.json()["results"]] == ["u3", "u4"]
    assert third["X-Total-Count"] == "6"


def test_page_past_the_end_is_404(admin_client):
    response = admin_client.get("/api/v1/users?page=9")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_unknown_sort_field_is_ignored(admin_user, make_user, client_for):
    make_user("zoe")
    make_user("abe")
    client = client_for(admin_user)
    default = [u["username"] for u in client.get("/api/v1/users").json()["results"]]
    assert default == ["abe", "root-admin", "zoe"]
    for sort in ("colour", "password", "-secret_hash"):
        assert [u["username"] for u in client.get(f"/api/v1/users?sort={sort}").json()["results"]] == default


def test_sort_by_several_fields(admin_user, make_user, client_for):
    make_user("b1", admin=True)
    make_user("a1")
    names = [u["username"] for u in client_for(admin_user).get("/api/v1/users?sort=-is_admin,username").json()["results"]]
    assert names == ["b1", "root-admin", "a1"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/users"),
        ("patch", "/api/v1/users/root-admin"),
        ("post", "/api/v1/users/root-admin/password"),
        ("post", "/api/v1/users/current/tokens"),
        ("patch", "/api/v1/users/current"),
        ("post", "/api/v1/users/current/password"),
        ("post", "/api/v1/robots"),
        ("post", "/api/v1/projects/app/robots"),
    ],
)
def test_malformed_json_is_a_400(admin_client, method, url):
    response = getattr(admin_client, method)(url, data='{"name": ', content_type="application/json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "malformed_request"
    assert error["message"].startswith("JSON parse error")


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/v1/users", {"username": "x1", "password": "Quiet-Lantern-Orbit-42", "role": "admin"}),
        ("patch", "/api/v1/users/root-admin", {"password": "x"}),
        ("post", "/api/v1/users/current/tokens", {"name": "t", "owner": "root-admin"}),
        ("post", "/api/v1/robots", {"name": "r", "permissions": [{"project": "*", "resource": "repository",
                                                                  "action": "pull", "level": "high"}]}),
        ("post", "/api/v1/projects/app/robots", {"name": "r", "permissions": [], "secret_hash": "x"}),
    ],
)
def test_unknown_fields_are_refused(admin_client, method, url, body):
    before = User.objects.count()
    response = getattr(admin_client, method)(url, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"
    assert "unknown field" in str(response.json()["errors"][0]["fields"])
    assert User.objects.count() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "Invalid data. Expected a dictionary, but got list."),
        ({"username": 5, "password": None}, "password: This field may not be null."),
        ({"username": "ok1", "password": "Quiet-Lantern-Orbit-42", "email": "not-mail"},
         "email: Enter a valid email address."),
        ({"username": "ok1", "password": "Quiet-Lantern-Orbit-42", "is_admin": "perhaps"},
         "is_admin: Must be a valid boolean."),
    ],
)
def test_wrong_types_are_clear_400s(admin_client, body, message):
    response = admin_client.post("/api/v1/users", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message
    assert User.objects.count() == 1


def test_token_expiry_must_be_a_number(make_user, client_for):
    response = client_for(make_user()).post("/api/v1/users/current/tokens", {"name": "t", "expires_in_days": "soon"},
                                            format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "expires_in_days: A valid integer is required."


def test_robot_permission_with_unknown_resource(admin_client):
    response = admin_client.post("/api/v1/projects/app/robots", {"name": "r", "permissions": [
        {"resource": "galaxy", "action": "pull"}]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == 'permissions: resource: "galaxy" is not a valid choice.'


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/v1/users/a%00b", 400),
        ("get", "/api/v1/robots/a%00b", 400),
        ("get", "/api/v1/projects/app/robots/a%00b", 400),
        ("get", "/api/v1/projects/a%00b/robots", 400),
        ("get", "/api/v1/users/current/permissions?project=%00", 400),
        ("get", "/api/v1/users/search?q=a%00", 400),
        ("get", "/api/v1/users?username=a%00", 400),
        ("get", "/api/v1/projects/app/robots?name=%00", 400),
        ("get", "/api/v1/robots/99999999999999999999999", 404),
        ("delete", "/api/v1/users/current/tokens/99999999999999999999999", 404),
    ],
)
def test_hostile_path_and_query_values_are_not_500s(admin_client, method, url, status):
    """NUL bytes are refused before any view (PostgreSQL would fail on them); huge ids overflow bigint."""
    response = getattr(admin_client, method)(url)
    assert response.status_code == status, response.content


def test_absurd_robot_expiry_is_a_400(admin_client):
    response = admin_client.post("/api/v1/robots", {"name": "r", "expires_in_days": 10**8, "permissions": [
        {"project": "*", "resource": "repository", "action": "pull"}]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == (
        "expires_in_days must be from 1 to 36500 (or null for never), not 100000000"
    )


def test_nul_in_a_body_is_a_400(admin_client):
    response = admin_client.post("/api/v1/users", {"username": "ok1", "password": "Quiet-Lantern-Orbit-42",
                                                   "display_name": "a\x00b"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "display_name: Null characters are not allowed."
