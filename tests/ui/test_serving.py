"""portal.ui serves the built SPA: its shell for UI addresses, hashed assets, and nothing that hides API errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ASSET = "assets/index-abc123.js"


@pytest.fixture
def dist(tmp_path: Path, settings: Any) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Berth</title><div id=root></div>")
    (tmp_path / ASSET).write_text("console.log('berth')")
    settings.FRONTEND_DIST = tmp_path
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/projects", "/projects/web/repositories/team%2Fapp", "/admin/users"])
def test_ui_addresses_get_the_shell_with_a_csrf_cookie(dist: Path, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b'<div id=root>' in response.content
    assert response["Cache-Control"] == "no-cache"
    assert "berth_csrftoken" in response.cookies


def test_hashed_assets_are_served_to_be_cached_for_a_year(dist: Path) -> None:
    response = Client().get(f"/{ASSET}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"console.log('berth')"  # type: ignore[attr-defined]
    assert response["Content-Type"] in ("text/javascript", "application/javascript")
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/assets/missing.js", "/assets/../index.html", "/assets/%2e%2e/index.html"])
def test_missing_or_escaping_assets_are_not_found(dist: Path, path: str) -> None:
    assert Client().get(path).status_code == 404


@pytest.mark.django_db
def test_unknown_api_paths_stay_json_errors_not_the_shell(dist: Path) -> None:
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert b"<div id=root>" not in response.content


def test_writes_to_ui_addresses_are_refused(dist: Path) -> None:
    assert Client().post("/projects").status_code == 405


def test_an_unbuilt_ui_says_how_to_build_it(tmp_path: Path, settings: Any) -> None:
    settings.FRONTEND_DIST = tmp_path / "missing"
    response = Client().get("/projects")
    assert response.status_code == 503
    assert b"npm ci && npm run build" in response.content
