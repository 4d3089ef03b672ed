"""`manage.py reconcile`: rebuild and repair the artifact index from distribution."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.artifacts.services import RegistryUnavailable, reconcile


class Command(BaseCommand):
    help = "Bring the artifact index in line with distribution (missing rows, deleted manifests, moved tags)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--verbose-changes", action="store_true", help="List every change, not only counts.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = reconcile(dry_run=options["dry_run"])
        except RegistryUnavailable as exc:
            raise CommandError(exc.message) from None
        if options["verbose_changes"]:
            for name, items in vars(report).items():
                if isinstance(items, list):
                    for item in items:
                        self.stdout.write(f"{name}: {item}")
        self.stdout.write(report.summary())
