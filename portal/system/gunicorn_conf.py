"""gunicorn hooks (`gunicorn -c python:portal.system.gunicorn_conf`): metrics shared by every worker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from portal.settings import VAR_DIR

# prometheus_client picks its storage when it is first imported, so the directory must be named
# here, in the master, before any worker loads the application.
METRICS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))


def on_starting(server: Any) -> None:
    # Counters from a previous run would otherwise be added to this run's.
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
