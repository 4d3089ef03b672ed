"""The agent's side of the conversation with the portal: joining, and signed heartbeats."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from runtime_agent.agent import credential as credentials
from runtime_agent.agent.credential import Credential
from runtime_agent.agent.signing import Signer, new_private_key, private_key_text, public_key_text

log = logging.getLogger("berth.agent")

JOIN_PATH = "/api/v1/hosts/join"
HEARTBEAT_PATH = "/api/v1/hosts/heartbeat"
PORTAL_AUDIENCE = "portal"


class JoinFailed(Exception):
    pass


def _portal_message(response: httpx.Response) -> str:
    try:
        return "; ".join(e["message"] for e in response.json()["errors"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def join(
    state_dir: Path,
    portal_url: str,
    token: str,
    *,
    name: str,
    labels: dict[str, str],
    advertise: str,
    facts: dict[str, Any],
    transport: httpx.BaseTransport | None = None,
) -> Credential:
    """Registers this host with a join token and keeps the credential the portal accepts from now on."""
    if urlsplit(portal_url).scheme not in ("http", "https"):
        raise JoinFailed(f"the portal URL must start with http:// or https://, not {portal_url!r}")
    key = new_private_key()
    body = {
        "token": token, "name": name, "labels": labels, "address": advertise, "facts": facts,
        "public_key": public_key_text(key),
    }  # fmt: skip
    try:
        with httpx.Client(transport=transport, timeout=30) as client:
            response = client.post(portal_url.rstrip("/") + JOIN_PATH, json=body)
    except httpx.HTTPError as exc:
        raise JoinFailed(f"cannot reach the portal at {portal_url}: {exc}") from None
    if response.status_code != 201:
        raise JoinFailed(f"the portal refused to join this host: {_portal_message(response)}")
    answer = response.json()
    credential = Credential(
        portal_url=portal_url.rstrip("/"),
        host_id=answer["id"],
        name=answer["name"],
        private_key=private_key_text(key),
        portal_public_key=answer["portal_public_key"],
        advertise=advertise,
        heartbeat_seconds=float(answer.get("heartbeat_seconds") or 5),
    )
    credentials.save(state_dir, credential)
    return credential


class Heartbeat(threading.Thread):
    """Reports facts and containers every few seconds, signed with the agent's key.

    One thread sends every report, so their timestamps strictly increase: the portal refuses any
    report not newer than the last it accepted, which is its replay protection across processes.
    """

    def __init__(
        self,
        state_dir: Path,
        report: Callable[[], dict[str, Any]],
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(name="heartbeat", daemon=True)
        self.state_dir = state_dir
        self.report = report
        self.transport = transport
        self.stopping = threading.Event()
        self.last_error = ""
        self.beats = 0

    def beat(self, credential: Credential, signer: Signer, client: httpx.Client) -> float:
        body = json.dumps(self.report()).encode()
        header = signer.header(PORTAL_AUDIENCE, "POST", HEARTBEAT_PATH, body)
        response = client.post(
            credential.portal_url + HEARTBEAT_PATH, content=body,
            headers={"Authorization": header, "Content-Type": "application/json"},
        )  # fmt: skip
        if response.status_code != 200:
            raise RuntimeError(f"the portal refused the heartbeat: {_portal_message(response)}")
        self.beats += 1
        return float(response.json().get("heartbeat_seconds") or credential.heartbeat_seconds)

    def run(self) -> None:
        signer: Signer | None = None
        with httpx.Client(transport=self.transport, timeout=10) as client:
            while not self.stopping.is_set():
                interval = 5.0
                credential = credentials.load(self.state_dir)
                if credential is not None:
                    if signer is None or signer.key_id != credential.host_id:
                        signer = Signer(credential.key, credential.host_id)
                    interval = credential.heartbeat_seconds
                    try:
                        interval = self.beat(credential, signer, client)
                        if self.last_error:
                            log.info("heartbeats reach the portal again")
                        self.last_error = ""
                    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
                        if str(exc) != self.last_error:
                            log.warning("heartbeat failed: %s", exc)
                        self.last_error = str(exc)
                self.stopping.wait(interval)

    def stop(self) -> None:
        self.stopping.set()
