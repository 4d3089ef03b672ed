"""A project's storage quota in a real browser: the bar in the project's header, the warning from 80 %."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from portal.projects.models import Member, Project
from tests.fixtures.portal import PASSWORD
from tests.ui.conftest import sign_in
from tests.ui.seed import seed_image

pytestmark = pytest.mark.browser


def test_the_project_header_shows_usage_against_the_quota_and_warns_when_nearly_full(
    open_page: Callable[..., Any], make_user: Callable[..., Any], screenshot: Callable[..., Any],
) -> None:  # fmt: skip
    from portal.storage.services import project_usage

    owner = make_user("hana")
    roomy, tight = Project.objects.create(name="roomy"), Project.objects.create(name="tight")
    for project in (roomy, tight):
        Member.objects.create(project=project, user=owner, role="developer")
        seed_image(owner, f"{project.name}/app", ["v1"])
    usage = project_usage(tight.pk)
    Project.objects.filter(pk=roomy.pk).update(storage_limit=usage * 10)
    Project.objects.filter(pk=tight.pk).update(storage_limit=usage * 10 // 9)
    page = open_page()
    sign_in(page, "hana", PASSWORD)

    page.goto("/projects/roomy")
    expect(page.get_by_role("meter", name="Storage quota used")).to_have_attribute("aria-valuenow", "10")
    expect(page.get_by_text("nearly full")).to_have_count(0)
    page.goto("/projects/tight")
    expect(page.get_by_role("meter", name="Storage quota used")).to_have_attribute("aria-valuenow", "90")
    # The repositories list below has a status of its own while it loads: the quota bar's is the one that warns.
    expect(page.get_by_role("status").filter(has_text="nearly full")).to_contain_text(
        "nearly full: pushes that need more than")
    screenshot(page, "project-quota")
    assert page.js_errors == []
