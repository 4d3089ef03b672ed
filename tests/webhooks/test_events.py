"""Which changes write which events: pushes' neighbours (deletes, pulls folded per minute), the fleet's
containers (deployed, running, exited with its code, failed, OOM-killed, unhealthy) and hosts; and no
event row at all while no policy listens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from portal.artifacts import services as artifacts
from portal.fleet import services as fleet
from portal.fleet.convergence import CONTAINER_LABEL, apply_observed
from portal.fleet.models import Host
from portal.rbac.principals import UserPrincipal
from portal.utilities.errors import Forbidden
from portal.webhooks import outbox
from portal.webhooks.models import WebhookDelivery, WebhookEvent, WebhookPolicy
from tests.fleet.portal_helpers import index_artifact

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
ALL_PROJECT_EVENTS = ["artifact.pushed", "artifact.pulled", "artifact.deleted", "tag.deleted", "container.deployed",
                      "container.running", "container.exited", "container.failed", "container.oom_killed",
                      "container.unhealthy", "retention.finished"]


@pytest.fixture
def project(make_project: Any) -> Any:
    return make_project("events")


@pytest.fixture
def listening(project: Any) -> WebhookPolicy:
    return WebhookPolicy.objects.create(project=project, name="all", target_url="http://127.0.0.1:9/",
                                        event_types=ALL_PROJECT_EVENTS)


def events(kind: str | None = None) -> list[WebhookEvent]:
    found = WebhookEvent.objects.order_by("id")
    return list(found.filter(type=kind) if kind else found)


def test_nothing_is_written_while_no_policy_listens(project: Any) -> None:
    index_artifact(project, "app", "v1")

    artifacts.delete_tag(UserPrincipal(_admin()), "events/app", "v1")

    assert events() == [] and not WebhookDelivery.objects.exists()


def test_a_disabled_policy_and_another_projects_policy_hear_nothing(project: Any, make_project: Any) -> None:
    WebhookPolicy.objects.create(project=project, name="off", target_url="http://127.0.0.1:9/", enabled=False,
                                 event_types=ALL_PROJECT_EVENTS)
    WebhookPolicy.objects.create(project=make_project("elsewhere"), name="theirs", target_url="http://127.0.0.1:9/",
                                 event_types=ALL_PROJECT_EVENTS)
    index_artifact(project, "app", "v1")

    artifacts.delete_tag(UserPrincipal(_admin()), "events/app", "v1")

    assert events() == []


def test_tag_deletion_writes_its_event_in_the_same_transaction_as_the_delete(project: Any, listening: Any) -> None:
    artifact = index_artifact(project, "app", "v1")
    system = WebhookPolicy.objects.create(name="everything", target_url="http://127.0.0.1:9/",
                                          event_types=["tag.deleted"])

    artifacts.delete_tag(UserPrincipal(_admin()), "events/app", "v1")

    [event] = events()
    assert (event.type, event.subject, event.operator) == ("tag.deleted", "events/app:v1", "events-admin")
    assert event.payload == {"repository": "events/app", "digest": artifact.digest, "tag": "v1", "public": False}
    assert sorted(d.policy_id for d in event.deliveries.all()) == sorted([listening.pk, system.pk])


def test_a_refused_delete_announces_nothing(project: Any, listening: Any, make_user: Any) -> None:
    index_artifact(project, "app", "v1")

    with pytest.raises(Forbidden, match="^nobody may not delete tag in project events$"):
        artifacts.delete_tag(UserPrincipal(make_user("nobody")), "events/app", "v1")

    assert events() == []


def test_pulls_fold_into_one_event_per_artifact_per_minute(project: Any, listening: Any) -> None:
    artifact = index_artifact(project, "app", "v1")
    minute = datetime(2026, 5, 1, 12, 30, 5, tzinfo=UTC)

    artifacts.record_pulls([("events/app", artifact.digest, "v1", "alice", minute)] * 3)
    artifacts.record_pulls([("events/app", artifact.digest, "v1", "bob", minute + timedelta(seconds=40))] * 2)
    artifacts.record_pulls([("events/app", artifact.digest, None, "bob", minute + timedelta(seconds=60))])

    first, second = events("artifact.pulled")
    assert first.payload["count"] == 5 and first.payload["tags"] == ["v1"]
    assert first.payload["window_start"] == "2026-05-01T12:30:00+00:00"
    assert second.payload["count"] == 1 and second.payload["window_start"] == "2026-05-01T12:31:00+00:00"
    assert WebhookDelivery.objects.filter(event__type="artifact.pulled").count() == 2


def _host(name: str = "node-1", **fields: Any) -> Host:
    defaults = {"address": "http://127.0.0.1:1", "public_key": "x" * 43, "last_heartbeat_at": timezone.now(),
                "facts": {"cpus": 4, "memory_bytes": 8 << 30}}
    return Host.objects.create(name=name, **{**defaults, **fields})


def _admin() -> Any:
    from portal.accounts.models import User

    return User.objects.get_or_create(username="events-admin", defaults={"is_admin": True})[0]


def _report(container: Any, status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "agent-1", "labels": {CONTAINER_LABEL: str(container.pk)}, "status": status, **fields}


def test_a_deployment_announces_deployed_running_and_exited_with_its_code(
        project: Any, listening: Any, django_capture_on_commit_callbacks: Any) -> None:
    host = _host()
    index_artifact(project, "web", "v1")
    container = fleet.deploy(UserPrincipal(_admin()), project, repository="web", reference="v1", name="web-1")

    apply_observed(host, [_report(container, "running")])
    apply_observed(host, [_report(container, "exited", exit_code=0)])

    assert [e.type for e in events()] == ["container.deployed", "container.running", "container.exited"]
    deployed, running, exited = events()
    assert deployed.payload["container"] == "web-1" and deployed.payload["host"] == "node-1"
    assert deployed.operator == "events-admin" and deployed.subject == "web-1@node-1"
    assert running.payload["status"] == "running"
    assert exited.payload["exit_code"] == 0


def test_a_crash_an_oom_kill_and_an_unhealthy_check_have_their_events(project: Any, listening: Any) -> None:
    host = _host()
    index_artifact(project, "web", "v1")
    crashing = fleet.deploy(UserPrincipal(_admin()), project, repository="web", reference="v1", name="crash")
    greedy = fleet.deploy(UserPrincipal(_admin()), project, repository="web", reference="v1", name="greedy")
    sick = fleet.deploy(UserPrincipal(_admin()), project, repository="web", reference="v1", name="sick")

    apply_observed(host, [_report(crashing, "exited", exit_code=3), _report(greedy, "exited", exit_code=137,
                   oom_killed=True), _report(sick, "running", health="healthy")])
    apply_observed(host, [_report(crashing, "exited", exit_code=3), _report(greedy, "exited", exit_code=137,
                   oom_killed=True), _report(sick, "running", health="unhealthy")])

    failed = events("container.failed")
    assert [(e.payload["container"], e.payload["exit_code"], e.payload["error"]) for e in failed] == [
        ("crash", 3, "the container exited with code 3")]
    [oom] = events("container.oom_killed")
    assert oom.payload["container"] == "greedy" and oom.payload["error_code"] == "out_of_memory"
    [unhealthy] = events("container.unhealthy")
    assert unhealthy.payload["container"] == "sick"
    # The second, unchanged report repeats nothing.
    assert len(events("container.running")) == 1


def test_host_status_changes_are_announced_to_system_policies() -> None:
    WebhookPolicy.objects.create(name="fleet", target_url="http://127.0.0.1:9/",
                                 event_types=["host.online", "host.unreachable", "host.drained"])
    host = _host("node-7")

    assert outbox.announce_host_changes() == 1
    assert outbox.announce_host_changes() == 0
    Host.objects.filter(pk=host.pk).update(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    outbox.announce_host_changes()
    Host.objects.filter(pk=host.pk).update(last_heartbeat_at=timezone.now(), draining=True)
    outbox.announce_host_changes()

    assert [(e.type, e.payload["previous_status"]) for e in events()] == [
        ("host.online", None), ("host.unreachable", "online"), ("host.drained", "unreachable")]
    assert {e.project_id for e in events()} == {None}


def test_a_secret_no_key_opens_fails_the_attempt_instead_of_sending_unsigned(project: Any, settings: Any) -> None:
    from portal.webhooks import delivery as sending
    from portal.webhooks import services

    policy = WebhookPolicy.objects.create(project=project, name="lost-key", target_url="http://127.0.0.1:9/",
                                          event_types=["tag.deleted"], secret_encrypted="not-a-fernet-token")
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    services.emit("tag.deleted", project, {"repository": "events/app", "digest": "sha256:" + "0" * 64, "tag": "v1"})

    outcome = sending.deliver_next(policy.pk)

    [delivery] = WebhookDelivery.objects.filter(policy=policy)
    assert outcome.status == "failed" and delivery.status == "failed" and delivery.request_headers == {}
    assert delivery.error == ("cannot open the policy's secret or auth header: no configured encryption key opens "
                              "this value (was its key removed?)")


def test_a_finished_garbage_collection_is_announced_to_system_policies() -> None:
    from portal.storage.gc import execute
    from portal.storage.models import GCRun

    WebhookPolicy.objects.create(project=None, name="ops", target_url="http://127.0.0.1:9/", event_types=["gc.finished"])
    run = GCRun.objects.create(dry_run=True, requested_by="root")

    execute(run.pk)

    [event] = events("gc.finished")
    assert event.project is None
    assert event.payload == {"run": run.pk, "status": "succeeded", "dry_run": True, "manifests_deleted": 0,
                             "blobs_deleted": 0, "bytes_freed": 0, "errors": 0}
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_a_finished_retention_run_is_announced_to_its_projects_policies(project: Any, listening: WebhookPolicy) -> None:
    from portal.policies.models import RetentionRun
    from portal.policies.retention import execute_run

    run = RetentionRun.objects.create(project=project, dry_run=True, trigger="manual", triggered_by="mia")

    execute_run(run.pk)

    [event] = events("retention.finished")
    assert event.project == project
    assert event.payload == {"run": run.pk, "project": "events", "dry_run": True, "trigger": "manual",
                             "removed": 0, "kept": 0}
    assert WebhookDelivery.objects.filter(event=event, policy=listening).count() == 1
