"""The team workflows in a real browser: sign in, projects, members, robots, images, tags, permissions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.artifacts.models import Tag
from portal.fleet.models import Container, Host
from portal.projects.models import Member, Project
from portal.robots.models import Robot
from tests.fixtures.portal import PASSWORD
from tests.ui.conftest import PHONE, sign_in
from tests.ui.seed import seed_artifact, seed_fleet, seed_image

pytestmark = pytest.mark.browser


def test_wrong_password_is_refused_with_the_reason(open_page: Callable[..., Any], make_user: Callable[..., Any],
                                                   screenshot: Callable[..., Any]) -> None:
    make_user("alice")
    page = open_page()
    # /projects shows public projects to anyone; its "Sign in" button comes back to it.
    page.goto("/projects")
    page.get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fprojects$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid")
    screenshot(page, "sign-in-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Back where the person was going before signing in.
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/projects$"))
    assert page.js_errors == []


def test_team_workflow_from_project_to_tag_deletion(open_page: Callable[..., Any], make_user: Callable[..., Any],
                                                    screenshot: Callable[..., Any], portal_url: str) -> None:
    admin = make_user("root", admin=True)
    make_user("dana")
    page = open_page()
    sign_in(page, "root", PASSWORD)
    screenshot(page, "dashboard-empty")

    # Create a project; the name rules are shown and enforced while typing.
    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog", name="New project")
    dialog.get_by_label("Name").fill("Web")
    expect(dialog.get_by_text("Use lowercase letters only.")).to_be_visible()
    expect(dialog.get_by_role("button", name="Create project")).to_be_disabled()
    dialog.get_by_label("Name").fill("web")
    dialog.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="web", exact=True)).to_be_visible()
    assert Project.objects.filter(name="web").exists()
    expect(page.get_by_role("heading", name="No repositories yet")).to_be_visible()
    tabs = page.get_by_role("navigation", name="Project sections")

    # Add a member by username with a role.
    tabs.get_by_role("link", name="Members").click()
    page.get_by_role("button", name="Add member").click()
    dialog = page.get_by_role("dialog", name="Add a member")
    dialog.get_by_label("Username").fill("dana")
    dialog.get_by_label("Role").select_option("developer")
    dialog.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("cell", name="dana", exact=True)).to_be_visible()
    assert Member.objects.get(project__name="web", user__username="dana").role == "developer"
    screenshot(page, "project-members")

    # Create a robot: its secret is shown once, with a copy button.
    tabs.get_by_role("link", name="Robot accounts").click()
    page.get_by_role("button", name="New robot account").click()
    dialog = page.get_by_role("dialog", name="New robot account")
    dialog.get_by_label("Name", exact=True).fill("ci")
    dialog.get_by_role("button", name="Push and pull (CI)").click()
    dialog.get_by_role("button", name="Create robot account").click()
    created = page.get_by_role("dialog", name="Robot account created")
    secret = created.get_by_test_id("secret").inner_text()
    assert len(secret) >= 20
    expect(created.get_by_text("robot$web+ci", exact=True)).to_be_visible()
    screenshot(page, "robot-secret-once")
    created.get_by_role("button", name="Copy secret").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    created.get_by_role("button", name="Done").click()
    expect(page.get_by_role("cell", name="robot$web+ci", exact=True)).to_be_visible()
    expect(page.get_by_text(secret)).to_have_count(0)
    robot = Robot.objects.get(project__name="web", name="ci")
    assert {(p.resource, p.action) for p in robot.permissions.all()} >= {("repository", "pull"), ("repository", "push")}

    # An image pushed into the project appears with its tags, layers and pull command.
    seed_image(admin, "web/app", ["v1", "latest"])
    tabs.get_by_role("link", name="Repositories").click()
    page.get_by_role("link", name="web/app").click()
    expect(page.get_by_role("heading", name="web/app")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="latest")
    expect(row.get_by_text("v1", exact=True)).to_be_visible()
    expect(row.get_by_text("linux/amd64")).to_be_visible()
    screenshot(page, "repository")
    row.get_by_role("button", name=re.compile("Copy pull command")).click()
    host = portal_url.split("://", 1)[1]
    assert page.evaluate("navigator.clipboard.readText()") == f"docker pull {host}/web/app:latest"

    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Layers (2)")).to_be_visible()
    expect(page.get_by_text("RUN apk add --no-cache curl")).to_be_visible()
    expect(page.get_by_text('["/bin/app"]')).to_be_visible()
    expect(page.get_by_text("8080/tcp")).to_be_visible()
    expect(page.get_by_test_id("pull-command")).to_have_text(f"docker pull {host}/web/app:latest")
    page.get_by_role("button", name="podman").click()
    expect(page.get_by_test_id("pull-command")).to_have_text(f"podman pull {host}/web/app:latest")
    screenshot(page, "artifact")

    # Delete a tag, with confirmation; the artifact and its other tag stay.
    page.go_back()
    page.get_by_role("button", name="Delete tag v1").click()
    confirm = page.get_by_role("dialog", name="Delete tag v1?")
    confirm.get_by_role("button", name="Delete tag").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_role("button", name="Delete tag v1")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete tag latest")).to_be_visible()
    assert sorted(Tag.objects.filter(repository__name="web/app").values_list("name", flat=True)) == ["latest"]

    # The API refuses to delete a project that still holds repositories; the dialog says why.
    page.goto("/projects/web/settings")
    page.get_by_role("button", name="Delete project").click()
    confirm = page.get_by_role("dialog", name="Delete project web?")
    confirm.get_by_label(re.compile("to confirm")).fill("web")
    confirm.get_by_role("button", name="Delete project").click()
    expect(confirm.get_by_role("alert")).to_have_text("project 'web' still holds 1 repository; delete them first")
    screenshot(page, "project-delete-refused")
    assert Project.objects.filter(name="web").exists()
    assert page.js_errors == []


def test_a_guest_sees_no_delete_or_management_controls(open_page: Callable[..., Any], make_user: Callable[..., Any],
                                                       make_project: Callable[..., Any],
                                                       screenshot: Callable[..., Any]) -> None:
    owner = make_user("owner")
    guest = make_user("gus")
    make_project("shop", members={owner: "project_admin", guest: "guest"})
    seed_image(owner, "shop/api", ["1.0"])
    Host.objects.create(name="node-1", address="http://127.0.0.1:1", public_key="a" * 43,
                        facts={"cpus": 4, "memory_bytes": 8 * 2**30}, last_heartbeat_at=timezone.now())

    # The owner runs the image with a secret: the run dialog takes it, and no page shows it again.
    deployer = open_page()
    sign_in(deployer, "owner", PASSWORD)
    deployer.goto("/projects/shop/repositories/api")
    deployer.get_by_role("row").filter(has_text="1.0").get_by_role("link").first.click()
    deployer.get_by_role("button", name="Run on a host").click()
    dialog = deployer.get_by_role("dialog", name="Run a container")
    dialog.get_by_label("Container name").fill("api-1")
    dialog.get_by_label("Environment", exact=True).fill("MODE=prod")
    dialog.get_by_label("Secret environment").fill("DB_PASSWORD=hunter2-in-the-ui")
    dialog.get_by_role("button", name="Run").click()
    expect(dialog).to_be_hidden()
    assert "hunter2" not in str(Container.objects.values_list("spec", "secret_env").get(name="api-1"))
    deployer.goto("/projects/shop/containers")
    deployer.get_by_role("button", name="Environment of api-1").click()
    shown = deployer.get_by_role("dialog", name="Environment of api-1").get_by_test_id("environment")
    expect(shown).to_contain_text("MODE")
    expect(shown).to_contain_text("prod")
    expect(shown).to_contain_text("DB_PASSWORD")
    expect(shown).to_contain_text("secret, not shown")
    screenshot(deployer, "container-environment")
    assert "hunter2" not in deployer.content()

    page = open_page()
    sign_in(page, "gus", PASSWORD)
    # A guest may not deploy, so sees the variables' names and no value.
    page.goto("/projects/shop/containers")
    page.get_by_role("button", name="Environment of api-1").click()
    hidden = page.get_by_role("dialog", name="Environment of api-1")
    expect(hidden.get_by_test_id("environment")).to_contain_text("DB_PASSWORD")
    expect(hidden.get_by_text("hidden", exact=True)).to_be_visible()
    expect(hidden.get_by_text("Values are shown to those who may deploy in this project.")).to_be_visible()
    assert "prod" not in hidden.inner_text() and "hunter2" not in page.content()
    hidden.get_by_role("button", name="Close").click()
    page.goto("/projects/shop/repositories/api")
    expect(page.get_by_role("row").filter(has_text="1.0")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Copy pull command"))).to_have_count(1)
    screenshot(page, "repository-as-guest")
    page.goto("/projects/shop/members")
    expect(page.get_by_role("cell", name="owner", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Add member")).to_have_count(0)
    expect(page.get_by_role("combobox", name=re.compile("Role of"))).to_have_count(0)
    tabs = page.get_by_role("navigation", name="Project sections")
    expect(tabs.get_by_role("link", name="Members")).to_be_visible()
    expect(tabs.get_by_role("link", name="Settings")).to_have_count(0)
    # Administration is not offered to people who are not administrators.
    expect(page.get_by_role("heading", name="Administration")).to_have_count(0)
    assert Tag.objects.filter(repository__name="shop/api").count() == 1
    assert page.js_errors == [] and deployer.js_errors == []


def test_main_pages_on_a_laptop_and_a_phone(open_page: Callable[..., Any], make_user: Callable[..., Any],
                                            make_project: Callable[..., Any],
                                            screenshot: Callable[..., Any]) -> None:
    admin = make_user("root", admin=True)
    for name in ("alpha", "beta", "gamma"):
        make_project(name, members={admin: "project_admin"})
    seed_image(admin, "alpha/frontend", ["1.0", "1.1", "latest"], salt="a")
    seed_image(admin, "beta/worker", ["2024"], salt="b")
    seed_fleet(Project.objects.get(name="alpha"))
    page = open_page()
    sign_in(page, "root", PASSWORD)
    expect(page.get_by_role("img", name="Storage per project")).to_be_visible()
    expect(page.get_by_role("img", name="Pushes and pulls per day")).to_be_visible()
    screenshot(page, "dashboard")
    search = page.get_by_role("combobox", name="Search projects and repositories")
    search.fill("front")
    expect(page.get_by_role("option", name="repository alpha/frontend")).to_be_visible()
    screenshot(page, "search")
    search.press("Enter")
    expect(page.get_by_role("heading", name="alpha/frontend")).to_be_visible()
    for path, heading, name in [
        ("/projects", "Projects", "projects"),
        ("/projects/alpha/repositories", "alpha", "project-repositories"),
        ("/projects/alpha/logs", "alpha", "project-audit-log"),
        ("/projects/alpha/containers", "alpha", "project-containers"),
        ("/admin/hosts", "Hosts", "admin-hosts"),
        ("/projects/alpha/settings", "alpha", "project-settings"),
        ("/account/tokens", "Personal tokens", "tokens"),
        ("/admin/users", "Users", "admin-users"),
        ("/admin/robots", "System robot accounts", "admin-robots"),
        ("/admin/settings", "Settings", "admin-settings"),
        ("/admin/health", "System health", "admin-health"),
        ("/admin/audit", "Audit log", "admin-audit-log"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.get_by_role("status")).to_have_count(0)  # loaded, not spinning
        screenshot(page, name)

    phone = open_page(PHONE)
    sign_in(phone, "root", PASSWORD)
    phone.goto("/projects/alpha/repositories/frontend")
    expect(phone.get_by_role("heading", name="alpha/frontend")).to_be_visible()
    expect(phone.get_by_role("row").filter(has_text="latest")).to_be_visible()
    screenshot(phone, "phone-repository")
    # Wide tables scroll inside their frame; the page itself never scrolls sideways on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(phone.get_by_role("navigation", name="Main")).not_to_be_in_viewport()
    phone.get_by_role("button", name="Menu").click()
    main_nav = phone.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="Projects")).to_be_in_viewport()
    screenshot(phone, "phone-navigation")
    main_nav.get_by_role("link", name="Projects").click()
    expect(phone.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(phone.get_by_role("link", name="alpha", exact=True)).to_be_visible()  # the rows, not the spinner
    screenshot(phone, "phone-projects")
    assert page.js_errors == [] and phone.js_errors == []


def test_an_image_pushed_with_skopeo_appears_with_its_tags_and_layers(
        open_berth_page: Callable[..., Any], berth: Any, registry_user: Callable[..., Any],
        make_project: Callable[..., Any], tmp_path: Any, screenshot: Callable[..., Any]) -> None:
    from tests.support.images import build_multilayer_layout

    developer, credentials = registry_user(username="devon")
    make_project("team", members={developer: "maintainer"})
    layout = build_multilayer_layout(tmp_path / "layout", config={"Cmd": ["/bin/sh"], "ExposedPorts": {"80/tcp": {}}})
    berth.push(layout, "team/tools:1.0", credentials)
    berth.push(layout, "team/tools:stable", credentials)

    page = open_berth_page()
    sign_in(page, "devon", PASSWORD)
    page.get_by_role("link", name="Projects", exact=True).first.click()
    page.get_by_role("link", name="team", exact=True).click()
    page.get_by_role("link", name="team/tools").click()
    row = page.get_by_role("row").filter(has_text="stable")
    expect(row.get_by_text("1.0", exact=True)).to_be_visible()
    screenshot(page, "repository-pushed-with-skopeo")
    row.get_by_role("button", name=re.compile("Copy pull command")).click()
    command = page.evaluate("navigator.clipboard.readText()")
    assert command == f"docker pull {berth.host}/team/tools:stable"
    # The copied reference really pulls.
    berth.pull(command.split(f"{berth.host}/", 1)[1], tmp_path / "pulled", credentials)

    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Layers (3)")).to_be_visible()
    expect(page.get_by_text("80/tcp")).to_be_visible()
    expect(page.get_by_text('["/bin/sh"]')).to_be_visible()
    screenshot(page, "artifact-pushed-with-skopeo")
    assert page.js_errors == []


def test_artifacts_show_their_kind_accessories_sit_under_their_subject_and_only_images_run(
        open_page: Callable[..., Any], make_user: Callable[..., Any], make_project: Callable[..., Any],
        screenshot: Callable[..., Any]) -> None:
    owner = make_user("owner")
    make_project("shop", members={owner: "project_admin"})
    image = seed_image(owner, "shop/api", ["1.0"])
    empty = "application/vnd.oci.empty.v1+json"
    signature = seed_artifact(owner, "shop/api", "sig", config_type=empty, subject=image,
                              layer_type="application/vnd.dev.cosign.simplesigning.v1+json",
                              artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json")
    seed_artifact(owner, "shop/api", "sbom", config_type=empty, layer_type="application/spdx+json",
                  artifact_type="application/spdx+json", subject=image)
    seed_artifact(owner, "shop/api", "chart-0.1.0", config_type="application/vnd.cncf.helm.config.v1+json",
                  layer_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip")

    page = open_page()
    sign_in(page, "owner", PASSWORD)
    page.goto("/projects/shop/repositories/api")
    # The signature and the SBOM are not listed on their own: they are counted under the image.
    expect(page.get_by_role("row")).to_have_count(3)
    image_row = page.get_by_role("row").filter(has=page.get_by_text("1.0", exact=True))
    expect(image_row.get_by_text("image", exact=True)).to_be_visible()
    expect(image_row.get_by_label("Accessories")).to_have_text("1 signature · 1 SBOM")
    chart_row = page.get_by_role("row").filter(has_text="chart-0.1.0")
    expect(chart_row.get_by_text("Helm chart", exact=True)).to_be_visible()
    screenshot(page, "repository-artifact-kinds")

    image_row.get_by_role("link").first.click()
    accessories = page.get_by_role("region", name="Accessories (2)")
    expect(accessories.get_by_role("row")).to_have_count(3)
    expect(accessories.get_by_role("row").filter(has_text="application/vnd.dev.cosign.artifact.sig.v1+json")
           .get_by_text("signature", exact=True)).to_be_visible()
    expect(accessories.get_by_role("row").filter(has_text="application/spdx+json")
           .get_by_text("SBOM", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Run on a host")).to_be_visible()
    screenshot(page, "artifact-accessories")

    accessories.get_by_role("link", name=signature.digest.removeprefix("sha256:")[:12]).click()
    expect(page.get_by_role("link", name=image.digest.removeprefix("sha256:")[:12])).to_be_visible()
    expect(page.get_by_role("heading", name="Where it runs")).to_have_count(0)

    page.goto("/projects/shop/repositories/api/artifacts/chart-0.1.0")
    summary = page.get_by_role("region", name="Summary")
    expect(summary.get_by_text("Helm chart", exact=True)).to_be_visible()
    expect(summary.get_by_test_id("pull-command")).to_have_text(
        re.compile(r"^helm pull oci://[^ ]+/shop/api --version chart-0\.1\.0$"))
    expect(summary.get_by_role("group", name="Client")).to_have_count(0)
    expect(page.get_by_role("heading", name="Configuration")).to_have_count(0)
    expect(page.get_by_role("button", name="Run on a host")).to_have_count(0)
    assert page.js_errors == []


def test_an_anonymous_visitor_reads_public_projects_and_signs_in_for_private_ones(
        open_page: Callable[..., Any], make_user: Callable[..., Any], make_project: Callable[..., Any],
        screenshot: Callable[..., Any], portal_url: str) -> None:
    owner = make_user("owner")
    make_project("open", public=True, members={owner: "project_admin"})
    make_project("hidden", members={owner: "project_admin"})
    seed_image(owner, "open/site", ["2.0"])
    seed_image(owner, "hidden/app", ["1.0"], salt="h")
    page = open_page()

    # The front door is the sign-in page, which offers the public projects.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_role("link", name="Browse public projects").click()
    expect(page.get_by_role("heading", name="Public projects")).to_be_visible()
    expect(page.get_by_role("link", name="open", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="hidden", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="New project")).to_have_count(0)
    screenshot(page, "anonymous-projects")

    page.get_by_role("link", name="open", exact=True).click()
    page.get_by_role("link", name="open/site").click()
    row = page.get_by_role("row").filter(has_text="2.0")
    expect(row).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Delete"))).to_have_count(0)
    row.get_by_role("button", name=re.compile("Copy pull command")).click()
    host = portal_url.split("://", 1)[1]
    assert page.evaluate("navigator.clipboard.readText()") == f"docker pull {host}/open/site:2.0"
    sign_in_link = page.get_by_role("link", name="Sign in")
    expect(sign_in_link).to_have_attribute("href", "/login?next=%2Fprojects%2Fopen%2Frepositories%2Fsite")
    screenshot(page, "anonymous-repository")

    row.get_by_role("link").first.click()
    expect(page.get_by_test_id("pull-command")).to_have_text(f"docker pull {host}/open/site:2.0")
    expect(page.get_by_role("button", name=re.compile("^(Run|Delete)"))).to_have_count(0)

    phone = open_page(PHONE)
    phone.goto("/projects/open/repositories/site")
    expect(phone.get_by_role("row").filter(has_text="2.0")).to_be_visible()
    expect(phone.get_by_role("link", name="Sign in")).to_be_in_viewport()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "phone-anonymous-repository")

    # A private project answers "not found" to strangers; the visitor signs in and lands on it.
    page.goto("/projects/hidden/repositories/app")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fprojects%2Fhidden%2Frepositories%2Fapp$"))
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin%2Fusers$"))
    page.goto("/projects/hidden")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fprojects%2Fhidden$"))
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="hidden/app")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_have_count(0)
    assert page.js_errors == [] and phone.js_errors == []


def test_a_user_edits_their_own_profile(open_page: Callable[..., Any], make_user: Callable[..., Any],
                                        screenshot: Callable[..., Any]) -> None:
    from portal.accounts.models import User

    make_user("fran", email="fran@example.org")
    make_user("eve", email="eve@example.org")
    page = open_page()
    sign_in(page, "fran", PASSWORD)
    page.get_by_role("button", name=re.compile("fran")).click()
    page.get_by_role("menuitem", name="Profile").click()
    expect(page.get_by_role("heading", name="Profile", exact=True)).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_value("fran@example.org")

    # An address another account uses is refused, with the reason beside the field; nothing is saved.
    page.get_by_label("Display name").fill("Fran Kline")
    page.get_by_label("E-mail address").fill("EVE@example.org")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator(".field-error")).to_have_text("already in use")
    screenshot(page, "profile-refused")
    fran = User.objects.get(username="fran")
    assert (fran.display_name, fran.email) == ("", "fran@example.org")

    page.get_by_label("E-mail address").fill("fran.kline@example.org")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Your profile has been saved.")
    # The top bar greets the person by the new name without a reload.
    expect(page.get_by_role("button", name=re.compile("Fran Kline"))).to_be_visible()
    fran.refresh_from_db()
    assert (fran.display_name, fran.email) == ("Fran Kline", "fran.kline@example.org")
    screenshot(page, "profile")
    assert page.js_errors == []


def test_only_an_administrator_allows_host_binds_in_project_settings(
    open_page: Callable[..., Any], make_user: Callable[..., Any], screenshot: Callable[..., Any],
) -> None:  # fmt: skip
    from portal.audit.models import AuditEntry

    owner = make_user("hana")
    make_user("root", admin=True)
    project = Project.objects.create(name="binds")
    Member.objects.create(project=project, user=owner, role="project_admin")
    toggle = re.compile("^Host binds")

    page = open_page()
    sign_in(page, "hana", PASSWORD)
    page.goto("/projects/binds/settings")
    expect(page.get_by_label(toggle)).not_to_be_checked()
    expect(page.get_by_label(toggle)).to_be_disabled()
    assert page.js_errors == []

    admin_page = open_page()
    sign_in(admin_page, "root", PASSWORD)
    admin_page.goto("/projects/binds/settings")
    # The box shows the project the API answered with, so it turns checked once the change is saved.
    admin_page.get_by_label(toggle).click()
    expect(admin_page.get_by_role("status")).to_have_text("Saved.")
    expect(admin_page.get_by_label(toggle)).to_be_checked()
    screenshot(admin_page, "project-host-binds")
    project.refresh_from_db()
    assert project.allow_host_binds is True
    assert AuditEntry.objects.filter(resource_type="project", resource="binds", actor="root",
                                     detail={"allow_host_binds": True}).exists()
    assert admin_page.js_errors == []


def test_a_user_creates_a_token_with_chosen_scopes(open_page: Callable[..., Any], make_user: Callable[..., Any],
                                                   screenshot: Callable[..., Any], portal_url: str) -> None:
    import httpx

    from portal.accounts.models import PersonalToken

    make_user("gil")
    page = open_page()
    sign_in(page, "gil", PASSWORD)
    page.goto("/account/tokens")
    page.get_by_role("button", name="New token").click()
    dialog = page.get_by_role("dialog", name="New personal token")
    dialog.get_by_label("Name").fill("ci")
    # docker login's scope comes ticked; this one reads the API too, and mints no credentials.
    expect(dialog.get_by_role("checkbox", name=re.compile("registry:write"))).to_be_checked()
    expect(dialog.get_by_role("checkbox", name=re.compile("api:credentials"))).not_to_be_checked()
    dialog.get_by_role("checkbox", name=re.compile("api:read")).check()
    screenshot(page, "token-scopes")
    dialog.get_by_role("button", name="Create token").click()
    done = page.get_by_role("dialog", name="Token created")
    secret = done.get_by_test_id("secret").inner_text()
    done.get_by_role("button", name="Done").click()

    row = page.get_by_role("row", name=re.compile("^ci"))
    expect(row.get_by_text("api:read", exact=True)).to_be_visible()
    expect(row.get_by_text("registry:write", exact=True)).to_be_visible()
    assert PersonalToken.objects.get(name="ci").scopes == ["api:read", "registry:write"]
    api = httpx.Client(base_url=portal_url, headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/api/v1/users/current").status_code == 200
    refused = api.patch("/api/v1/users/current", json={"display_name": "x"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "insufficient_scope"
    assert page.js_errors == []
