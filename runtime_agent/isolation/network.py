"""Container networking: a Linux bridge, a veth pair per container, IPAM and published ports."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shlex
import shutil
import socket
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime_agent.errors import Conflict, NetworkError
from runtime_agent.kernel.files import locked_table

NAT_CHAIN = "BERTH"
POSTROUTING_CHAIN = "BERTH-POSTROUTING"


@dataclass
class PortMapping:
    container_port: int
    host_port: int
    host_ip: str = "0.0.0.0"
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


def _run(argv: Sequence[str], stdin: str | None = None, check: bool = True) -> str:
    # Imported where used: a container without a bridge (and the CLI) never runs a command.
    import subprocess

    result = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise NetworkError(f"{shlex.join(argv)}: {result.stderr.strip()}")
    return result.stdout


def iptables(*args: str, check: bool = True) -> str:
    # -w waits for the xtables lock that concurrent callers (other containers) hold.
    return _run(["iptables", "-w", "-t", "nat", *args], check=check)


# Host-wide, as the chain is: every Berth runtime on the machine publishes into it.
PORTS_LOCK = "/run/lock/berth-ports.lock"
PUBLISHED_PROTOCOLS = ("tcp", "udp")


class PortAllocated(Conflict):
    code = "port_taken"

    def __init__(self, port: PortMapping) -> None:
        host_ip = port.host_ip or "0.0.0.0"
        super().__init__(f"Bind for {host_ip}:{port.host_port} failed: port is already allocated")
        self.port = port


@contextmanager
def ports_lock() -> Iterator[None]:
    os.makedirs(os.path.dirname(PORTS_LOCK), exist_ok=True)
    fd = os.open(PORTS_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _key(port: PortMapping) -> tuple[str, str, int]:
    return (port.host_ip or "0.0.0.0", port.protocol, port.host_port)


def published_ports() -> list[tuple[str, str, int]]:
    """(host address, protocol, port) of every DNAT rule in the chain, any runtime's."""
    found = []
    for line in iptables("-S", NAT_CHAIN, check=False).splitlines():
        words = shlex.split(line)
        if "--dport" not in words or "-p" not in words:
            continue
        address = words[words.index("-d") + 1].removesuffix("/32") if "-d" in words else "0.0.0.0"
        found.append(
            (address, words[words.index("-p") + 1], int(words[words.index("--dport") + 1]))
        )
    return found


def port_taken(port: PortMapping, published: Sequence[tuple[str, str, int]]) -> bool:
    """Whether ``port`` overlaps one in ``published`` or a host socket holds it (the address
    0.0.0.0 overlapping every other)."""
    host_ip, protocol, number = _key(port)
    for other_ip, other_protocol, other_number in published:
        if (other_protocol, other_number) == (protocol, number) and (
            "0.0.0.0" in (host_ip, other_ip) or host_ip == other_ip
        ):
            return True
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((host_ip, number))
        except OSError:
            return True
    return False


def forget_udp_flows(address: str, port: int) -> None:
    """Delete the connection-tracking entries of UDP flows DNATed to ``address:port`` (with
    conntrack, where installed)."""
    if shutil.which("conntrack"):
        _run(
            ["conntrack", "-D", "-p", "udp", "--reply-src", address, "--reply-port-src", str(port)],
            check=False,
        )


def veth_name(container_id: str) -> str:
    return f"vb{container_id[:12]}"  # interface names are at most 15 characters


@dataclass(frozen=True)
class Attachment:
    ip: str
    prefix: int
    gateway: str


class BridgeNetwork:
    def __init__(self, state_dir: Path, bridge: str, subnet: str) -> None:
        self.bridge = bridge
        self.subnet = ipaddress.ip_network(subnet)
        self.gateway = next(self.subnet.hosts())
        self.ipam_path = state_dir / "network" / f"ipam-{bridge}.json"

    # IPAM -----------------------------------------------------------------

    def _ipam(self) -> AbstractContextManager[dict[str, Any]]:
        return locked_table(
            self.ipam_path,
            lambda: {"subnet": str(self.subnet), "allocated": {}, "last": str(self.gateway)},
        )

    def allocate(self, container_id: str) -> Attachment:
        """The next free address after the last one handed out, so a freed one is not reused at once."""
        with self._ipam() as data:
            allocated: dict[str, str] = data["allocated"]  # type: ignore[assignment]
            for ip, owner in allocated.items():
                if owner == container_id:
                    return Attachment(ip, self.subnet.prefixlen, str(self.gateway))
            hosts = [h for h in self.subnet.hosts() if h != self.gateway]
            last = ipaddress.ip_address(str(data["last"]))
            start = next((i for i, h in enumerate(hosts) if h > last), 0)
            for candidate in hosts[start:] + hosts[:start]:
                if str(candidate) not in allocated:
                    allocated[str(candidate)] = container_id
                    data["last"] = str(candidate)
                    return Attachment(str(candidate), self.subnet.prefixlen, str(self.gateway))
        raise NetworkError(
            f"no available IPv4 addresses on this network's address pools: {self.subnet}"
        )

    def release(self, container_id: str) -> None:
        with self._ipam() as data:
            allocated: dict[str, str] = data["allocated"]  # type: ignore[assignment]
            for ip in [ip for ip, owner in allocated.items() if owner == container_id]:
                del allocated[ip]

    def allocations(self) -> dict[str, str]:
        with self._ipam() as data:
            return dict(data["allocated"])  # type: ignore[arg-type]

    # Bridge and NAT ------------------------------------------------------------

    def ensure(self) -> None:
        if not os.path.exists(f"/sys/class/net/{self.bridge}"):
            _run(["ip", "link", "add", "name", self.bridge, "type", "bridge"])
            _run(
                ["ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge]
            )
            _run(["ip", "link", "set", self.bridge, "up"])
        # DNAT from the host's loopback to a bridge address keeps source 127.0.0.1, which the
        # kernel drops as martian unless the outgoing interface allows it.
        with open(f"/proc/sys/net/ipv4/conf/{self.bridge}/route_localnet", "w") as f:
            f.write("1")
        self._ensure_chains()

    def _ensure_chains(self) -> None:
        for chain in (NAT_CHAIN, POSTROUTING_CHAIN):
            iptables("-N", chain, check=False)
        jumps = (
            ("PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", NAT_CHAIN),
            ("OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", NAT_CHAIN),
            ("POSTROUTING", "-j", POSTROUTING_CHAIN),
        )
        import subprocess

        for rule in jumps:
            if subprocess.run(
                ["iptables", "-w", "-t", "nat", "-C", *rule], capture_output=True
            ).returncode:
                iptables("-A", *rule)
        masquerade = (
            POSTROUTING_CHAIN, "-o", self.bridge, "-m", "addrtype", "--src-type", "LOCAL",
            "-m", "comment", "--comment", f"berth-bridge:{self.bridge}", "-j", "MASQUERADE",
        )  # fmt: skip
        if subprocess.run(
            ["iptables", "-w", "-t", "nat", "-C", *masquerade], capture_output=True
        ).returncode:
            iptables("-A", *masquerade)

    def publish(self, container_id: str, ip: str, ports: Sequence[PortMapping]) -> None:
        """DNAT each host port to the container, refusing one another container publishes or a
        host process has bound, as Docker does ("port is already allocated")."""
        if not ports:
            return
        with ports_lock():
            claimed = published_ports()
            for port in ports:
                if port_taken(port, claimed):
                    raise PortAllocated(port)
                claimed.append(_key(port))
            try:
                for port in ports:
                    dest = [] if port.host_ip in ("", "0.0.0.0") else ["-d", f"{port.host_ip}/32"]
                    iptables(
                        "-A", NAT_CHAIN, *dest, "-p", port.protocol,
                        "--dport", str(port.host_port),
                        "-m", "comment", "--comment", f"berth:{container_id}",
                        "-j", "DNAT", "--to-destination", f"{ip}:{port.container_port}",
                    )  # fmt: skip
            except BaseException:
                self.unpublish(container_id)
                raise

    def unpublish(self, container_id: str) -> None:
        for rule in self._delete_rules(NAT_CHAIN, f"berth:{container_id}"):
            words = shlex.split(rule)
            if "udp" in words and "--to-destination" in words:
                # A UDP flow's connection-tracking entry keeps sending it to the old address
                # until it goes quiet for 30 s: a container publishing the port next must get
                # it at once.
                address, _, port = words[words.index("--to-destination") + 1].partition(":")
                forget_udp_flows(address, int(port))

    def _delete_rules(self, chain: str, marker: str) -> list[str]:
        removed = []
        for line in iptables("-S", chain, check=False).splitlines():
            if marker in line and line.startswith(f"-A {chain} "):
                iptables("-D", *shlex.split(line)[1:])
                removed.append(line)
        return removed

    def teardown(self) -> None:
        """Remove the bridge and its rules; the shared chains go once no bridge uses them."""
        self._delete_rules(POSTROUTING_CHAIN, f"berth-bridge:{self.bridge}")
        if os.path.exists(f"/sys/class/net/{self.bridge}"):
            _run(["ip", "link", "del", self.bridge])
        rules = iptables("-S", NAT_CHAIN, check=False) + iptables(
            "-S", POSTROUTING_CHAIN, check=False
        )
        if any(line.startswith("-A ") for line in rules.splitlines()):
            return
        iptables(
            "-D",
            "PREROUTING",
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            NAT_CHAIN,
            check=False,
        )
        iptables(
            "-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", NAT_CHAIN, check=False
        )
        iptables("-D", "POSTROUTING", "-j", POSTROUTING_CHAIN, check=False)
        for chain in (NAT_CHAIN, POSTROUTING_CHAIN):
            iptables("-X", chain, check=False)

    # Per start -----------------------------------------------------------------

    def attach(self, container_id: str, pid: int) -> None:
        """Host side: a veth pair whose peer is born as eth0 in the container's namespace."""
        host = veth_name(container_id)
        if os.path.exists(f"/sys/class/net/{host}"):
            _run(["ip", "link", "del", host], check=False)
        _run(
            ["ip", "-batch", "-"],
            stdin=(
                f"link add {host} type veth peer name eth0 netns {pid}\n"
                f"link set {host} master {self.bridge}\n"
                f"link set {host} up\n"
            ),
        )


def configure_inside(attachment: Attachment) -> None:
    """Container side, run in its network namespace before pivot_root (``ip`` is the host's)."""
    _run(
        ["ip", "-batch", "-"],
        stdin=(
            f"addr add {attachment.ip}/{attachment.prefix} dev eth0\n"
            "link set eth0 up\n"
            f"route add default via {attachment.gateway}\n"
        ),
    )


def hosts_file(hostname: str, ip: str | None, extra: Sequence[tuple[str, str]] = ()) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    lines += [f"{address}\t{name}" for name, address in extra]
    if ip:
        lines.append(f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n"


def resolv_conf(
    host_resolv: str = "/etc/resolv.conf", servers: Sequence[str] = (), search: Sequence[str] = ()
) -> str:
    """The host's resolvers, minus loopback ones that mean nothing inside another namespace;
    ``servers`` and ``search`` (--dns, --dns-search) replace the host's."""
    if servers or search:
        lines = [line for line in _read_lines(host_resolv) if line.startswith("options")]
        if search:
            lines.insert(0, "search " + " ".join(search))
        lines += [f"nameserver {server}" for server in servers]
        if servers:
            return "\n".join(lines) + "\n"
        host_servers = resolv_conf(host_resolv).splitlines()
        return "\n".join(lines + [s for s in host_servers if s.startswith("nameserver")]) + "\n"
    try:
        with open(host_resolv) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    kept = [
        line
        for line in lines
        if not (
            line.startswith("nameserver")
            and line.split()[1:2]
            and line.split()[1].startswith(("127.", "::1"))
        )
    ]
    if not any(line.startswith("nameserver") for line in kept):
        kept += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
    return "\n".join(kept) + "\n"


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
