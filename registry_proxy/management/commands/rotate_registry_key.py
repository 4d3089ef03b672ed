"""Adds a new registry token signing key (it signs from now on); older keys verify until retired."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.registry.tokens import KeyRing


class Command(BaseCommand):
    help = ("Rotate the registry token signing key. Tokens signed by older keys stay valid until they expire; "
            "run again later with --retire to delete all but the newest keys.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--retire", action="store_true",
                            help="Delete all keys but the two newest instead of adding one.")

    def handle(self, *args: Any, **options: Any) -> None:
        ring = KeyRing(settings.REGISTRY_KEY_DIR)
        if options["retire"]:
            retired = ring.retire(keep=2)
            self.stdout.write(f"retired {len(retired)} key(s): {', '.join(retired) or 'none'}")
            return
        key = ring.rotate()
        self.stdout.write(f"new signing key {key.kid} in {settings.REGISTRY_KEY_DIR}")
