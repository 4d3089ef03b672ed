"""Webhooks in a real browser: a project admin creates one with its events, sends a test event, reads the
delivery log and redelivers; a maintainer only looks; an administrator finds the system webhooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.webhooks.models import WebhookDelivery, WebhookPolicy
from portal.webhooks.tasks import deliver_policy
from tests.fixtures.portal import PASSWORD
from tests.ui.conftest import sign_in
from tests.webhooks.receiver import Receiver, verify_signature

pytestmark = pytest.mark.browser
SECRET = "ui-typed-secret-value"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def test_a_project_admin_creates_tests_and_redelivers_a_webhook_and_a_maintainer_only_reads(
        open_page: Callable[..., Any], make_user: Callable[..., Any], make_project: Callable[..., Any],
        screenshot: Callable[..., Any], receiver: Receiver) -> None:
    owner = make_user("hook-owner")
    maintainer = make_user("hook-reader")
    make_project("hooked", members={owner: "project_admin", maintainer: "maintainer"})
    page = open_page()
    sign_in(page, "hook-owner", PASSWORD)
    page.goto("/projects/hooked")
    page.get_by_role("navigation", name="Project sections").get_by_role("link", name="Webhooks").click()

    page.get_by_role("button", name="New webhook").click()
    dialog = page.get_by_role("dialog", name="New webhook")
    expect(dialog.get_by_role("checkbox", name="host.online")).to_have_count(0)
    dialog.get_by_label("Name").fill("ci")
    dialog.get_by_label("Target URL").fill(receiver.url)
    dialog.get_by_label("Payload format").select_option("cloudevents")
    dialog.get_by_label("Secret").fill(SECRET)
    dialog.get_by_role("checkbox", name="tag.deleted").check()
    dialog.get_by_role("checkbox", name="container.oom_killed").check()
    screenshot(page, "webhook-create")
    dialog.get_by_role("button", name="Create webhook").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("row").filter(has_text="ci")
    expect(row).to_contain_text("CloudEvents · signed")
    expect(row).to_contain_text("artifact.pushed, container.oom_killed, tag.deleted")
    policy = WebhookPolicy.objects.get(name="ci")
    assert policy.payload_format == "cloudevents" and SECRET not in policy.secret_encrypted

    row.get_by_role("button", name="Send a test event to ci").click()
    expect(page.get_by_role("status")).to_have_text("A test event to ci is queued: see its deliveries.")
    deliver_policy(policy.pk)
    [request] = receiver.wait_for(1)
    assert verify_signature(request.headers["Berth-Signature"], request.body, SECRET)

    row.get_by_role("button", name="Deliveries of ci").click()
    log = page.get_by_role("dialog", name="Deliveries of ci")
    first = log.get_by_role("row").filter(has_text="test")
    expect(first).to_contain_text("delivered")
    expect(first).to_contain_text("200")
    first.get_by_role("button", name="Details").click()
    expect(log).to_contain_text('"type": "io.berth.test"')
    expect(log).to_contain_text("answered 200")
    screenshot(page, "webhook-delivery-log")
    [delivery] = WebhookDelivery.objects.all()
    log.get_by_role("button", name=f"Redeliver delivery {delivery.pk}").click()
    expect(log.get_by_role("row").filter(has_text="pending")).to_have_count(1)
    deliver_policy(policy.pk)
    receiver.wait_for(2)
    # The log refreshes itself while a delivery is pending.
    expect(log.get_by_role("row").filter(has_text="delivered")).to_have_count(2, timeout=10000)
    assert SECRET not in page.content()
    assert page.js_errors == []

    reader = open_page()
    sign_in(reader, "hook-reader", PASSWORD)
    reader.goto("/projects/hooked/webhooks")
    reader_row = reader.get_by_role("row").filter(has_text="ci")
    expect(reader_row).to_contain_text("Enabled")
    expect(reader.get_by_role("button", name="New webhook")).to_have_count(0)
    expect(reader_row.get_by_role("button", name="Send a test event to ci")).to_have_count(0)
    reader_row.get_by_role("button", name="Deliveries of ci").click()
    reader_log = reader.get_by_role("dialog", name="Deliveries of ci")
    expect(reader_log.get_by_role("row").filter(has_text="delivered")).to_have_count(2)
    expect(reader_log.get_by_role("button", name="Redeliver", exact=False)).to_have_count(0)


def test_an_administrator_manages_system_webhooks_with_host_events(
        open_page: Callable[..., Any], make_user: Callable[..., Any], receiver: Receiver) -> None:
    make_user("hook-root", admin=True)
    page = open_page()
    sign_in(page, "hook-root", PASSWORD)

    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="System webhooks")).to_be_visible()
    page.get_by_role("button", name="Create a webhook").click()
    dialog = page.get_by_role("dialog", name="New webhook")
    dialog.get_by_label("Name").fill("fleet")
    dialog.get_by_label("Target URL").fill(receiver.url)
    dialog.get_by_role("checkbox", name="host.unreachable").check()
    dialog.get_by_role("button", name="Create webhook").click()

    expect(page.get_by_role("row").filter(has_text="fleet")).to_contain_text("artifact.pushed, host.unreachable")
    assert WebhookPolicy.objects.get(name="fleet").project is None
    assert page.js_errors == []
