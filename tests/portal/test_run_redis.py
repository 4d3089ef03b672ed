"""`make run`'s Redis keeps queued work across a crash: scripts/lib.sh starts it with an append-only file."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.distribution import free_port

LIB = Path(__file__).resolve().parents[2] / "scripts" / "lib.sh"


def lib(command: str) -> None:
    subprocess.run(["bash", "-c", f"source {LIB} && {command}"], check=True, capture_output=True, timeout=30)


def cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], check=True, capture_output=True,
                          text=True, timeout=10).stdout.strip()


def kill_hard(pid_file: Path) -> None:
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"redis {pid} did not die")


def test_a_queued_task_survives_a_killed_durable_redis(tmp_path):
    port = free_port()
    lib(f"start_redis {tmp_path} {port} durable")
    try:
        cli(port, "LPUSH", "celery", "a queued task")
        time.sleep(1.5)  # appendfsync everysec: what was written a second ago is on disk
        kill_hard(tmp_path / "redis.pid")
        lib(f"start_redis {tmp_path} {port} durable")
        assert cli(port, "LRANGE", "celery", "0", "-1") == "a queued task"
    finally:
        lib(f"stop_redis {tmp_path} {port}")
    assert subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode != 0


def test_the_test_suites_redis_keeps_nothing(tmp_path):
    port = free_port()
    lib(f"start_redis {tmp_path} {port}")
    try:
        cli(port, "LPUSH", "celery", "a queued task")
        kill_hard(tmp_path / "redis.pid")
        lib(f"start_redis {tmp_path} {port}")
        assert cli(port, "LLEN", "celery") == "0"
    finally:
        lib(f"stop_redis {tmp_path} {port}")
    assert not list(tmp_path.glob("appendonly*"))
