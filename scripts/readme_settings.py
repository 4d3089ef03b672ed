"""Rewrites the settings table in README.md from the settings module's declarations (--check: only compare)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Defaults must be documented, not this machine's overrides.
for name in [key for key in os.environ if key.startswith("BERTH_")]:
    del os.environ[name]

import django  # noqa: E402

django.setup()
from django.conf import settings  # noqa: E402

from portal.utilities.env import settings_table  # noqa: E402

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"
readme = ROOT / "README.md"
text = readme.read_text()
head, rest = text.split(BEGIN, 1)
_, tail = rest.split(END, 1)
wanted = f"{head}{BEGIN}\n{settings_table(settings.BERTH_SETTINGS, ROOT)}\n{END}{tail}"
if "--check" in sys.argv:
    sys.exit(0 if wanted == text else "README.md's settings table is stale: run `make readme-settings`")
readme.write_text(wanted)
