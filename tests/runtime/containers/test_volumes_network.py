"""Volumes (named, bind, tmpfs) and networking (bridge, ports, none, host)."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime_agent.container.spec import MountSpec, parse_mount
from runtime_agent.container.state import Container
from runtime_agent.errors import Conflict, InvalidSpec, NoSuchVolume
from runtime_agent.isolation.network import PortMapping
from runtime_agent.kernel import linux
from runtime_agent.runtime.api import Runtime
from tests.runtime.containers.conftest import SUBNET, leftovers, output

Make = Callable[..., Container]


def test_named_volume_survives_rm_and_is_seen_by_the_next_container(
    runtime: Runtime, container: Make
) -> None:
    volume = MountSpec("volume", "/data", "berth-test-keep")
    first = container("sh", "-c", "echo kept > /data/file", mounts=[volume])
    assert runtime.wait(first, timeout=10) == 0
    runtime.remove(first)
    second = container("cat", "/data/file", mounts=[volume])
    assert output(runtime, second) == "kept\n"
    with pytest.raises(Conflict) as info:
        runtime.volumes.remove("berth-test-keep")
    assert info.value.message == f"remove berth-test-keep: volume is in use - [{second.id}]"
    runtime.remove(second)
    runtime.volumes.remove("berth-test-keep")
    with pytest.raises(NoSuchVolume):
        runtime.volumes.get("berth-test-keep")


def test_anonymous_volume_goes_with_its_container(runtime: Runtime, container: Make) -> None:
    c = container("true", mounts=[MountSpec("volume", "/scratch")])
    name = c.spec.mounts[0].source
    assert runtime.volumes.get(name).anonymous
    runtime.wait(c, timeout=10)
    runtime.remove(c)
    with pytest.raises(NoSuchVolume):
        runtime.volumes.get(name)


def test_bind_mounts_read_write_and_read_only(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    (tmp_path / "rw").mkdir()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "in").write_text("from host\n")
    c = container(
        "sh", "-c", "echo out > /rw/out; cat /ro/in; echo x > /ro/x || echo refused",
        mounts=[MountSpec("bind", "/rw", str(tmp_path / "rw")), MountSpec("bind", "/ro", str(tmp_path / "ro"), True)],
    )  # fmt: skip
    assert output(runtime, c) == "from host\nrefused\n"
    assert (tmp_path / "rw" / "out").read_text() == "out\n"
    assert not (tmp_path / "ro" / "x").exists()


def test_tmpfs_mount(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh",
        "-c",
        "grep ' /cache ' /proc/mounts",
        mounts=[MountSpec("tmpfs", "/cache", "tmpfs", tmpfs_size=1 << 20)],
    )
    assert output(runtime, c).startswith("tmpfs /cache tmpfs rw,nosuid,nodev")


def test_network_none_has_only_loopback(runtime: Runtime, container: Make) -> None:
    c = container("sh", "-c", "ls /sys/class/net")
    assert output(runtime, c).split() == ["lo"]


def test_bridge_gives_an_address_route_and_hosts(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh",
        "-c",
        "ip -4 -o addr show eth0; ip route; grep $(hostname) /etc/hosts",
        network="bridge",
    )
    out = output(runtime, c)
    ip = runtime.inspect(c)["NetworkSettings"]["IPAddress"]
    subnet = ipaddress.ip_network(SUBNET)
    assert ipaddress.ip_address(ip) in subnet
    assert f"inet {ip}/{subnet.prefixlen}" in out
    assert f"default via {next(subnet.hosts())} dev eth0" in out
    assert f"{ip}\t{c.spec.hostname}" in out


def test_addresses_are_never_shared_and_are_freed_on_remove(
    runtime: Runtime, container: Make
) -> None:
    a = container("sleep", "30", network="bridge")
    b = container("sleep", "30", network="bridge")
    ip_a, ip_b = a.state.ip_address, b.state.ip_address
    assert ip_a and ip_b and ip_a != ip_b
    runtime.remove(a, force=True)
    assert ip_a not in runtime.network.allocations()
    assert runtime.network.allocations()[ip_b] == b.id


def test_published_port_serves_httpd_on_loopback(runtime: Runtime, container: Make) -> None:
    port = 20000 + runtime.network.subnet.network_address.packed[2] * 10
    c = container(
        "sh", "-c", "mkdir /www && echo hello from berth > /www/index.html && exec httpd -f -p 80 -h /www",
        network="bridge", ports=[PortMapping(80, port, "127.0.0.1")],
    )  # fmt: skip
    body = _get(port)
    assert body == b"hello from berth\n"
    runtime.remove(c, force=True)
    assert leftovers(c.id) == []


def _port(offset: int) -> int:
    """A host port of this run's own (the subnet differs per test session)."""
    return 20000 + ipaddress.ip_network(SUBNET).network_address.packed[2] * 10 + offset


def test_a_published_port_is_allocated_once_per_protocol(runtime: Runtime, container: Make) -> None:
    port = _port(1)
    first = container("sleep", "30", network="bridge", ports=[PortMapping(80, port, "127.0.0.1")])
    for host_ip in ("127.0.0.1", "0.0.0.0"):
        with pytest.raises(Conflict) as refused:
            container("sleep", "30", network="bridge", ports=[PortMapping(81, port, host_ip)])
        assert (
            refused.value.message == f"Bind for {host_ip}:{port} failed: port is already allocated"
        )
    # Nothing of a refused container stays: no directory, address or rule.
    assert [c.id for c in runtime.list(all=True)] == [first.id]
    assert list(runtime.network.allocations().values()) == [first.id]
    udp = container("sleep", "30", network="bridge",
                    ports=[PortMapping(80, port, "127.0.0.1", "udp")])  # fmt: skip
    assert udp.state.running
    runtime.remove(first, force=True)
    again = container("sleep", "30", network="bridge", ports=[PortMapping(80, port, "127.0.0.1")])
    assert again.state.running


def test_a_port_a_host_process_holds_is_refused(runtime: Runtime, container: Make) -> None:
    port = _port(2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        with pytest.raises(Conflict) as refused:
            container("sleep", "30", network="bridge", ports=[PortMapping(80, port, "127.0.0.1")])
    assert refused.value.message == f"Bind for 127.0.0.1:{port} failed: port is already allocated"
    assert runtime.list(all=True) == []


# The image has no UDP server: the host's Python, bound in read-only, answers.
UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(512)
    s.sendto(sys.argv[1].encode() + b":" + data, peer)
"""
HOST_PYTHON = [MountSpec("bind", path, path, readonly=True) for path in ("/usr", "/lib", "/lib64")]


def test_a_published_udp_port_answers_and_a_new_container_gets_the_flow_at_once(
    runtime: Runtime, container: Make
) -> None:
    port = _port(3)
    published = [PortMapping(53, port, "127.0.0.1", "udp")]
    first = container("/usr/bin/python3", "-c", UDP_ECHO, "first", network="bridge",
                      ports=published, mounts=HOST_PYTHON)  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(0.5)
        assert _udp_ask(client, port) == b"first:ping"
        runtime.remove(first, force=True)
        assert leftovers(first.id) == []
        second = container("/usr/bin/python3", "-c", UDP_ECHO, "second", network="bridge",
                           ports=published, mounts=HOST_PYTHON)  # fmt: skip
        # The same client flow (source port): its old DNAT entry was forgotten with the first.
        assert _udp_ask(client, port) == b"second:ping"
    runtime.remove(second, force=True)
    assert leftovers(second.id) == []


def _udp_ask(client: socket.socket, port: int) -> bytes:
    deadline = time.monotonic() + 10
    while True:
        client.sendto(b"ping", ("127.0.0.1", port))
        try:
            return client.recv(512)
        except TimeoutError:
            assert time.monotonic() < deadline, "no UDP answer"


def _get(port: int) -> bytes:
    deadline = time.monotonic() + 10
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/index.html")
            return conn.getresponse().read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_host_network_sees_host_interfaces(runtime: Runtime, container: Make) -> None:
    c = container("ls", "/sys/class/net", network="host")
    assert "eth0" in output(runtime, c).split() or len(output(runtime, c).split()) > 1


def test_a_mount_target_symlinked_out_of_the_image_stays_inside(
    runtime: Runtime, container: Make, make_layout: Callable[..., Path], tmp_path: Path
) -> None:
    # Given an image whose /data and /etc/hosts are symlinks pointing at host paths
    from tests.support.images import Symlink

    outside = tmp_path / "outside"
    outside.mkdir()
    layout = make_layout(
        "escape",
        extra_layers=[
            [
                Symlink("data", f"/../../../../..{outside}"),
                Symlink("etc/hosts", str(outside / "hosts")),
            ]
        ],
    )
    image = runtime.images.import_layout(layout, tag="latest", name="berth-escape")
    # When a volume is mounted at /data and /etc/hosts is written for the container
    c = container(
        "sh",
        "-c",
        "echo inside > /data/file; cat /etc/hosts | head -1",
        image=image,
        mounts=[MountSpec("volume", "/data")],
    )
    # Then both land inside the container's root, never on the host path the links name
    assert output(runtime, c) == "127.0.0.1\tlocalhost\n"
    assert list(outside.iterdir()) == []
    runtime.remove(c)
    runtime.images.remove("berth-escape:latest")


def test_a_bind_source_mounted_after_the_standby_was_made_is_seen(
    runtime: Runtime, container: Make, tmp_path: Path
) -> None:
    # Given a standby shim whose container process copied the host's mounts already
    runtime.wait(container("true"), timeout=10)
    source = tmp_path / "late"
    source.mkdir()
    (source / "underneath").write_text("hidden by the mount\n")
    # When a filesystem is mounted on the source only now, and a container binds it
    linux.mount("tmpfs", str(source), "tmpfs", 0, "size=64k")
    try:
        (source / "mounted").write_text("on the tmpfs\n")
        c = container("ls", "/late", mounts=[MountSpec("bind", "/late", str(source))])
        # Then the container sees what the host sees now, not the copy made ahead
        assert output(runtime, c).split() == ["mounted"]
        runtime.remove(c)
    finally:
        linux.umount2(str(source), linux.MNT_DETACH)


def test_host_network_masks_the_hosts_sys_firmware(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh",
        "-c",
        "ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname || echo refused",
        network="host",
    )
    assert output(runtime, c).split() == ["0", "refused"]


def test_extra_hosts_and_resolvers(runtime: Runtime, container: Make) -> None:
    c = container(
        "sh", "-c", "grep -v -e localhost -e ip6 /etc/hosts; cat /etc/resolv.conf",
        network="bridge", extra_hosts=["db.local:10.1.2.3", "host.docker.internal:host-gateway"],
        dns=["10.0.0.53"], dns_search=["corp.example"],
    )  # fmt: skip
    assert output(runtime, c).splitlines() == [
        "10.1.2.3\tdb.local",
        f"{runtime.network.gateway}\thost.docker.internal",
        f"{c.state.ip_address}\t{c.spec.hostname}",
        "search corp.example",
        "nameserver 10.0.0.53",
    ]
    assert runtime.inspect(c)["HostConfig"]["ExtraHosts"] == c.spec.extra_hosts
    with pytest.raises(InvalidSpec) as refused:
        container("true", extra_hosts=["db:not-an-ip"], start=False)
    assert refused.value.message == "invalid IP address in add-host: 'not-an-ip'"


def test_the_long_mount_syntax(runtime: Runtime, container: Make, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("bound\n")
    mounts = [
        parse_mount(f"type=bind,source={tmp_path},target=/bound,readonly"),
        parse_mount("type=tmpfs,destination=/scratch,tmpfs-size=1m"),
        parse_mount("type=volume,src=berth-long-syntax,dst=/named"),
    ]
    assert mounts[0] == MountSpec("bind", "/bound", str(tmp_path), readonly=True)
    c = container(
        "sh", "-c", "cat /bound/file; touch /bound/x || echo read-only; "
        "df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2; echo kept > /named/file",
        mounts=mounts,
    )  # fmt: skip
    assert output(runtime, c).split() == ["bound", "read-only", "1024"]
    runtime.remove(c)
    assert Path(runtime.volumes.get("berth-long-syntax").mountpoint, "file").read_text() == "kept\n"
    runtime.volumes.remove("berth-long-syntax")
    for bad, message in (
        ("type=bogus,target=/x", "invalid mount type: 'bogus' (use bind, volume or tmpfs)"),
        ("type=bind,target=/x", 'invalid mount config for type "bind": field Source must not be empty'),
        ("type=volume,source=v", "invalid mount config: target is required"),
        ("type=volume,target=/x,colour=red", "unexpected key 'colour' in 'type=volume,target=/x,colour=red'"),
    ):  # fmt: skip
        with pytest.raises(InvalidSpec) as refused:
            parse_mount(bad)
        assert refused.value.message == message
