"""Fixtures of the fleet tests: real agents with their own state, bridge and subnet, checked clean."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime_agent.agent import credential as credentials
from runtime_agent.agent.credential import Credential
from runtime_agent.agent.signing import Signer, new_private_key, private_key_text, public_key_text
from tests.fleet.agents import AgentProcess, SignedClient, free_port
from tests.support.images import build_busybox_layout

SESSION = os.getpid()
_made = 0


def _network() -> tuple[str, str]:
    """A bridge name and subnet no other test session or runtime test uses."""
    global _made
    _made += 1
    return f"bf{SESSION % 100000}{_made}"[:15], f"10.214.{(SESSION * 7 + _made) % 250}.0/24"


@pytest.fixture(scope="session")
def make_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., AgentProcess]]:
    """Factory of agent processes (not started); each is stopped and its leftovers asserted away."""
    made: list[AgentProcess] = []

    def make(name: str = "agent") -> AgentProcess:
        state = tmp_path_factory.mktemp(f"{name}-state")
        bridge, subnet = _network()
        agent = AgentProcess(state, free_port(), bridge, subnet, state.parent / f"{state.name}.log")
        made.append(agent)
        return agent

    yield make
    problems = []
    for agent in made:
        problems += agent.clean_up()
    assert problems == []


@pytest.fixture(scope="session")
def portal_signer() -> Signer:
    """Stands in for the portal in tests of the agent alone."""
    return Signer(new_private_key(), "portal")


@pytest.fixture(scope="session")
def standalone_agent(
    make_agent: Callable[..., AgentProcess], portal_signer: Signer
) -> AgentProcess:
    """An agent that trusts `portal_signer`, as if it had joined a portal."""
    agent = make_agent("standalone")
    credentials.save(
        agent.state,
        Credential(
            portal_url="http://127.0.0.1:9", host_id="host-standalone", name="standalone",
            private_key=private_key_text(new_private_key()),
            portal_public_key=public_key_text(portal_signer.key), advertise=agent.url,
            heartbeat_seconds=3600,
        ),
    )  # fmt: skip
    return agent.start()


@pytest.fixture(scope="session")
def agent_client(standalone_agent: AgentProcess, portal_signer: Signer) -> SignedClient:
    return SignedClient(standalone_agent.url, portal_signer, "host-standalone")


@pytest.fixture(scope="session")
def busybox_layout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_busybox_layout(tmp_path_factory.mktemp("fleet-layouts") / "busybox")



@dataclass
class RegistryStack:
    """Berth's registry and portal (uvicorn in a thread of this process), as the fleet tests use them."""

    server: Any
    key_dir: Path

    @property
    def url(self) -> str:
        return str(self.server.url)

    @property
    def registry_host(self) -> str:
        return str(self.server.host)

    @property
    def worker_env(self) -> dict[str, str]:
        # The worker signs pull tokens with the proxy's keys and names the registry agents pull from.
        return {"BERTH_REGISTRY_KEY_DIR": str(self.key_dir), "BERTH_FLEET_REGISTRY": self.registry_host,
                "BERTH_EXTERNAL_URL": self.url}

    def push(self, layout: Path, repository: str, tag: str, auth: tuple[str, str]) -> str:
        """skopeo copy through Berth's /v2/, which indexes the artifact as it is pushed."""
        import subprocess

        subprocess.run(
            ["skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", ":".join(auth),
             f"oci:{layout}:latest", f"docker://{self.registry_host}/{repository}:{tag}"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        return f"{self.registry_host}/{repository}:{tag}"

    def forge_artifact(self, repository: str, tag: str) -> str:
        """An indexed image whose config blob the registry does not hold: storage and index drifted."""
        from portal.projects.models import Project
        from tests.fleet.portal_helpers import index_artifact

        project, name = repository.split("/", 1)
        return str(index_artifact(Project.objects.get(name=project), name, tag, missing_config=True).digest)


@pytest.fixture(scope="module")
def registry_stack(berth_server: Any) -> RegistryStack:
    from django.conf import settings

    return RegistryStack(berth_server, Path(settings.REGISTRY_KEY_DIR))
