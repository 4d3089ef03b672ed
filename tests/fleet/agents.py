"""Real agent processes for the fleet tests: started on loopback ports, stopped and checked clean."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from runtime_agent.agent.signing import Signer

ROOT = Path(__file__).resolve().parents[2]
AGENT_MODULE = "runtime_agent"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class AgentProcess:
    """One `python -m runtime_agent serve` on 127.0.0.1, with its own state dir, bridge and subnet."""

    state: Path
    port: int
    bridge: str
    subnet: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *extra: str, wait: bool = True) -> AgentProcess:
        self.extra = extra or self.extra
        output = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", AGENT_MODULE, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--state", str(self.state), "--bridge", self.bridge, "--subnet", self.subnet, *self.extra],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        output.close()
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"agent exited with {self.process.returncode}:\n{self.log_text()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"agent on {self.url} did not answer /health:\n{self.log_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(15)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                # The agent lets requests that change things finish first (up to 30 s).
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def clean_up(self) -> list[str]:
        """Removes every container the agent made and its bridge; returns what was left behind."""
        from runtime_agent.images import ImageStore
        from runtime_agent.runtime.api import Runtime

        self.stop()
        runtime = Runtime(
            self.state, images=ImageStore(self.state), bridge=self.bridge, subnet=self.subnet
        )
        ids = [c.id for c in runtime.list(all=True)]
        for container in runtime.list(all=True):
            runtime.remove(container, force=True)
        runtime.network.teardown()
        return leftovers(ids, self.bridge, self.state)


def leftovers(container_ids: list[str], bridge: str, state: Path) -> list[str]:
    """Mounts, cgroups, links and NAT rules that outlived their containers or the agent's bridge."""
    found = []
    with open("/proc/self/mountinfo") as f:
        found += [f"mount: {line.strip()}" for line in f if str(state) in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    rules = subprocess.run(
        ["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True
    ).stdout
    for cid in container_ids:
        found += [f"cgroup: {p}" for p in Path("/sys/fs/cgroup").glob(f"*/berth/{cid}")]
        found += [f"link: {line}" for line in links.splitlines() if f"vb{cid[:12]}" in line]
        found += [f"iptables: {line}" for line in rules.splitlines() if cid in line]
    found += [f"link: {line}" for line in links.splitlines() if f": {bridge}:" in line]
    found += [
        f"iptables: {line}" for line in rules.splitlines() if f"berth-bridge:{bridge}" in line
    ]
    return found


class SignedClient:
    """Talks to an agent as its portal does: every request signed for that agent's host id."""

    def __init__(self, base_url: str, signer: Signer, audience: str) -> None:
        self.base_url = base_url
        self.signer = signer
        self.audience = audience
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def request(self, method: str, target: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"Authorization": self.signer.header(self.audience, method, target, content)}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.http.request(method, target, content=content, headers=headers, **kwargs)

    @contextlib.contextmanager
    def stream(self, method: str, target: str, body: Any = None) -> Iterator[httpx.Response]:
        content = json.dumps(body).encode() if body is not None else b""
        headers = {"Authorization": self.signer.header(self.audience, method, target, content)}
        with self.http.stream(method, target, content=content, headers=headers) as response:
            yield response

    def events(self, method: str, target: str, body: Any = None) -> list[dict[str, Any]]:
        with self.stream(method, target, body) as response:
            assert response.status_code == 200, response.read()
            return [json.loads(line) for line in response.iter_lines() if line]
