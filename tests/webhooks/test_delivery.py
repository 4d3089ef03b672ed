"""Deliveries by a real Celery worker to a real receiver on loopback: signed, in CloudEvents when asked,
retried while the receiver is down, failed and paused when it keeps failing, and never lost when the
enqueue after the commit is."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from django.db import transaction
from rest_framework.test import APIClient

from portal.audit.models import AuditEntry
from portal.projects.models import Project
from portal.rbac.principals import UserPrincipal
from portal.webhooks import services
from portal.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookPolicy
from tests.fixtures.registry import Berth
from tests.fleet.stack import Worker, wait_for
from tests.webhooks.receiver import Receiver, verify_signature

SECRET = "a-receiver's-shared-secret"


def api_as(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=UserPrincipal(user))
    return client


def create(client: APIClient, project: str, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    body = {"name": "ci", "target_url": receiver.url, "event_types": ["artifact.pushed"], "secret": SECRET, **fields}
    response = client.post(f"/api/v1/projects/{project}/webhooks", body, format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def deliveries(policy_id: int) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(policy_id=policy_id).order_by("id"))


def test_a_skopeo_push_is_announced_signed_in_both_formats(
        berth: Berth, webhook_worker: Worker, receiver: Receiver, registry_user: Any, make_project: Any,
        image_layouts: Any) -> None:
    user, creds = registry_user()
    make_project("hooked", members={user: "project_admin"})
    admin = api_as(user)
    default = create(admin, "hooked", receiver, name="default")
    create(admin, "hooked", receiver, name="cloudevents", payload_format="cloudevents")

    berth.push(image_layouts.single, "hooked/app:1.0", creds)

    requests = receiver.wait_for(2)
    by_format = {r.headers["Content-Type"]: r for r in requests}
    plain = by_format["application/json"]
    assert verify_signature(plain.headers["Berth-Signature"], plain.body, SECRET)
    assert not verify_signature(plain.headers["Berth-Signature"], plain.body + b" ", SECRET)
    body = plain.json()
    assert body["type"] == "PUSH_ARTIFACT"
    assert body["operator"] == user.username
    assert body["event_data"]["repository"] == {"name": "app", "namespace": "hooked", "repo_full_name": "hooked/app",
                                                "repo_type": "private"}
    [resource] = body["event_data"]["resources"]
    assert resource["tag"] == "1.0" and resource["digest"].startswith("sha256:")
    assert resource["resource_url"] == f"{berth.host}/hooked/app:1.0"

    structured = by_format["application/cloudevents+json"]
    assert verify_signature(structured.headers["Berth-Signature"], structured.body, SECRET)
    event = from_http_event(HTTPMessage(headers=structured.headers, body=structured.body))
    assert event.get_specversion() == "1.0"
    assert event.get_type() == "io.berth.artifact.pushed"
    assert event.get_subject() == "hooked/app:1.0"
    assert event.get_source().endswith("/projects/hooked")
    assert event.get_datacontenttype() == "application/json"
    assert event.get_data()["resource"]["digest"] == resource["digest"]
    wait_for(lambda: deliveries(default["id"])[0].status == DeliveryStatus.DELIVERED, 10, "the log to say delivered")
    [logged] = deliveries(default["id"])
    assert logged.attempts == 1 and logged.response_status == 200 and logged.response_body == "answered 200"
    assert logged.request_body.encode() == plain.body


def test_a_receiver_down_then_up_gets_the_event_after_retries(
        transactional_db: Any, webhook_worker: Worker, receiver: Receiver, make_user: Any, make_project: Any) -> None:
    user = make_user()
    make_project("retried", members={user: "project_admin"})
    admin = api_as(user)
    policy = create(admin, "retried", receiver)
    receiver.stop()

    assert admin.post(f"/api/v1/projects/retried/webhooks/{policy['id']}/test").status_code == 202
    wait_for(lambda: deliveries(policy["id"])[0].attempts >= 2, 20, "two failed attempts")
    receiver.start()

    [request] = receiver.wait_for(1)
    assert request.json()["type"] == "TEST"
    wait_for(lambda: deliveries(policy["id"])[0].status == DeliveryStatus.DELIVERED, 10, "the log to say delivered")
    [delivery] = deliveries(policy["id"])
    assert delivery.attempts >= 3 and len(delivery.attempt_times) == delivery.attempts
    log = admin.get(f"/api/v1/projects/retried/webhooks/{policy['id']}/deliveries").json()["results"]
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == delivery.attempts
    assert log[0]["response_status"] == 200 and log[0]["latency_ms"] > 0


def test_a_receiver_failing_forever_fails_the_deliveries_pauses_the_policy_and_redeliver_works(
        transactional_db: Any, webhook_worker: Worker, receiver: Receiver, make_user: Any, make_project: Any) -> None:
    user = make_user()
    make_project("broken", members={user: "project_admin"})
    admin = api_as(user)
    policy = create(admin, "broken", receiver)
    receiver.status = 500
    base = f"/api/v1/projects/broken/webhooks/{policy['id']}"

    admin.post(f"{base}/test")
    admin.post(f"{base}/test")
    wait_for(lambda: WebhookPolicy.objects.get(pk=policy["id"]).paused, 30, "the policy to be paused")

    first, second = deliveries(policy["id"])
    assert (first.status, first.attempts, second.status, second.attempts) == ("failed", 4, "failed", 4)
    assert first.error == "the target answered 500" and first.response_body == "answered 500"
    answer = admin.get(base).json()
    assert answer["paused"] is True
    assert answer["paused_reason"] == "paused after 2 failed deliveries in a row; the last: the target answered 500"
    assert AuditEntry.objects.filter(action="pause", resource_type="webhook", resource="ci").count() == 1
    refused = admin.post(f"{base}/test")
    assert refused.status_code == 409 and refused.json()["errors"][0]["code"] == "webhook_paused"

    receiver.status = 200
    seen = len(receiver.requests)
    assert admin.post(f"{base}/resume").json()["paused"] is False
    again = admin.post(f"{base}/deliveries/{first.pk}/redeliver")
    assert again.status_code == 202, again.content

    receiver.wait_for(seen + 1)
    wait_for(lambda: WebhookDelivery.objects.get(pk=again.json()["id"]).status == "delivered", 10, "the redelivery")
    assert WebhookDelivery.objects.get(pk=first.pk).status == "failed"
    assert WebhookDelivery.objects.get(pk=again.json()["id"]).redelivery_of_id == first.pk
    assert [e.action for e in AuditEntry.objects.filter(resource_type="webhook").order_by("id")] == [
        "create", "test", "test", "pause", "resume", "redeliver"]


def test_deliveries_reach_a_target_in_event_order(
        transactional_db: Any, webhook_worker: Worker, receiver: Receiver, make_user: Any, make_project: Any) -> None:
    user = make_user()
    make_project("ordered", members={user: "project_admin"})
    admin = api_as(user)
    policy = create(admin, "ordered", receiver)
    receiver.stop()
    for _ in range(5):
        admin.post(f"/api/v1/projects/ordered/webhooks/{policy['id']}/test")
    time.sleep(1)
    receiver.start()

    requests = receiver.wait_for(5)
    ids = [int(r.headers["Berth-Delivery"]) for r in requests]
    assert ids == sorted(ids) == [d.pk for d in deliveries(policy["id"])]


def test_the_outbox_delivers_when_the_enqueue_after_the_commit_is_lost(
        transactional_db: Any, webhook_worker: Worker, receiver: Receiver, make_user: Any, make_project: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user()
    make_project("durable", members={user: "project_admin"})
    admin = api_as(user)
    policy = create(admin, "durable", receiver)
    lost: list[list[int]] = []
    monkeypatch.setattr(services, "_enqueue", lost.append)

    admin.post(f"/api/v1/projects/durable/webhooks/{policy['id']}/test")

    [delivery] = deliveries(policy["id"])
    assert lost == [[delivery.pk]] and delivery.status == "pending"
    [request] = receiver.wait_for(1, timeout=20)  # the worker's beat sweeps every second
    assert int(request.headers["Berth-Delivery"]) == delivery.pk


def test_a_worker_killed_before_the_delivery_delivers_exactly_what_happened_after_a_restart(
        transactional_db: Any, webhook_worker: Worker, receiver: Receiver, make_user: Any, make_project: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user()
    make_project("restarted", members={user: "project_admin"})
    admin = api_as(user)
    policy = create(admin, "restarted", receiver)
    project = Project.objects.get(name="restarted")
    webhook_worker.kill()

    services.emit("artifact.pushed", project, {"repository": "restarted/a", "digest": "sha256:" + "1" * 64})
    with pytest.raises(RuntimeError), transaction.atomic():
        services.emit("artifact.pushed", project, {"repository": "restarted/b", "digest": "sha256:" + "2" * 64})
        raise RuntimeError("the change failed, so its event never happened")
    monkeypatch.setattr(services, "_enqueue_event", lambda event_id: None)
    services.emit("artifact.pushed", project, {"repository": "restarted/c", "digest": "sha256:" + "3" * 64})
    webhook_worker.start()

    requests = receiver.wait_for(2, timeout=40)
    time.sleep(2)  # a third request, if any, would come by now
    assert [r.json()["event_data"]["repository"]["repo_full_name"] for r in receiver.requests] == [
        "restarted/a", "restarted/c"]
    assert [d.status for d in deliveries(policy["id"])] == ["delivered", "delivered"]
    assert len(requests) == 2
