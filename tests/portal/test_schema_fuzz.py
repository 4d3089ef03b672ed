"""Schemathesis over the OpenAPI schema, against the live in-process server: as a plain user and as an
administrator, every GET/POST/PATCH/DELETE of /api/v1/ with a few generated requests each, none of which may
get a 5xx or a response its schema does not describe."""

from __future__ import annotations

import time
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fixtures.registry import Berth, basic

METHODS = {"GET", "POST", "PATCH", "DELETE"}
# Enough to reach each operation's refusals and, where the generated body is valid, its success; few enough that
# both runs together stay within about two minutes on two cores.
EXAMPLES = 4
CHECKS = [not_a_server_error, response_schema_conformance]
# Calls by which the caller changes their own account; the admin run skips them (the user run keeps them, minus
# the password change, which would end its own sign-in).
OWN_ACCOUNT = {("PATCH", "/api/v1/users/current"), ("POST", "/api/v1/users/current/password")}
ON_USER = {("PATCH", "/api/v1/users/{id}"), ("DELETE", "/api/v1/users/{id}"), ("POST", "/api/v1/users/{id}/password")}


def _operations(schema: Any) -> list[Any]:
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() in METHODS and operation.path.startswith("/api/v1/"):
            found.append(operation)
    return found


def _fuzz(operation: Any, base_url: str, headers: dict[str, str], own_id: int | None, calls: list[int]) -> None:
    @hypothesis.given(case=operation.as_strategy())
    @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                         suppress_health_check=list(hypothesis.HealthCheck))
    def call(case: Any) -> None:
        if own_id is not None:
            # The one exclusion: an administrator's calls on their own account.
            hypothesis.assume(str((case.path_parameters or {}).get("id")) != str(own_id))
        response = case.call(base_url=base_url, headers=headers)
        calls.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    call()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("as_admin", [False, True], ids=["user", "admin"])
def test_generated_requests_get_no_5xx_and_answers_the_schema_describes(berth: Berth, registry_user: Any,
                                                                        make_project: Any, as_admin: bool) -> None:
    user, credentials = registry_user(admin=as_admin)
    make_project("fuzz", members={user: "project_admin"})
    headers = {"Authorization": basic(*credentials)}
    raw = berth.http.get(f"{berth.url}/api/v1/schema/", params={"format": "json"}, headers=headers).json()
    schema = schemathesis.openapi.from_dict(raw)
    failures: list[str] = []
    calls: list[int] = []
    started = time.monotonic()
    operations = _operations(schema)

    for operation in operations:
        key = (operation.method.upper(), operation.path)
        if key in OWN_ACCOUNT and (as_admin or key[0] == "POST"):
            continue

        try:
            _fuzz(operation, berth.url, headers, user.pk if as_admin and key in ON_USER else None, calls)
        except (Exception, BaseExceptionGroup) as exc:  # every failure is collected, so one run reports them all
            failures.append(f"{key[0]} {key[1]}: {str(exc)[:1500]}")

    elapsed = time.monotonic() - started
    assert failures == [], "\n\n".join(failures)
    # The schema's operations were all reached (a loader that found none would pass vacuously).
    assert len(operations) > 60 and len(calls) > 2 * len(operations), (len(operations), len(calls))
    print(f"{len(operations)} operations, {len(calls)} calls, {elapsed:.0f} s")
    assert elapsed < 120, f"the run took {elapsed:.0f} s"
