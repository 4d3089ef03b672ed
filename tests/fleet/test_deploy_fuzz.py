"""Deploy requests with bodies of the wrong shapes: each is a 400 in the API's error format, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from portal.fleet.agent_client import agents_answered_by
from portal.fleet.models import Container, Host
from tests.fleet.fake_agent import FakeAgent
from tests.fleet.portal_helpers import FACTS, index_artifact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_password_hashing")]

DEPLOY = "/api/v1/projects/team/containers"
WHERE_IT_RUNS = "/api/v1/projects/team/repositories/web/artifacts/v1/containers"
VALID = {"repository": "web", "reference": "v1"}
WRONG = [[], {}, "text", 0, 1.5, True, None, [{}], {"nested": {"deeper": [1]}}, "\x00", 10**30, "nan"]
# Not strings, or strings PostgreSQL cannot store (numbers are strings to DRF's CharField, as JSON clients expect).
NOT_TEXT = [[], {}, True, None, [{}], {"nested": {"deeper": [1]}}, "\x00"]
# Each field of the deploy body, given values of every wrong shape (a field that takes some of them is listed
# with only the ones it must refuse).
FIELDS = {
    "repository": NOT_TEXT, "reference": NOT_TEXT, "name": NOT_TEXT, "host": NOT_TEXT, "restart": NOT_TEXT,
    "selector": [[], "text", 0, {"zone": []}, {"zone": {"a": 1}}, {"zone": None}],
    "env": ["text", 0, [1], [None], [[]], {"A": []}, {"A": {"b": 1}}, {"A": None}, ["A=\x00"], {"A": "\x00"},
            {"\x00": "x"}],
    "command": ["text", 0, {}, [None], [[]], [{}], ["\x00"]],
    "ports": ["text", 0, {}, [None], [[]], [[80, 80]], [{"host_port": []}], [{"host_port": {"a": 1}}],
              [{"host_port": 80, "container_port": 80, "protocol": []}], [{"host_ip": [], "host_port": 80,
                                                                          "container_port": 80}], ["\x00"]],
    "volumes": ["text", 0, {}, [1], [None], [[]], [{}], ["data:/x\x00"]],
    "memory": [[], {}, True, "text", 10**30, 2**63, -1, "nan", 1.5e300, "\x00"],
    "cpus": [[], {}, "text", "nan", "inf", "-inf", 1e300, -1, 0],
    "pids_limit": [[], {}, "text", 10**30, 2**63, -5, 1.5],
    "healthcheck": [[], "text", 0, {"cmd": []}, {"cmd": {}}, {"cmd": "\x00"}, {"interval": []}, {"interval": "nan"},
                    {"retries": 1e300}, {"disabled": "yes"}, {"nested": {}}, {"cmd": "true", "interval": [1]}],
    "secret_env": [[], "text", 0, {"A": []}, {"A": {}}, {"A": None}, {"A": "\x00"}, {"\x00": "x"}],
}
CASES = [(field, value) for field, values in FIELDS.items() for value in values]


@pytest.fixture
def agent(monkeypatch: Any, settings: Any) -> Iterator[FakeAgent]:
    fake = FakeAgent()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setattr("portal.fleet.registry_tokens.issue_pull_token", lambda repository: f"token-for-{repository}")
    with agents_answered_by(fake.transport()):
        yield fake


@pytest.fixture
def developer(make_user: Callable[..., Any], make_project: Callable[..., Any], client_for: Callable[..., Any]) -> Any:
    user = make_user()
    project = make_project("team", members={user: "developer"})
    index_artifact(project, "web", "v1")
    Host.objects.create(name="node-a", address="http://node-a:7070", public_key="x" * 43,
                        facts={**FACTS, "memory_bytes": 8 * 2**30}, last_heartbeat_at=timezone.now())
    return client_for(user)


def _assert_refused(response: Any) -> None:
    assert response.status_code == 400, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/json"
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid" and error["message"]
    assert Container.objects.count() == 0


@pytest.mark.parametrize("body", WRONG, ids=repr)
def test_a_body_that_is_not_an_object_is_a_400(developer: Any, agent: FakeAgent, body: Any) -> None:
    _assert_refused(developer.post(DEPLOY, body, format="json"))


@pytest.mark.parametrize(("field", "value"), CASES, ids=[f"{field}={value!r}"[:60] for field, value in CASES])
def test_a_field_of_the_wrong_shape_is_a_400(developer: Any, agent: FakeAgent, field: str, value: Any) -> None:
    _assert_refused(developer.post(DEPLOY, {**VALID, field: value}, format="json"))


@pytest.mark.parametrize("body", [VALID, *WRONG], ids=repr)
def test_where_an_artifact_runs_is_a_list_that_takes_no_post(developer: Any, agent: FakeAgent, body: Any) -> None:
    response = developer.post(WHERE_IT_RUNS, body, format="json")

    assert response.status_code == 405
    assert response.json() == {"errors": [{"code": "method_not_allowed", "message": 'Method "POST" not allowed.'}]}
    assert Container.objects.count() == 0


def test_the_valid_body_these_start_from_deploys(developer: Any, agent: FakeAgent) -> None:
    assert developer.post(DEPLOY, VALID, format="json").status_code == 202
