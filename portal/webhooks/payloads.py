"""What a target receives: the Harbor-compatible default body or a CloudEvents 1.0 structured-mode body,
and the signature header a receiver checks it with."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from portal.webhooks.models import EventType, PayloadFormat, WebhookEvent

SIGNATURE_HEADER = "Berth-Signature"
CLOUDEVENTS_TYPE_PREFIX = "io.berth."

# Harbor's names where Harbor has the event; Berth's own events follow the same shape.
HARBOR_TYPES = {
    EventType.ARTIFACT_PUSHED: "PUSH_ARTIFACT",
    EventType.ARTIFACT_PULLED: "PULL_ARTIFACT",
    EventType.ARTIFACT_DELETED: "DELETE_ARTIFACT",
    EventType.TAG_DELETED: "DELETE_TAG",
    EventType.CONTAINER_DEPLOYED: "CONTAINER_DEPLOYED",
    EventType.CONTAINER_RUNNING: "CONTAINER_RUNNING",
    EventType.CONTAINER_EXITED: "CONTAINER_EXITED",
    EventType.CONTAINER_FAILED: "CONTAINER_FAILED",
    EventType.CONTAINER_OOM_KILLED: "CONTAINER_OOM_KILLED",
    EventType.CONTAINER_UNHEALTHY: "CONTAINER_UNHEALTHY",
    EventType.HOST_ONLINE: "HOST_ONLINE",
    EventType.HOST_UNREACHABLE: "HOST_UNREACHABLE",
    EventType.HOST_DRAINED: "HOST_DRAINED",
    EventType.TEST: "TEST",
}


def _registry_host() -> str:
    return urlsplit(settings.EXTERNAL_URL).netloc


def _repository(event: WebhookEvent) -> dict[str, Any] | None:
    full_name = event.payload.get("repository")
    if not full_name:
        return None
    namespace, _, name = str(full_name).partition("/")
    return {"name": name, "namespace": namespace, "repo_full_name": full_name,
            "repo_type": "public" if event.payload.get("public") else "private"}


def _resource(event: WebhookEvent) -> dict[str, Any]:
    resource = {k: v for k, v in event.payload.items() if k not in ("repository", "public")}
    repository = event.payload.get("repository")
    if repository and event.payload.get("digest"):
        tag = event.payload.get("tag")
        reference = f":{tag}" if tag else f"@{event.payload['digest']}"
        resource["resource_url"] = f"{_registry_host()}/{repository}{reference}"
    return resource


def default_body(event: WebhookEvent) -> dict[str, Any]:
    return {
        "type": HARBOR_TYPES[EventType(event.type)],
        "occur_at": int(event.occurred_at.timestamp()),
        "operator": event.operator,
        "event_data": {"resources": [_resource(event)], "repository": _repository(event)},
    }


def cloudevent_body(event: WebhookEvent) -> dict[str, Any]:
    source = f"/projects/{event.project_name}" if event.project_name else "/system"
    return {
        "specversion": "1.0",
        "id": str(event.uuid),
        "source": f"{settings.EXTERNAL_URL.rstrip('/')}{source}",
        "type": CLOUDEVENTS_TYPE_PREFIX + event.type,
        "subject": event.subject,
        "time": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": {"operator": event.operator, "project": event.project_name or None,
                 "repository": _repository(event), "resource": _resource(event)},
    }


def render(event: WebhookEvent, payload_format: str) -> tuple[str, str]:
    """The body and its content type."""
    if payload_format == PayloadFormat.CLOUDEVENTS:
        return json.dumps(cloudevent_body(event), sort_keys=True), "application/cloudevents+json"
    return json.dumps(default_body(event), sort_keys=True), "application/json"


def signature(secret: str, timestamp: int, body: str) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp is signed too, so a receiver
    that refuses old timestamps refuses replays."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
