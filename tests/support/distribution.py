"""Runs a real distribution registry (Debian's docker-registry) on 127.0.0.1 for tests and benchmarks."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGISTRY_BINARY = "/usr/bin/docker-registry"
SKOPEO = "/usr/bin/skopeo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Distribution:
    """A running registry; `host` is `127.0.0.1:PORT`, its storage lives under `root`."""

    host: str
    root: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def push_layout(
        self,
        layout: Path,
        repository: str,
        tag: str = "latest",
        *,
        layout_tag: str | None = "latest",
        all_platforms: bool = True,
        docker_v2s2: bool = False,
    ) -> str:
        """Push an OCI layout with skopeo; returns the `HOST/REPO:TAG` reference."""
        source = f"oci:{layout}" + (f":{layout_tag}" if layout_tag else "")
        reference = f"{self.host}/{repository}:{tag}"
        command = [SKOPEO, "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"]
        if all_platforms:
            command.append("--all")
        if docker_v2s2:
            command += ["--format", "v2s2"]
        subprocess.run([*command, source, f"docker://{reference}"], check=True, capture_output=True)
        return reference

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def registry_config(root: Path, port: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Filesystem storage, deletes enabled, listening on loopback only."""
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": "berth-tests-only"},
    }
    for key, value in (extra or {}).items():
        config[key] = value
    return config


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/v2/", timeout=1):
                return
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # up, and asking for auth
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not answer on {url}/v2/ within {timeout}s")


@contextlib.contextmanager
def run_distribution(
    workdir: Path, *, config: dict[str, Any] | None = None, timeout: float = 15.0
) -> Iterator[Distribution]:
    """Start a registry under `workdir`, wait until `/v2/` answers, stop and clean up after."""
    if not Path(REGISTRY_BINARY).exists():
        raise FileNotFoundError(f"{REGISTRY_BINARY} is missing: apt-get install -y docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config_path = workdir / "config.yml"
    # JSON is YAML, and needs no YAML library here.
    config_path.write_text(json.dumps(registry_config(workdir, port, config), indent=1))
    log = (workdir / "registry.log").open("wb")
    process = subprocess.Popen(
        [REGISTRY_BINARY, "serve", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    registry = Distribution(host=f"127.0.0.1:{port}", root=workdir, process=process)
    try:
        _wait_ready(registry.url, process, timeout)
        yield registry
    finally:
        registry.stop()
        log.close()
        shutil.rmtree(workdir / "data", ignore_errors=True)
