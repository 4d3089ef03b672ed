"""System settings read from the environment: values arrive typed, mistakes stop start-up with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
import portal.system.metrics
print(json.dumps({name: getattr(settings, name) for name in
                  ("AUDIT_RETENTION_DAYS", "METRICS_ALLOWED_NETWORKS", "METRICS_TOKEN")}))
"""


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BERTH_", "PROMETHEUS_"))
    }
    clean.update(DJANGO_SETTINGS_MODULE="portal.settings", BERTH_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_audit_and_metrics_settings_come_from_the_environment(tmp_path):
    result = run_python(
        SHOW_SETTINGS,
        tmp_path,
        BERTH_AUDIT_RETENTION_DAYS="7",
        BERTH_METRICS_ALLOWED="10.0.0.0/8, 2001:db8::/32",
        BERTH_METRICS_TOKEN="scrape-me",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "AUDIT_RETENTION_DAYS": 7,
        "METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8", "2001:db8::/32"],
        "METRICS_TOKEN": "scrape-me",
    }


def test_the_defaults_keep_90_days_and_allow_only_loopback():
    declared = settings.BERTH_SETTINGS
    assert declared["BERTH_AUDIT_RETENTION_DAYS"].default == "90"
    assert declared["BERTH_METRICS_ALLOWED"].default == "127.0.0.1/32,::1/128"
    assert declared["BERTH_METRICS_TOKEN"].default == ""


def test_a_retention_that_is_not_a_number_stops_start_up(tmp_path):
    result = run_python(SHOW_SETTINGS, tmp_path, BERTH_AUDIT_RETENTION_DAYS="a week")
    assert result.returncode != 0
    assert "BERTH_AUDIT_RETENTION_DAYS must be a whole number, not 'a week'" in result.stderr


def test_a_malformed_metrics_network_stops_start_up(tmp_path):
    result = run_python(SHOW_SETTINGS, tmp_path, BERTH_METRICS_ALLOWED="10.0.0.0/8,intranet")
    assert result.returncode != 0
    assert (
        "BERTH_METRICS_ALLOWED: 'intranet' does not appear to be an IPv4 or IPv6 network"
        in result.stderr
    )


def test_gunicorn_keeps_its_metrics_under_the_var_dir_and_starts_them_afresh(tmp_path):
    stale = tmp_path / "metrics" / "counter_1234.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    code = (
        "import os; from portal.system import gunicorn_conf as conf; conf.on_starting(None); "
        "print(os.environ['PROMETHEUS_MULTIPROC_DIR']); print(sorted(os.listdir(conf.METRICS_DIR)))"
    )
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(tmp_path / "metrics"), "[]"]
