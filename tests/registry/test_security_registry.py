"""Security review of /v2/ and /service/token: existence leaks, hostile query values and scope names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.registry import Berth


def error_of(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    return dict(errors[0])


@pytest.mark.parametrize("n", ["\u00b2", "\u2075", "9" * 5000, "99999999999999999999999"])
def test_a_hostile_page_size_on_tags_is_a_400(berth: Berth, registry_user: Any, make_project: Any, n: str) -> None:
    user, creds = registry_user()
    make_project("paged", members={user: "developer"})
    headers = berth.bearer(creds, "repository:paged/app:pull")

    response = berth.http.get(f"{berth.url}/v2/paged/app/tags/list", params={"n": n}, headers=headers)

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "PAGINATION_NUMBER_INVALID"


@pytest.mark.parametrize("n", ["\u00b2", "9" * 5000])
def test_a_hostile_page_size_on_the_catalog_is_a_400(berth: Berth, registry_user: Any, n: str) -> None:
    _, creds = registry_user(admin=True)
    headers = berth.bearer(creds, "registry:catalog:*")

    response = berth.http.get(f"{berth.url}/v2/_catalog", params={"n": n}, headers=headers)

    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == "PAGINATION_NUMBER_INVALID"
