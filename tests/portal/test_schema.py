"""The OpenAPI schema — the API's contract, from which the UI's types are generated — builds without warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_validates_without_warnings(tmp_path):
    output = tmp_path / "schema.yml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(output)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    schema = yaml.safe_load(output.read_text())
    assert schema["openapi"].startswith("3.")
    for route in ("/api/v1/projects", "/api/v1/users/current/permissions", "/api/v1/health",
                  "/api/v1/projects/{project_name}/containers", "/api/v1/audit-logs"):
        assert route in schema["paths"], route
