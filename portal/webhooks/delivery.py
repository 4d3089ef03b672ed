"""The worker's side of webhooks: sending a policy's pending deliveries, oldest event first, with retries."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit.services import record
from portal.utilities import encryption
from portal.webhooks import payloads, sender
from portal.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookPolicy

USER_AGENT = "Berth-Webhooks/1"
REDACTED = "<redacted>"


def next_pending(policy_id: int) -> WebhookDelivery | None:
    return (WebhookDelivery.objects.filter(policy_id=policy_id, status=DeliveryStatus.PENDING)
            .order_by("event_id", "id").select_related("event").first())


def policy_of_delivery(delivery_id: int) -> int | None:
    return WebhookDelivery.objects.filter(pk=delivery_id).values_list("policy_id", flat=True).first()


def policies_of_event(event_id: int) -> list[int]:
    return list(WebhookDelivery.objects.filter(event_id=event_id, status=DeliveryStatus.PENDING)
                .order_by("policy_id").values_list("policy_id", flat=True).distinct())


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: doubling from the base, capped, with ±50 % jitter so targets
    that failed together are not retried together."""
    delay = min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1), settings.WEBHOOK_RETRY_MAX_SECONDS)
    return float(delay * random.uniform(0.5, 1.5))


def headers_for(policy: WebhookPolicy, delivery: WebhookDelivery, body: str, content_type: str) -> dict[str, str]:
    headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, "Berth-Delivery": str(delivery.pk),
               "Berth-Event": delivery.event.type, "Berth-Event-Id": str(delivery.event.uuid)}
    if policy.secret_encrypted:
        headers[payloads.SIGNATURE_HEADER] = payloads.signature(
            encryption.decrypt(policy.secret_encrypted), int(time.time()), body)
    if policy.auth_header_encrypted:
        headers["Authorization"] = encryption.decrypt(policy.auth_header_encrypted)
    return headers


@dataclass
class Outcome:
    """What one `deliver_next` did: the delivery it handled, its status, and when to look again (seconds)."""

    delivery_id: int | None
    status: str
    retry_in: float | None = None


def deliver_next(policy_id: int, *, transport: Any = None) -> Outcome:
    """Sends the policy's oldest pending delivery if it is due.

    The policy row is locked (FOR NO KEY UPDATE, which does not block the inserts of new deliveries
    that reference it) during the attempt: one delivery per policy at a time, oldest event first, so a
    target sees events in order, and a second worker skips the locked policy. A worker killed
    mid-attempt rolls back; the delivery is still pending for the next one (the receiver may then see
    it twice: `Berth-Delivery` and `Berth-Event-Id` let it tell).
    """
    with transaction.atomic():
        policy = (WebhookPolicy.objects.select_for_update(skip_locked=True, no_key=True)
                  .filter(pk=policy_id, enabled=True, paused_reason="").first())
        if policy is None:
            return Outcome(None, "skipped")
        delivery = next_pending(policy_id)
        if delivery is None:
            return Outcome(None, "idle")
        now = timezone.now()
        if delivery.next_attempt_at > now:
            return Outcome(delivery.pk, "waiting", (delivery.next_attempt_at - now).total_seconds())
        body, content_type = payloads.render(delivery.event, policy.payload_format)
        try:
            headers = headers_for(policy, delivery, body, content_type)
        except encryption.DecryptionError as exc:
            # Sending unsigned or without the auth header would be worse than not sending: the attempt fails.
            headers, sent = {}, sender.Sent(None, "", f"cannot open the policy's secret or auth header: {exc}", 0.0)
        else:
            sent = sender.send(policy.target_url, body, headers, verify_tls=policy.verify_tls, transport=transport)
        _record_attempt(policy, delivery, headers, body, sent)
    return Outcome(delivery.pk, delivery.status,
                   (delivery.next_attempt_at - timezone.now()).total_seconds()
                   if delivery.status == DeliveryStatus.PENDING else None)


def _record_attempt(policy: WebhookPolicy, delivery: WebhookDelivery, headers: dict[str, str], body: str,
                    sent: sender.Sent) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    delivery.attempt_times = [*delivery.attempt_times, delivery.last_attempt_at.isoformat()]
    delivery.request_headers = {k: (REDACTED if k == "Authorization" else v) for k, v in headers.items()}
    delivery.request_body = body
    delivery.response_status = sent.status
    delivery.response_body = sent.body
    delivery.error = sent.error or (f"the target answered {sent.status}" if sent.status and sent.status >= 300 else "")
    delivery.latency_ms = round(sent.latency_ms, 2)
    if sent.status is not None and 200 <= sent.status < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = delivery.last_attempt_at
        policy.consecutive_failures = 0
    elif delivery.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.next_attempt_at = delivery.last_attempt_at + timedelta(seconds=backoff(delivery.attempts))
    else:
        delivery.status = DeliveryStatus.FAILED
        policy.consecutive_failures += 1
        if policy.consecutive_failures >= settings.WEBHOOK_PAUSE_AFTER_FAILURES:
            policy.paused_reason = (f"paused after {policy.consecutive_failures} failed deliveries in a row; "
                                    f"the last: {delivery.error}")[:1024]
            policy.paused_at = delivery.last_attempt_at
            record(None, "pause", "webhook", policy.name, project=policy.project, actor_name="berth-webhooks",
                   detail={"reason": policy.paused_reason, "delivery": delivery.pk})
    delivery.save()
    policy.save(update_fields=["consecutive_failures", "paused_reason", "paused_at"])
