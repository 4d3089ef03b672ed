"""Guards in front of every view, and the remembered-credentials shortcut of Basic authentication."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    ["/api/v1/projects/a%00b", "/api/v1/projects/app/members/a%00b", "/api/v1/projects?name=a%00b"],
)
def test_nul_bytes_are_refused_with_a_clear_400(make_user, make_project, client_for, url):
    alice = make_user("alice")
    make_project("app", members={alice: "project_admin"})
    response = client_for(alice).get(url)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"code": "malformed_request", "message": "the request's path or query contains a NUL byte"}]
    }


def test_a_password_change_ends_remembered_basic_credentials(make_user, client_for):
    from portal.accounts.models import User

    bob = make_user("bob")
    client = client_for(bob)
    assert client.get("/api/v1/users/current").status_code == 200
    assert client.get("/api/v1/users/current").status_code == 200  # served from the remembered check

    stored = User.objects.get(pk=bob.pk)
    stored.set_password("An0ther-Secret-Phrase")
    stored.save()

    assert client.get("/api/v1/users/current").status_code == 401
    fresh = client_for("bob", "An0ther-Secret-Phrase")
    assert fresh.get("/api/v1/users/current").status_code == 200


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/projects/x/y/z/w", "/api/v1/", "/api/v1/projects/"])
def test_unknown_api_paths_are_404s_in_the_api_format(anonymous, method: str, path: str) -> None:
    response = getattr(anonymous, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"errors": [{"code": "not_found", "message": f"no API route for {path}"}]}
