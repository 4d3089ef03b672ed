"""What Berth keeps on disk and in its session table is no one else's to read: var/ 0700, its files 0600, and
session keys stored only as hashes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.fixtures.portal import PASSWORD

ROOT = Path(__file__).resolve().parents[2]

# A fresh process with a development set-up of its own: settings, the SQLite database (written), the registry's signing key and distribution's config and htpasswd.
SET_UP = """
import django
django.setup()
from django.conf import settings
from django.db import connection
from portal.registry.distribution import DistributionSetup
from portal.registry.tokens import KeyRing
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (x int)")
    cursor.execute("INSERT INTO probe VALUES (1)")
KeyRing(settings.REGISTRY_KEY_DIR).rotate()
DistributionSetup.from_settings().write()
"""


def _modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _set_up(var: Path) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("BERTH_")}
    environment |= {"BERTH_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    # The umask most systems give their users: what would make new files readable by everyone.
    result = subprocess.run([sys.executable, "-c", f"import os; os.umask(0o022)\n{SET_UP}"], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_a_new_var_directory_and_everything_in_it_are_private(tmp_path: Path) -> None:
    var = tmp_path / "var"

    _set_up(var)

    modes = _modes(var)
    # SQLite's -wal and -shm files take the database file's mode, and are gone once the last connection closes.
    expected = {"secret_key", "encryption_key", "registry_password", "registry_http_secret", "berth.sqlite3",
                "registry.htpasswd", "registry-config.yml", "registry_keys"}
    assert expected <= set(modes)
    assert {name: mode for name, mode in modes.items() if (var / name).is_dir() and mode != 0o700} == {}
    assert {name: mode for name, mode in modes.items() if (var / name).is_file() and mode != 0o600} == {}


def test_an_existing_var_directory_made_readable_by_an_older_berth_is_narrowed(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "berth.sqlite3").touch()
    (var / "berth.sqlite3").chmod(0o644)

    _set_up(var)

    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "berth.sqlite3").stat().st_mode) == 0o600


@pytest.mark.django_db
def test_the_session_table_holds_only_hashes_of_session_keys(make_user) -> None:
    from django.contrib.sessions.models import Session

    from portal.accounts.sessions import stored_key

    person = make_user()
    browser = APIClient()

    signed_in = browser.post("/api/v1/auth/login", {"username": person.username, "password": PASSWORD},
                             format="json")
    cookie = browser.cookies["berth_session"].value

    assert signed_in.status_code == 200, signed_in.content
    assert browser.get("/api/v1/users/current").json()["username"] == person.username
    assert list(Session.objects.values_list("session_key", flat=True)) == [stored_key(cookie)]
    assert not Session.objects.filter(session_key=cookie).exists()


@pytest.mark.django_db
def test_a_stored_key_presented_as_a_cookie_signs_no_one_in(make_user) -> None:
    from django.contrib.sessions.models import Session

    person = make_user()
    browser = APIClient()
    browser.post("/api/v1/auth/login", {"username": person.username, "password": PASSWORD}, format="json")
    thief = APIClient()
    thief.cookies["berth_session"] = Session.objects.get().session_key

    assert thief.get("/api/v1/users/current").status_code == 401


@pytest.mark.django_db
def test_signing_out_ends_the_session_on_the_server(make_user) -> None:
    from django.contrib.sessions.models import Session

    person = make_user()
    browser = APIClient()
    browser.post("/api/v1/auth/login", {"username": person.username, "password": PASSWORD}, format="json")
    cookie = browser.cookies["berth_session"].value
    csrf = browser.cookies["berth_csrftoken"].value

    signed_out = browser.post("/api/v1/auth/logout", HTTP_X_CSRFTOKEN=csrf)
    replayed = APIClient()
    replayed.cookies["berth_session"] = cookie

    assert signed_out.status_code in (200, 204), signed_out.content
    assert Session.objects.count() == 0
    assert replayed.get("/api/v1/users/current").status_code == 401
