"""Pure logic: spec building and parsing, state transitions, IPAM, paths inside a rootfs."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from runtime_agent.container.spec import (
    ContainerSpec,
    MountSpec,
    RestartPolicy,
    RunOptions,
    parse_memory,
    parse_port,
    parse_restart,
    parse_volume,
)
from runtime_agent.container.state import Container, State, Status
from runtime_agent.errors import Conflict, InvalidSpec, NetworkError, RuntimeAgentError
from runtime_agent.isolation.network import BridgeNetwork, PortMapping
from runtime_agent.kernel.pathrs import secure_join
from runtime_agent.kernel.userns import ID_COUNT, ID_LIMIT, IdRanges

IMAGE_CONFIG = {
    "config": {
        "Env": ["PATH=/bin", "MODE=image"],
        "Entrypoint": ["/entry"],
        "Cmd": ["serve"],
        "WorkingDir": "/app",
        "User": "nobody",
        "ExposedPorts": {"80/tcp": {}},
        "Labels": {"a": "1"},
    }
}


def spec(tmp_path: Path, **options: object) -> ContainerSpec:
    return ContainerSpec.from_image(
        "img", "sha256:x", IMAGE_CONFIG, [tmp_path], RunOptions(**options)
    )  # type: ignore[arg-type]


def test_image_config_with_overrides(tmp_path: Path) -> None:
    s = spec(tmp_path, env=["MODE=user"], labels={"b": "2"})
    assert s.args == ["/entry", "serve"]
    assert s.env == ["PATH=/bin", "MODE=user", f"HOSTNAME={s.id[:12]}"]
    assert (s.workdir, s.user, s.exposed_ports, s.labels) == (
        "/app",
        "nobody",
        ["80/tcp"],
        {"a": "1", "b": "2"},
    )
    assert spec(tmp_path, command=["x"]).args == ["/entry", "x"]
    # As with docker, a new entrypoint drops the image's Cmd.
    assert spec(tmp_path, entrypoint=["/bin/sh"]).args == ["/bin/sh"]


def test_spec_round_trips_through_json_data(tmp_path: Path) -> None:
    s = spec(
        tmp_path, mounts=[MountSpec("bind", "/d", str(tmp_path))], ports=[PortMapping(80, 8080)]
    )
    assert ContainerSpec.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"name": "bad name"},
            "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
        ),
        ({"network": "overlay"}, "network overlay not found"),
        (
            {"network": "none", "ports": [PortMapping(80, 80)]},
            "published ports need the bridge network, not none",
        ),
        (
            {"mounts": [MountSpec("bind", "rel", "/tmp")]},
            "invalid mount config: mount path must be absolute: rel",
        ),
        (
            {"mounts": [MountSpec("bind", "/x", "/no/such/dir")]},
            "invalid mount config: bind source path does not exist: /no/such/dir",
        ),
        (
            {"restart": RestartPolicy("always"), "auto_remove": True},
            "Conflicting options: --restart and --rm",
        ),
        ({"cap_add": ["NOT_A_CAP"]}, "unknown capability: 'CAP_NOT_A_CAP'"),
        (
            {"userns": "auto", "network": "host"},
            "Cannot share the host's network namespace when user namespaces are enabled",
        ),
        ({"userns": "keep-id"}, "invalid user namespace mode: 'keep-id' (use host or auto)"),
    ],
)
def test_validation_messages(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSpec) as info:
        spec(tmp_path, **options).validate()
    assert info.value.message == message


def test_parsers() -> None:
    assert parse_memory("64m") == 64 << 20
    assert parse_memory("1g") == 1 << 30
    assert parse_port("127.0.0.1:8080:80") == PortMapping(80, 8080, "127.0.0.1")
    assert parse_port("8080:80/tcp") == PortMapping(80, 8080)
    assert parse_restart("on-failure:3") == RestartPolicy("on-failure", 3)
    assert parse_volume("data:/var/lib/data:ro") == MountSpec(
        "volume", "/var/lib/data", "data", True
    )
    assert parse_volume("/srv:/srv") == MountSpec("bind", "/srv", "/srv", False)
    assert parse_volume("/srv:/srv:ro,idmap") == MountSpec("bind", "/srv", "/srv", True, idmap=True)
    assert parse_volume("data:/data:idmap") == MountSpec("volume", "/data", "data", idmap=True)
    for bad, message in (
        ("/srv:/srv:rx", "invalid mode: rx (use ro, rw, idmap)"),
        ("/srv:/srv:ro,rw", "invalid mode: ro,rw (ro and rw together)"),
    ):
        with pytest.raises(InvalidSpec) as refused:
            parse_volume(bad)
        assert refused.value.message == message
    with pytest.raises(InvalidSpec) as info:
        parse_port("x:y")
    assert info.value.message == 'invalid port specification: "x:y"'


def test_userns_mode_round_trips_and_old_specs_load_without_it(tmp_path: Path) -> None:
    s = spec(tmp_path, userns="auto")
    assert ContainerSpec.from_dict(s.to_dict()) == s
    assert s.private_userns
    old = {k: v for k, v in spec(tmp_path).to_dict().items() if k != "userns"}
    assert ContainerSpec.from_dict(old).userns == ""
    assert not ContainerSpec.from_dict(old).private_userns


def test_id_ranges_hand_out_each_range_once_even_concurrently(tmp_path: Path) -> None:
    ranges = IdRanges(tmp_path, 1_000_000_000)
    with ThreadPoolExecutor(8) as pool:
        starts = list(pool.map(lambda i: ranges.allocate(f"c{i}"), range(40)))
    assert sorted(starts) == [1_000_000_000 + i * ID_COUNT for i in range(40)]
    assert ranges.allocate("c7") == starts[7]  # a container keeps its range
    ranges.release("c0")
    # Persisted: another instance over the same state sees the same allocations.
    again = IdRanges(tmp_path, 1_000_000_000)
    assert len(again.allocations()) == 39
    assert again.allocate("c0") == 1_000_000_000 + 40 * ID_COUNT  # freed, not reused at once


def test_id_ranges_wrap_around_to_freed_ones_and_report_exhaustion(tmp_path: Path) -> None:
    base = ID_LIMIT - 2 * ID_COUNT
    ranges = IdRanges(tmp_path, base)
    assert (ranges.allocate("a"), ranges.allocate("b")) == (base, base + ID_COUNT)
    with pytest.raises(RuntimeAgentError) as info:
        ranges.allocate("c")
    assert info.value.message == (
        f"no free user namespace id range: all 2 ranges of 65536 ids from {base} are in use"
    )
    ranges.release("a")
    assert ranges.allocate("c") == base


def test_id_ranges_refuse_a_base_among_the_hosts_system_ids(tmp_path: Path) -> None:
    with pytest.raises(RuntimeAgentError) as info:
        IdRanges(tmp_path, 1000)
    assert info.value.message == "BERTH_USERNS_BASE must be at least 65536, not 1000"


def test_transitions_follow_the_table() -> None:
    state = State()
    Container.transition(state, Status.RUNNING)
    Container.transition(state, Status.EXITED)
    with pytest.raises(Conflict) as info:
        Container.transition(state, Status.RESTARTING)
    assert info.value.message == "cannot move container from exited to restarting"


def test_ipam_hands_out_each_address_once_even_concurrently(tmp_path: Path) -> None:
    network = BridgeNetwork(tmp_path, "berth-unit", "10.213.250.0/26")
    with ThreadPoolExecutor(8) as pool:
        ips = list(pool.map(lambda i: network.allocate(f"c{i}").ip, range(40)))
    assert len(set(ips)) == 40
    assert "10.213.250.1" not in ips  # the gateway
    network.release("c0")
    # Persisted: another instance over the same state sees the same allocations.
    again = BridgeNetwork(tmp_path, "berth-unit", "10.213.250.0/26")
    assert len(again.allocations()) == 39
    assert again.allocate("c0").ip != ips[0]  # freed, but not handed out again at once


def test_ipam_reports_exhaustion(tmp_path: Path) -> None:
    network = BridgeNetwork(tmp_path, "berth-unit", "10.213.250.0/30")
    assert network.allocate("a").ip == "10.213.250.2"
    with pytest.raises(NetworkError) as info:
        network.allocate("b")
    assert (
        info.value.message
        == "no available IPv4 addresses on this network's address pools: 10.213.250.0/30"
    )


def test_secure_join_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "etc" / "hosts")
    os.symlink("../../../../../tmp", root / "up")
    assert secure_join(str(root), "/etc/hosts") == f"{root}/etc/passwd"
    assert secure_join(str(root), "/up/x") == f"{root}/tmp/x"
    assert secure_join(str(root), "/../../etc") == f"{root}/etc"


def test_ages_are_worded_as_docker_words_them() -> None:
    from datetime import UTC, datetime, timedelta

    from runtime_agent.cli import _duration

    def age(**delta: float) -> str:
        return _duration((datetime.now(UTC) - timedelta(**delta)).isoformat())

    assert [age(seconds=0), age(seconds=1.2), age(seconds=42), age(seconds=90)] == [
        "Less than a second", "1 second", "42 seconds", "About a minute",
    ]  # fmt: skip
    assert [age(minutes=5), age(minutes=75), age(hours=30), age(days=3)] == [
        "5 minutes", "About an hour", "30 hours", "3 days",
    ]  # fmt: skip
    assert [age(days=20), age(days=90), age(days=800)] == ["2 weeks", "3 months", "2 years"]


def test_the_seccomp_filter_is_built_once_per_machine_and_set_of_capabilities(tmp_path: Path) -> None:
    from runtime_agent.kernel import seccomp

    plain = seccomp.default_filter([], tmp_path)
    assert plain is not None and plain == seccomp.default_filter([])
    cached = list(tmp_path.glob("*.bpf"))
    assert [p.read_bytes() for p in cached] == [plain]
    # Another capability that opens syscalls is another filter; one that opens none is not.
    assert seccomp.default_filter(["CAP_CHOWN"], tmp_path) == plain
    traced = seccomp.default_filter(["CAP_SYS_PTRACE"], tmp_path)
    assert traced != plain and len(list(tmp_path.glob("*.bpf"))) == 2
    # What a later process reads is what it would have built.
    seccomp._cached_filter.cache_clear()
    assert seccomp.default_filter([], tmp_path) == plain
