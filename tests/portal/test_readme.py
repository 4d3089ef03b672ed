"""The README documents every setting exactly as the settings module declares it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_settings_table_matches_the_settings_module():
    result = subprocess.run(
        [sys.executable, "scripts/readme_settings.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_readme_shows_the_two_commands():
    blocks = (ROOT / "README.md").read_text().split("```")
    commands = {line.strip() for block in blocks[1::2] for line in block.splitlines()}
    assert {"make run", "make test"} <= commands
