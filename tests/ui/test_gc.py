"""Administration → Garbage collection in a real browser: schedule, dry run, history with its report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fixtures.portal import PASSWORD
from tests.ui.conftest import sign_in

pytestmark = pytest.mark.browser


def test_an_administrator_schedules_gc_runs_a_dry_run_and_reads_its_report(
    open_page: Callable[..., Any], make_user: Callable[..., Any], screenshot: Callable[..., Any],
) -> None:  # fmt: skip
    from portal.storage.gc import execute
    from portal.storage.models import GCRun, GCSchedule

    make_user("root", admin=True)
    page = open_page()
    sign_in(page, "root", PASSWORD)
    page.get_by_role("link", name="Garbage collection").click()
    page.get_by_role("heading", name="Garbage collection").wait_for()

    page.get_by_label("Cron expression").fill("every night")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_text("invalid cron expression 'every night': expected 5 fields (minute hour day month "
                            "weekday)")).to_be_visible()
    page.get_by_label("Cron expression").fill("0 3 * * 6")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert GCSchedule.load().cron == "0 3 * * 6"

    page.get_by_role("button", name="Dry run").click()
    runs = page.get_by_role("table", name="Garbage collection runs")
    expect(runs.get_by_text("dry run")).to_be_visible()
    run = GCRun.objects.get()
    assert (run.dry_run, run.requested_by) == (True, "root")
    execute(run.pk)  # what a worker does with it
    expect(runs.get_by_text("succeeded")).to_be_visible(timeout=10_000)
    runs.get_by_role("button", name="Report").click()
    expect(page.get_by_text("Nothing would be deleted.")).to_be_visible()
    screenshot(page, "garbage-collection")
    assert page.js_errors == []


def test_the_page_is_not_offered_to_other_users(open_page: Callable[..., Any], make_user: Callable[..., Any]) -> None:
    make_user("ana")
    page = open_page()
    sign_in(page, "ana", PASSWORD)

    expect(page.get_by_role("link", name="Garbage collection")).to_have_count(0)
    page.goto("/admin/gc")
    expect(page.get_by_text("ana may not list garbage-collection")).to_be_visible()
