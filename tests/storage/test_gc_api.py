"""/api/v1/system/gc: history, run, dry run, stop and schedule, for system administrators only, audited."""

from __future__ import annotations

from typing import Any

import pytest

from portal.audit.models import AuditEntry
from portal.storage.gc import execute
from portal.storage.models import GCRun, GCSchedule

pytestmark = pytest.mark.django_db

CALLS = [("get", "/api/v1/system/gc", None), ("post", "/api/v1/system/gc", {"dry_run": True}),
         ("post", "/api/v1/system/gc/stop", None), ("get", "/api/v1/system/gc/schedule", None),
         ("put", "/api/v1/system/gc/schedule", {"cron": "0 3 * * *"})]


@pytest.fixture(autouse=True)
def quick_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_only_administrators_use_gc(method: str, path: str, body: Any, make_user: Any, client_for: Any,
                                    anonymous: Any) -> None:
    person = make_user()

    refused = getattr(client_for(person), method)(path, body, format="json")
    unsigned = getattr(anonymous, method)(path, body, format="json")

    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"].startswith(f"{person.username} may not ")
    assert refused.json()["errors"][0]["message"].endswith(" garbage-collection")
    assert unsigned.status_code == 401
    assert not GCRun.objects.exists()
    assert GCSchedule.objects.filter(cron__gt="").count() == 0


def test_an_admin_runs_a_dry_run_and_reads_it_in_the_history(admin_user: Any, client_for: Any,
                                                              django_capture_on_commit_callbacks: Any) -> None:
    api = client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        started = api.post("/api/v1/system/gc", {"dry_run": True, "delete_untagged": True}, format="json")

    assert started.status_code == 202
    assert (started.json()["status"], started.json()["dry_run"], started.json()["delete_untagged"]) == (
        "pending", True, True)
    assert len(enqueued) == 1, "the run is handed to a worker once it is committed"
    execute(started.json()["id"])
    history = api.get("/api/v1/system/gc").json()
    assert [run["id"] for run in history["results"]] == [started.json()["id"]]
    assert (history["results"][0]["status"], history["results"][0]["requested_by"]) == ("succeeded",
                                                                                         admin_user.username)
    one = api.get(f"/api/v1/system/gc/{started.json()['id']}").json()
    assert (one["manifests_deleted"], one["blobs_deleted"], one["bytes_freed"], one["report"]) == (0, 0, 0, {})
    audit = AuditEntry.objects.filter(resource_type="gc-run").values_list("actor", "action").get()
    assert audit == (admin_user.username, "create")
    assert AuditEntry.objects.filter(resource_type="registry", action="gc", actor="gc").count() == 1


def test_stop_stops_the_waiting_run_and_says_when_there_is_none(admin_user: Any, client_for: Any,
                                                                django_capture_on_commit_callbacks: Any) -> None:
    api = client_for(admin_user)
    nothing = api.post("/api/v1/system/gc/stop")
    with django_capture_on_commit_callbacks(execute=False):
        run = api.post("/api/v1/system/gc", {}, format="json").json()

    stopped = api.post("/api/v1/system/gc/stop")

    assert (nothing.status_code, nothing.json()["errors"][0]["code"]) == (404, "gc_not_running")
    assert nothing.json()["errors"][0]["message"] == "no garbage collection is running"
    assert (stopped.status_code, stopped.json()["id"], stopped.json()["status"]) == (200, run["id"], "stopped")
    assert execute(run["id"]) is None, "a stopped run is not started"
    assert AuditEntry.objects.filter(resource_type="gc-run", action="stop").count() == 1


def test_the_schedule_is_a_cron_expression_checked_and_audited(admin_user: Any, client_for: Any) -> None:
    api = client_for(admin_user)

    bad = api.put("/api/v1/system/gc/schedule", {"cron": "every night"}, format="json")
    wrong_field = api.put("/api/v1/system/gc/schedule", {"cron": "0 3 * * *", "when": "now"}, format="json")
    good = api.put("/api/v1/system/gc/schedule", {"cron": "0  3 * * 1", "delete_untagged": True}, format="json")

    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (400, "invalid_cron")
    assert bad.json()["errors"][0]["message"] == ("invalid cron expression 'every night': expected 5 fields "
                                                  "(minute hour day month weekday)")
    assert wrong_field.status_code == 400
    assert good.status_code == 200
    assert api.get("/api/v1/system/gc/schedule").json()["cron"] == "0 3 * * 1"
    assert AuditEntry.objects.filter(resource_type="gc-schedule").values_list("detail", flat=True).get() == {
        "cron": "0 3 * * 1", "delete_untagged": True}


def test_a_due_schedule_creates_one_run(admin_user: Any, client_for: Any,
                                        django_capture_on_commit_callbacks: Any) -> None:
    from datetime import timedelta

    from portal.storage.gc import run_due

    assert client_for(admin_user).put("/api/v1/system/gc/schedule", {"cron": "* * * * *"},
                                      format="json").status_code == 200
    GCSchedule.objects.update(last_scheduled_at=GCSchedule.load().last_scheduled_at - timedelta(minutes=2))

    with django_capture_on_commit_callbacks(execute=False):
        first, second = run_due(), run_due()

    assert first is not None and second is None
    assert GCRun.objects.get().requested_by == "schedule"
