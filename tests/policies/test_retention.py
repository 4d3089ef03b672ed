"""Retention: a dry run lists exactly what the real run removes, tag by tag; immutable and running stay."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fixtures.registry import Berth
from tests.registry.test_registry_protocol import OCI_MANIFEST, client

RULES = [{"tags": ["v*"], "template": "keep_latest_pushed", "count": 5},
         {"tags": ["latest"], "template": "always"}]


@pytest.fixture
def eager(settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True


def _push_thirty_tags_over_twelve_artifacts(berth: Berth, creds: tuple[str, str]) -> list[str]:
    """v1…v20 round-robin over artifacts 0…11, then dev-1…dev-9 on artifacts 0…8, then latest on 11."""
    pusher = client(berth, creds, "keep/app")
    bodies: list[bytes] = []
    digests: list[str] = []

    def tag(index: int, name: str) -> None:
        if index < len(bodies):
            response = pusher.request("PUT", f"/v2/keep/app/manifests/{name}", content=bodies[index],
                                      headers={"Content-Type": OCI_MANIFEST})
            assert response.status_code == 201
            return
        body, digest = pusher.image("keep/app", name, layer=f"artifact {index}".encode())
        bodies.append(body)
        digests.append(digest)

    for k in range(1, 21):
        tag((k - 1) % 12, f"v{k}")
    for k in range(1, 10):
        tag(k - 1, f"dev-{k}")
    tag(11, "latest")
    return digests


def test_the_dry_run_lists_exactly_the_tags_the_real_run_removes(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, eager: None
) -> None:
    from portal.artifacts.models import Artifact, Tag
    from portal.audit.models import AuditEntry
    from portal.fleet.models import Container

    maintainer, creds = registry_user()
    project = make_project("keep", members={maintainer: "maintainer"})
    digests = _push_thirty_tags_over_twelve_artifacts(berth, creds)
    assert Tag.objects.filter(repository__name="keep/app").count() == 30
    Container.objects.create(project=project, host_name="node-a", name="web", repository="keep/app",
                             reference="v1", digest=digests[0], status="running", created_by="tests")
    api = client_for(maintainer)
    assert api.post("/api/v1/projects/keep/immutability-rules", {"tags": ["dev-9"]}, format="json").status_code == 201
    assert api.put("/api/v1/projects/keep/retention-policy", {"schedule": "0 3 * * *", "rules": RULES},
                   format="json").status_code == 200

    dry = api.post("/api/v1/projects/keep/retention-runs", {"dry_run": True}, format="json")
    dry_report = api.get(f"/api/v1/projects/keep/retention-runs/{dry.json()['id']}").json()
    untouched = sorted(Tag.objects.filter(repository__name="keep/app").values_list("name", flat=True))
    real = api.post("/api/v1/projects/keep/retention-runs", {"dry_run": False}, format="json")
    real_report = api.get(f"/api/v1/projects/keep/retention-runs/{real.json()['id']}").json()

    verdicts = dry_report["report"]["repositories"]["keep/app"]
    rule_1 = "kept: rule #1 keep_latest_pushed 5 of **:v*"
    running = "kept: running on host node-a"
    expected = {f"v{k}": "removed" for k in range(1, 16)} | {f"dev-{k}": "removed" for k in range(1, 9)}
    expected |= {f"v{k}": rule_1 for k in range(16, 21)} | {"v1": running, "v13": running, "dev-1": running}
    expected |= {"latest": "kept: rule #2 always of **:latest",
                 "dev-9": 'kept: tag dev-9 of keep/app is immutable (rule "dev-9")'}
    assert verdicts == dict(sorted(expected.items()))
    assert (dry_report["status"], dry_report["removed"], dry_report["kept"]) == ("succeeded", 20, 10)
    assert len(untouched) == 30
    assert real_report["report"] == dry_report["report"]
    assert real_report["status"] == "succeeded"
    kept = sorted(tag for tag, verdict in verdicts.items() if verdict != "removed")
    assert sorted(Tag.objects.filter(repository__name="keep/app").values_list("name", flat=True)) == kept
    # Tag by tag: every artifact stays, those with a kept tag keep it (v16 and dev-4 shared artifact 3).
    assert Artifact.objects.filter(repository__name="keep/app").count() == 12
    assert list(Tag.objects.filter(artifact__digest=digests[3]).values_list("name", flat=True)) == ["v16"]
    v2_tags = client(berth, creds, "keep/app").request("GET", "/v2/keep/app/tags/list").json()["tags"]
    browse = api.get("/api/v1/projects/keep/repositories/app/tags?page_size=100").json()
    assert v2_tags == kept
    assert sorted(row["name"] for row in browse["results"]) == kept
    assert AuditEntry.objects.filter(action="run", resource_type="retention").count() == 2
    assert AuditEntry.objects.filter(action="delete", resource="keep/app:*").count() == 1


def test_the_most_recently_pulled_tags_are_kept(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, eager: None
) -> None:
    from portal.artifacts.models import Tag

    maintainer, creds = registry_user()
    make_project("keep", members={maintainer: "maintainer"})
    _push_thirty_tags_over_twelve_artifacts(berth, creds)
    puller = client(berth, creds, "keep/app")
    for name in ("v2", "dev-5"):
        assert puller.request("GET", f"/v2/keep/app/manifests/{name}", headers={"Accept": OCI_MANIFEST}
                              ).status_code == 200
    # The proxy counts a pull just after answering it: flush until both have been counted.
    deadline = time.monotonic() + 10
    while Tag.objects.filter(repository__name="keep/app", last_pulled_at__isnull=False).count() < 2:
        assert time.monotonic() < deadline, "the pulls were never counted"
        berth.app.pulls.flush()
        time.sleep(0.05)
    api = client_for(maintainer)
    api.put("/api/v1/projects/keep/retention-policy",
            {"rules": [{"template": "keep_latest_pulled", "count": 2}]}, format="json")

    run = api.post("/api/v1/projects/keep/retention-runs", {"dry_run": False}, format="json")

    assert run.status_code == 202
    assert sorted(Tag.objects.filter(repository__name="keep/app").values_list("name", flat=True)) == ["dev-5", "v2"]


@pytest.mark.parametrize(("role", "can_see", "can_edit"), [
    ("guest", False, False), ("developer", False, False), ("maintainer", True, True), ("project_admin", True, True)])
def test_developers_cannot_edit_retention_and_guests_cannot_see_it(
    make_user: Any, make_project: Any, client_for: Any, role: str, can_see: bool, can_edit: bool, eager: None
) -> None:
    from portal.policies.models import RetentionRule

    member = make_user()
    make_project("perm", members={member: role})
    api = client_for(member)

    seen = api.get("/api/v1/projects/perm/retention-policy")
    edited = api.put("/api/v1/projects/perm/retention-policy", {"rules": RULES}, format="json")
    runs = api.get("/api/v1/projects/perm/retention-runs")

    assert seen.status_code == (200 if can_see else 403)
    assert runs.status_code == (200 if can_see else 403)
    assert edited.status_code == (200 if can_edit else 403)
    assert RetentionRule.objects.count() == (2 if can_edit else 0)


def test_a_robot_with_the_permission_runs_retention(
    transactional_db: Any, make_project: Any, make_robot: Any, client_for: Any, eager: None
) -> None:
    from portal.policies.models import RetentionRun

    project = make_project("bots")
    runner, runner_secret = make_robot(project=project, permissions=[("tag-retention", "create")])
    other, other_secret = make_robot(project=project, permissions=[("repository", "pull")])

    allowed = client_for(runner.full_name, runner_secret).post("/api/v1/projects/bots/retention-runs", {"dry_run": True},
                                                     format="json")
    refused = client_for(other.full_name, other_secret).post("/api/v1/projects/bots/retention-runs", {"dry_run": True},
                                                   format="json")

    assert allowed.status_code == 202
    assert refused.status_code == 403
    assert list(RetentionRun.objects.values_list("status", "triggered_by")) == [("succeeded", runner.full_name)]


def test_a_schedule_is_validated_and_runs_once_when_due(make_user: Any, make_project: Any, client_for: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from portal.policies.models import RetentionPolicy
    from portal.policies.retention import create_due_runs

    maintainer = make_user()
    make_project("cron", members={maintainer: "maintainer"})
    api = client_for(maintainer)

    bad = api.put("/api/v1/projects/cron/retention-policy", {"schedule": "61 * * * *", "rules": RULES}, format="json")
    good = api.put("/api/v1/projects/cron/retention-policy", {"schedule": "*/5 * * * *", "rules": RULES},
                   format="json")
    RetentionPolicy.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    later = timezone.now()

    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "invalid_schedule"
    assert good.status_code == 200
    assert len(create_due_runs(later)) == 1
    assert create_due_runs(later) == []


def test_untagged_artifacts_are_reported_kept_by_rules_that_include_them(
    berth: Berth, registry_user: Any, make_project: Any, client_for: Any, eager: None
) -> None:
    maintainer, creds = registry_user()
    make_project("bare", members={maintainer: "maintainer"})
    pusher = client(berth, creds, "bare/app")
    _, older = pusher.image("bare/app", "older", layer=b"older")
    _, newer = pusher.image("bare/app", "newer", layer=b"newer")
    api = client_for(maintainer)
    for tag, digest in (("older", older), ("newer", newer)):
        assert api.delete(f"/api/v1/projects/bare/repositories/app/artifacts/{digest}/tags/{tag}").status_code == 204
    api.put("/api/v1/projects/bare/retention-policy",
            {"rules": [{"template": "keep_latest_pushed", "count": 1, "untagged": True, "tags": ["none"]}]},
            format="json")

    run = api.post("/api/v1/projects/bare/retention-runs", {"dry_run": True}, format="json").json()
    report = api.get(f"/api/v1/projects/bare/retention-runs/{run['id']}").json()["report"]

    assert report["untagged"] == {"bare/app": {
        newer: "kept: rule #1 keep_latest_pushed 1 of **:none", older: "untagged: left to GC"}}
    assert report["repositories"] == {}
