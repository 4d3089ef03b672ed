"""Runs distribution in the foreground with the configuration Berth generates (for `make run`)."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from portal.registry.distribution import DistributionProcess, DistributionSetup


class Command(BaseCommand):
    help = "Write distribution's configuration and run it until interrupted (loopback only, Basic auth from Berth)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--config-only", action="store_true", help="Write the configuration and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        setup = DistributionSetup.from_settings()
        if options["config_only"]:
            self.stdout.write(str(setup.write()))
            return
        process = DistributionProcess(setup)
        process.start()
        self.stdout.write(f"distribution listening at {setup.url} (log: {process.log_path})")
        # SIGTERM unwinds like Ctrl-C, so the finally below stops distribution outside any signal handler.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            assert process.process is not None
            process.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            process.stop()
