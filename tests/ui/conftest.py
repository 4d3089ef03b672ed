"""Browser fixtures: the built UI, the portal on a free loopback port, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
DIST_INDEX = FRONTEND / "dist" / "index.html"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def build_frontend() -> None:
    """`npm ci` (when node_modules is missing) and `npm run build`, or a failure that says what to do."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("the browser tests need frontend/dist: install Node.js 20 and npm, then run "
                    "`npm ci && npm run build` in frontend/")
    steps = ([[npm, "ci", "--no-audit", "--no-fund"]] if not (FRONTEND / "node_modules").is_dir() else [])
    steps.append([npm, "run", "build"])
    for step in steps:
        result = subprocess.run(step, cwd=FRONTEND, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"`{' '.join(step[1:])}` failed in frontend/ (exit {result.returncode}):\n"
                        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def frontend_dist() -> Path:
    if not DIST_INDEX.is_file():
        build_frontend()
    return DIST_INDEX.parent


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the tests still use the ORM around it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def portal_url(frontend_dist: Path, live_server: Any, settings: Any, fast_password_hashing: None) -> str:
    url = str(live_server.url)
    host = url.split("://", 1)[1]
    # Pull commands name the address clients use: here, the test server's.
    settings.EXTERNAL_URL = url
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", host.split(":")[0]]
    return url


PageOpener = Callable[..., Any]


def page_opener(browser: Any, base_url: str, contexts: list[Any]) -> PageOpener:
    """Opens a page in a fresh browser context (its own cookies), laptop-sized unless told otherwise.
    Uncaught script errors are kept in `page.js_errors` for the test to assert on."""

    def open_(viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or LAPTOP, base_url=base_url)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        return page

    return open_


@pytest.fixture
def open_page(browser: Any, portal_url: str) -> Iterator[PageOpener]:
    """Pages of the portal alone (pytest-django's live server): the index is seeded through services."""
    contexts: list[Any] = []
    yield page_opener(browser, portal_url, contexts)
    for context in contexts:
        context.close()


@pytest.fixture
def open_berth_page(browser: Any, frontend_dist: Path, berth: Any) -> Iterator[PageOpener]:
    """Pages of the whole of Berth (registry and portal in one ASGI app), for images pushed with skopeo."""
    contexts: list[Any] = []
    yield page_opener(browser, berth.url, contexts)
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Any, str], Path]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
