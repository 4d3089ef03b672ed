"""Celery tasks of webhooks: thin, idempotent, by id; the sweep makes a lost enqueue only a delay."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from portal.webhooks import delivery, outbox

# Deliveries one task sends for a policy before handing the rest to a fresh task, so one busy target
# does not hold a worker indefinitely.
BATCH = 100


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_webhook(delivery_id: int) -> dict[str, Any]:
    """Sends the pending deliveries of this delivery's policy, oldest event first, while they are due."""
    policy_id = delivery.policy_of_delivery(delivery_id)
    if policy_id is None:
        return {"status": "gone"}
    return deliver_policy(policy_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_event(event_id: int) -> dict[str, Any]:
    """Sends a new event to the policies that want it: the first here, the others by tasks of their own."""
    policies = delivery.policies_of_event(event_id)
    for policy_id in policies[1:]:
        deliver_policy.delay(policy_id)
    return deliver_policy(policies[0]) if policies else {"status": "gone"}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_policy(policy_id: int) -> dict[str, Any]:
    sent = 0
    outcome = delivery.Outcome(None, "idle")
    while sent < BATCH:
        outcome = delivery.deliver_next(policy_id)
        if outcome.status in ("idle", "skipped"):
            break
        if outcome.retry_in is not None:
            deliver_policy.apply_async((policy_id,), countdown=max(outcome.retry_in, 0.05))
            break
        sent += 1
    else:
        deliver_policy.delay(policy_id)
    return {"policy": policy_id, "sent": sent, "last": outcome.status}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_webhooks() -> dict[str, int]:
    """Beat, every few seconds: host status changes are announced, then every policy with a due
    delivery is queued, whether or not its enqueue was lost or its worker died."""
    changes = outbox.announce_host_changes()
    due = outbox.due_policies()
    for policy_id in due:
        deliver_policy.delay(policy_id)
    return {"policies": len(due), "host_changes": changes}
