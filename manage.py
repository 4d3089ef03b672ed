#!/usr/bin/env python3
"""Django's command-line utility for Berth."""

import os
import sys

if __name__ == "__main__":
    if sys.version_info < (3, 12):
        sys.exit("Berth needs Python 3.12 or newer; run it through `make run` or .venv/bin/python")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
