"""Tag policies in a real browser: an immutability rule, a retention dry-run preview, a tag's history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.policies.models import ImmutabilityRule, RetentionRule, RetentionRun
from portal.projects.models import Member, Project
from tests.fixtures.portal import PASSWORD
from tests.ui.conftest import sign_in
from tests.ui.seed import seed_image

pytestmark = pytest.mark.browser


def test_a_maintainer_sets_policies_previews_retention_and_reads_a_tags_history(
    open_page: Callable[..., Any], make_user: Callable[..., Any], screenshot: Callable[..., Any], settings: Any,
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    maintainer = make_user("mia")
    project = Project.objects.create(name="shop")
    Member.objects.create(project=project, user=maintainer, role="maintainer")
    seed_image(maintainer, "shop/web", ["v1", "v2", "old"], salt="a")
    seed_image(maintainer, "shop/web", ["v2"], salt="b")  # moves v2: a history entry
    page = open_page()
    sign_in(page, "mia", PASSWORD)
    page.goto("/projects/shop/policies")

    page.get_by_label("Immutable tag patterns").fill("v1")
    page.get_by_role("button", name="Add rule").first.click()
    expect(page.get_by_role("table", name="Immutability rules")).to_contain_text("v1")
    assert list(ImmutabilityRule.objects.values_list("tags", flat=True)) == [["v1"]]

    page.get_by_role("button", name="Add rule").last.click()
    rule = page.get_by_role("group", name="Rule 1")
    rule.get_by_label("Tags").fill("v*")
    rule.get_by_label("Count").fill("1")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    assert RetentionRule.objects.get().tags == ["v*"]
    page.get_by_role("button", name="Dry run").click()
    preview = page.get_by_role("table", name="Dry run preview")
    expect(preview.get_by_role("row", name="shop/web old removed")).to_be_visible()
    expect(preview.get_by_role("row", name='shop/web v1 kept: tag v1 of shop/web is immutable (rule "v1")')).to_be_visible()
    expect(page.get_by_role("table", name="Retention runs")).to_contain_text("(dry run)")
    assert RetentionRun.objects.get().status == "succeeded"
    screenshot(page, "project-policies")

    page.goto("/projects/shop/repositories/web")
    page.get_by_label("Tag", exact=True).fill("v2")
    page.get_by_role("button", name="Show history").click()
    history = page.get_by_role("table", name="History of v2")
    expect(history.get_by_role("cell", name="moved")).to_be_visible()
    expect(history.get_by_role("button", name="Restore")).to_be_visible()
    screenshot(page, "tag-history")
    assert page.js_errors == []


def test_a_developer_sees_no_policies_tab(open_page: Callable[..., Any], make_user: Callable[..., Any]) -> None:
    developer = make_user("dev")
    project = Project.objects.create(name="shop")
    Member.objects.create(project=project, user=developer, role="developer")
    page = open_page()
    sign_in(page, "dev", PASSWORD)
    page.goto("/projects/shop/repositories")

    tabs = page.get_by_role("navigation", name="Project sections")
    expect(tabs.get_by_role("link", name="Repositories")).to_be_visible()
    expect(tabs.get_by_role("link", name="Policies")).to_have_count(0)
