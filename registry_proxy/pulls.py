"""Pulls written behind the request: buffered in memory, flushed to the index every few seconds."""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import UTC, datetime

from django.db import close_old_connections

from portal.artifacts.services import record_pulls

logger = logging.getLogger(__name__)

PullRow = tuple[str, str, str | None, str, datetime]


class PullRecorder:
    """Appending is a deque push (safe from the event loop); a daemon thread hands batches to the index."""

    def __init__(self, interval: float = 3.0, max_buffered: int = 100_000) -> None:
        self.interval = interval
        # Beyond this many unflushed pulls (the database is down), the oldest are dropped, not the process.
        self._pending: deque[PullRow] = deque(maxlen=max_buffered)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()

    def add(self, repository: str, digest: str, tag: str | None, actor: str) -> None:
        self._pending.append((repository, digest, tag, actor, datetime.now(UTC)))
        if self._thread is None:
            self.start()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="berth-pull-recorder", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Writes what is buffered now; returns how many pulls were handed over."""
        with self._flush_lock:
            batch: list[PullRow] = []
            while self._pending:
                batch.append(self._pending.popleft())
            if not batch:
                return 0
            try:
                close_old_connections()
                record_pulls(batch)
            except Exception:
                # Counting pulls is best effort: a failed batch is logged, never retried into a loop.
                logger.exception("could not record %d pulls", len(batch))
            finally:
                close_old_connections()
            return len(batch)
