"""The container spec: image config plus user options as plain data, and its validation."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from runtime_agent.errors import InvalidSpec
from runtime_agent.isolation.network import PortMapping
from runtime_agent.kernel.cgroups import Resources

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's default capability set; every other capability is dropped from all sets.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)  # fmt: skip

CAPABILITY_NUMBERS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        (
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_DAC_READ_SEARCH",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_SETGID",
            "CAP_SETUID",
            "CAP_SETPCAP",
            "CAP_LINUX_IMMUTABLE",
            "CAP_NET_BIND_SERVICE",
            "CAP_NET_BROADCAST",
            "CAP_NET_ADMIN",
            "CAP_NET_RAW",
            "CAP_IPC_LOCK",
            "CAP_IPC_OWNER",
            "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO",
            "CAP_SYS_CHROOT",
            "CAP_SYS_PTRACE",
            "CAP_SYS_PACCT",
            "CAP_SYS_ADMIN",
            "CAP_SYS_BOOT",
            "CAP_SYS_NICE",
            "CAP_SYS_RESOURCE",
            "CAP_SYS_TIME",
            "CAP_SYS_TTY_CONFIG",
            "CAP_MKNOD",
            "CAP_LEASE",
            "CAP_AUDIT_WRITE",
            "CAP_AUDIT_CONTROL",
            "CAP_SETFCAP",
            "CAP_MAC_OVERRIDE",
            "CAP_MAC_ADMIN",
            "CAP_SYSLOG",
            "CAP_WAKE_ALARM",
            "CAP_BLOCK_SUSPEND",
            "CAP_AUDIT_READ",
            "CAP_PERFMON",
            "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE",
        )  # fmt: skip
    )
}

NetworkMode = Literal["none", "host", "bridge"]
MountType = Literal["bind", "volume", "tmpfs"]
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
# "" (the default) and "host" share the host's user namespace, as Docker does without
# userns-remap; "auto" gives the container one of its own, as podman's --userns=auto.
USERNS_MODES = ("", "host", "auto")


@dataclass
class MountSpec:
    type: MountType
    target: str
    source: str = ""
    readonly: bool = False
    tmpfs_size: int | None = None
    # In a user namespace, the mount's ids mapped as the container's (podman's `idmap` option):
    # host root's files show as the container root's, and what it writes is host root's.
    # Named volumes always are; a bind only when asked.
    idmap: bool = False


@dataclass
class RestartPolicy:
    name: str = "no"
    max_retries: int = 0

    def __str__(self) -> str:
        return f"{self.name}:{self.max_retries}" if self.max_retries else self.name


# Docker's --ulimit names, as resource.RLIMIT_<NAME> numbers them.
ULIMIT_NAMES = (
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


@dataclass
class Ulimit:
    name: str
    soft: int
    hard: int

    def __str__(self) -> str:
        return f"{self.name}={self.soft}:{self.hard}"


def parse_ulimit(value: str) -> Ulimit:
    """``--ulimit nofile=1024:2048`` (soft:hard) or ``nofile=1024`` (both); -1 for unlimited."""
    name, _, limits = value.partition("=")
    if name not in ULIMIT_NAMES:
        raise InvalidSpec(f"invalid ulimit type: {name}")
    soft_text, _, hard_text = limits.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise InvalidSpec(f"invalid ulimit argument: {value}") from None
    if hard != -1 and (soft == -1 or soft > hard):
        raise InvalidSpec(f"ulimit soft limit must be less than or equal to hard limit: {value}")
    return Ulimit(name, soft, hard)


def parse_env_file(text: str, environ: Mapping[str, str]) -> list[str]:
    """An --env-file's lines: KEY=VALUE as written; KEY alone takes our own value, if any."""
    env = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, equals, _ = line.partition("=")
        if not key or any(c.isspace() for c in key):
            raise InvalidSpec(f"invalid variable name on line {number} of the env file: {key!r}")
        if equals:
            env.append(line)
        elif key in environ:
            env.append(f"{key}={environ[key]}")
    return env


@dataclass
class HealthCheck:
    """Docker's HEALTHCHECK: ``test`` is ``["CMD", arg...]`` or ``["CMD-SHELL", command]``."""

    test: list[str]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0

    @property
    def argv(self) -> list[str]:
        kind, *rest = self.test
        return ["/bin/sh", "-c", rest[0]] if kind == "CMD-SHELL" else rest

    @classmethod
    def from_image(cls, config: Mapping[str, Any] | None) -> HealthCheck | None:
        """From an image config's ``Healthcheck`` (durations in nanoseconds, 0 for the default)."""
        test = list((config or {}).get("Test") or [])
        if not test or test[0] == "NONE":
            return None
        if test[0] not in ("CMD", "CMD-SHELL"):
            test = ["CMD-SHELL", " ".join(test)]

        def seconds(key: str, default: float) -> float:
            value = (config or {}).get(key) or 0
            return value / 1e9 if value else default

        return cls(
            test,
            interval=seconds("Interval", 30.0),
            timeout=seconds("Timeout", 30.0),
            retries=int((config or {}).get("Retries") or 3),
            start_period=seconds("StartPeriod", 0.0),
        )


@dataclass
class HealthOptions:
    """``--health-*`` flags: each given one overrides the image's."""

    cmd: str | None = None
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    disabled: bool = False  # --no-healthcheck

    def applied_to(self, image_check: HealthCheck | None) -> HealthCheck | None:
        if self.disabled:
            return None
        check = image_check
        if self.cmd is not None:
            check = HealthCheck(["CMD-SHELL", self.cmd], *(
                (image_check.interval, image_check.timeout, image_check.retries,
                 image_check.start_period) if image_check else ()
            ))  # fmt: skip
        if check is None:
            return None
        for name in ("interval", "timeout", "retries", "start_period"):
            if getattr(self, name) is not None:
                setattr(check, name, getattr(self, name))
        return check


@dataclass
class RunOptions:
    """What a user may override on top of the image's config (``docker run`` flags)."""

    name: str | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    mounts: list[MountSpec] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)
    network: str = "bridge"
    resources: Resources = field(default_factory=Resources)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    init: bool = False
    read_only: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    userns: str = ""
    interactive: bool = False  # -i: stdin kept open, written through attach
    tty: bool = False  # -t: a terminal as stdin, stdout and stderr
    health: HealthOptions = field(default_factory=HealthOptions)
    ulimits: list[Ulimit] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # --add-host NAME:IP
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)


@dataclass
class ContainerSpec:
    id: str
    name: str
    image: str
    image_id: str
    layer_dirs: list[str]
    args: list[str]
    env: list[str]
    workdir: str
    user: str
    hostname: str
    labels: dict[str, str]
    exposed_ports: list[str]
    mounts: list[MountSpec]
    ports: list[PortMapping]
    network: str
    resources: Resources
    restart: RestartPolicy
    auto_remove: bool
    init: bool
    read_only: bool
    capabilities: list[str]
    created: str
    userns: str = ""  # defaulted: state written before user namespaces has none
    open_stdin: bool = False  # Docker's Config.OpenStdin (-i); defaulted, as userns
    tty: bool = False  # Docker's Config.Tty (-t)
    healthcheck: HealthCheck | None = None
    ulimits: list[Ulimit] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)

    @property
    def private_userns(self) -> bool:
        return self.userns == "auto"

    @classmethod
    def from_image(
        cls,
        image_ref: str,
        image_id: str,
        image_config: Mapping[str, Any],
        layer_dirs: Sequence[str | os.PathLike[str]],
        options: RunOptions,
    ) -> ContainerSpec:
        config: Mapping[str, Any] = image_config.get("config") or {}
        container_id = os.urandom(32).hex()  # what secrets.token_hex does, minus its imports
        if options.entrypoint is not None:
            # As in Docker, overriding the entrypoint discards the image's Cmd.
            entrypoint = [a for a in options.entrypoint if a]
            cmd = options.command or []
        else:
            entrypoint = list(config.get("Entrypoint") or [])
            cmd = options.command or list(config.get("Cmd") or [])
        hostname = options.hostname or container_id[:12]
        env = _merge_env(config.get("Env") or [], options.env)
        env.setdefault("PATH", DEFAULT_PATH)
        env.setdefault("HOSTNAME", hostname)
        if options.network == "host" and not options.hostname:
            hostname = os.uname().nodename
        caps = [c for c in DEFAULT_CAPABILITIES if c not in _cap_names(options.cap_drop)]
        caps += [c for c in _cap_names(options.cap_add) if c not in caps]
        if "ALL" in [c.upper() for c in options.cap_drop]:
            caps = [c for c in _cap_names(options.cap_add) if c != "CAP_ALL"]
        return cls(
            id=container_id,
            name=options.name or f"berth_{container_id[:8]}",
            image=image_ref,
            image_id=image_id,
            layer_dirs=[os.fspath(p) for p in layer_dirs],
            args=entrypoint + cmd,
            env=[f"{k}={v}" for k, v in env.items()],
            workdir=options.workdir or config.get("WorkingDir") or "/",
            user=options.user if options.user is not None else (config.get("User") or ""),
            hostname=hostname,
            labels={**(config.get("Labels") or {}), **options.labels},
            exposed_ports=sorted((config.get("ExposedPorts") or {}).keys()),
            mounts=list(options.mounts),
            ports=list(options.ports),
            network=options.network,
            resources=options.resources,
            restart=options.restart,
            auto_remove=options.auto_remove,
            init=options.init,
            read_only=options.read_only,
            capabilities=caps,
            created=datetime.now(UTC).isoformat(),
            userns=options.userns,
            open_stdin=options.interactive,
            tty=options.tty,
            healthcheck=options.health.applied_to(
                HealthCheck.from_image(config.get("Healthcheck"))
            ),
            ulimits=list(options.ulimits),
            extra_hosts=list(options.extra_hosts),
            dns=list(options.dns),
            dns_search=list(options.dns_search),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContainerSpec:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["mounts"] = [MountSpec(**m) for m in data["mounts"]]
        values["ports"] = [PortMapping(**p) for p in data["ports"]]
        values["resources"] = Resources(**data["resources"])
        values["restart"] = RestartPolicy(**data["restart"])
        if data.get("healthcheck"):
            values["healthcheck"] = HealthCheck(**data["healthcheck"])
        values["ulimits"] = [Ulimit(**u) for u in data.get("ulimits") or []]
        return cls(**values)

    def validate(self) -> None:
        """Run every check and raise one error naming the first problem found."""
        for check in CHECKS:
            problem = check(self)
            if problem:
                raise InvalidSpec(problem)


def _merge_env(image_env: Sequence[str], overrides: Sequence[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for entry in [*image_env, *overrides]:
        key, sep, value = entry.partition("=")
        if not sep:
            # "-e NAME" passes the caller's own value through, as docker does.
            if key in os.environ:
                merged[key] = os.environ[key]
            continue
        merged[key] = value
    return merged


def _cap_names(names: Sequence[str]) -> list[str]:
    return [n.upper() if n.upper().startswith("CAP_") else f"CAP_{n.upper()}" for n in names]


_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_HOSTNAME_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$")


def _check_args(spec: ContainerSpec) -> str | None:
    return None if spec.args else "No command specified"


def _check_name(spec: ContainerSpec) -> str | None:
    return name_problem(spec.name)


def name_problem(name: str) -> str | None:
    if _NAME_RE.match(name):
        return None
    return f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"


def _check_hostname(spec: ContainerSpec) -> str | None:
    return (
        None if _HOSTNAME_RE.match(spec.hostname) else f"invalid hostname format: {spec.hostname}"
    )


def _check_network(spec: ContainerSpec) -> str | None:
    if spec.network not in ("none", "host", "bridge"):
        return f"network {spec.network} not found"
    if spec.ports and spec.network != "bridge":
        return f"published ports need the bridge network, not {spec.network}"
    return None


def _check_userns(spec: ContainerSpec) -> str | None:
    if spec.userns not in USERNS_MODES:
        return f"invalid user namespace mode: {spec.userns!r} (use host or auto)"
    if spec.private_userns and spec.network == "host":
        # Docker's refusal: root of a user namespace has no privilege over the host's network
        # namespace, nor can it mount its sysfs.
        return "Cannot share the host's network namespace when user namespaces are enabled"
    return None


def _check_ports(spec: ContainerSpec) -> str | None:
    for port in spec.ports:
        if port.protocol not in ("tcp", "udp"):
            return f"invalid proto: {port.protocol} (use tcp or udp)"
        for number in (port.container_port, port.host_port):
            if not 1 <= number <= 65535:
                return f"invalid port specification: {number}"
    return None


def _check_mounts(spec: ContainerSpec) -> str | None:
    targets: set[str] = set()
    for mount in spec.mounts:
        if not mount.target.startswith("/"):
            return f"invalid mount config: mount path must be absolute: {mount.target}"
        if os.path.normpath(mount.target) == "/":
            return "invalid mount config: destination can't be '/'"
        if mount.target in targets:
            return f"Duplicate mount point: {mount.target}"
        targets.add(mount.target)
        if mount.idmap and not spec.private_userns:
            return f"invalid mount config: idmap needs a user namespace (--userns auto): {mount.target}"
        if mount.idmap and mount.type == "tmpfs":
            return f"invalid mount config: a tmpfs cannot be idmapped: {mount.target}"
        if mount.type == "bind":
            if not os.path.isabs(mount.source):
                return f"invalid mount config: bind source path must be absolute: {mount.source}"
            if not os.path.exists(mount.source):
                return f"invalid mount config: bind source path does not exist: {mount.source}"
    return None


def _check_resources(spec: ContainerSpec) -> str | None:
    res = spec.resources
    if res.memory is not None and res.memory < 6 * 1024 * 1024:
        return "Minimum memory limit allowed is 6MB"
    ncpu = os.cpu_count() or 1
    if res.cpus is not None and not 0.01 <= res.cpus <= ncpu:
        return f"Range of CPUs is from 0.01 to {ncpu:.2f}, as there are only {ncpu} CPUs available"
    if res.pids_limit is not None and res.pids_limit == 0:
        return "invalid pids limit: 0"
    return None


HOST_GATEWAY = "host-gateway"  # --add-host NAME:host-gateway: the bridge's address on the host


def _check_names_and_resolvers(spec: ContainerSpec) -> str | None:
    for entry in spec.extra_hosts:
        name, colon, address = entry.partition(":")
        if not colon or not name or not address:
            return f"bad format for add-host: {entry!r} (use NAME:IP)"
        if address != HOST_GATEWAY and not _is_ip(address):
            return f"invalid IP address in add-host: {address!r}"
        if address == HOST_GATEWAY and spec.network != "bridge":
            return "add-host host-gateway needs the bridge network"
    for server in spec.dns:
        if not _is_ip(server):
            return f"{server} is not an ip address"
    return None


def _is_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def parse_mount(value: str) -> MountSpec:
    """``--mount type=bind,source=/srv,target=/data,readonly`` (and type=volume, type=tmpfs)."""
    fields_: dict[str, str] = {}
    for part in filter(None, value.split(",")):
        key, equals, val = part.partition("=")
        fields_[key.strip().lower()] = val if equals else "true"
    kind = fields_.pop("type", "volume")
    source = fields_.pop("source", fields_.pop("src", ""))
    target = fields_.pop("target", fields_.pop("destination", fields_.pop("dst", "")))
    readonly_text = fields_.pop("readonly", fields_.pop("ro", "false")).lower()
    if readonly_text not in ("true", "1", "false", "0"):
        raise InvalidSpec(f"invalid value for readonly: {readonly_text}")
    size = fields_.pop("tmpfs-size", "")
    idmap = fields_.pop("idmap", "false").lower() in ("true", "1")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidSpec(f"invalid mount type: {kind!r} (use bind, volume or tmpfs)")
    if fields_:
        raise InvalidSpec(f"unexpected key '{sorted(fields_)[0]}' in '{value}'")
    if not target:
        raise InvalidSpec("invalid mount config: target is required")
    if kind == "bind":
        if not source:
            raise InvalidSpec(
                'invalid mount config for type "bind": field Source must not be empty'
            )
        source = os.path.abspath(source)
    if kind == "tmpfs" and source:
        raise InvalidSpec('invalid mount config for type "tmpfs": field Source must be empty')
    readonly = readonly_text in ("true", "1")
    return MountSpec(
        kind, target, source if kind != "tmpfs" else "tmpfs", readonly,
        parse_memory(size) if size else None, idmap,
    )  # fmt: skip


def _check_healthcheck(spec: ContainerSpec) -> str | None:
    check = spec.healthcheck
    if check is None:
        return None
    if len(check.test) < 2 or (check.test[0] == "CMD-SHELL" and not check.test[1].strip()):
        return "invalid health check: no command"
    for name in ("interval", "timeout"):
        if getattr(check, name) < 0.001:
            return f"Interval in Healthcheck cannot be less than 1ms ({name})"
    if check.retries < 0:
        return "--health-retries cannot be negative"
    if check.start_period < 0:
        return "--health-start-period cannot be negative"
    return None


def parse_duration(value: str) -> float:
    """Go's duration syntax, as Docker's flags take it: ``1m30s``, ``500ms``, ``2s``, ``1h``."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise InvalidSpec(f'invalid duration "{value}": use a number and a unit, as 30s or 1m30s')
    return sum(float(n) * units[u] for n, u in parts)


def _check_restart(spec: ContainerSpec) -> str | None:
    if spec.restart.name not in RESTART_POLICIES:
        return (
            f"invalid restart policy: unknown policy '{spec.restart.name}'; "
            "use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        )
    if spec.restart.max_retries and spec.restart.name != "on-failure":
        return "invalid restart policy: maximum retry count can only be used with 'on-failure'"
    if spec.auto_remove and spec.restart.name != "no":
        return "Conflicting options: --restart and --rm"
    return None


def _check_capabilities(spec: ContainerSpec) -> str | None:
    for cap in spec.capabilities:
        if cap not in CAPABILITY_NUMBERS:
            return f"unknown capability: {cap!r}"
    return None


def _check_layers(spec: ContainerSpec) -> str | None:
    for layer in spec.layer_dirs:
        if not os.path.isdir(layer):
            return f"image layer directory is missing: {layer}"
    return None if spec.layer_dirs else "image has no layers"


CHECKS: tuple[Callable[[ContainerSpec], str | None], ...] = (
    _check_args, _check_name, _check_hostname, _check_network, _check_userns, _check_ports,
    _check_healthcheck, _check_names_and_resolvers,
    _check_mounts, _check_resources, _check_restart, _check_capabilities, _check_layers,
)  # fmt: skip


_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_memory(value: str) -> int:
    match = re.fullmatch(r"(\d+)([bkmg]?)b?", value.strip().lower())
    if not match:
        raise InvalidSpec(f"invalid size: '{value}'")
    return int(match.group(1)) * _UNITS[match.group(2) or "b"]


def parse_restart(value: str) -> RestartPolicy:
    name, _, count = value.partition(":")
    if count and not count.isdigit():
        raise InvalidSpec("invalid restart policy format: maximum retry count must be an integer")
    return RestartPolicy(name, int(count or 0))


def parse_port(value: str) -> PortMapping:
    """``[host_ip:]host_port:container_port[/tcp|/udp]`` or ``container_port`` alone (same port)."""
    spec, _, proto = value.partition("/")
    parts = spec.rsplit(":", 2)
    try:
        if len(parts) == 1:
            return PortMapping(int(parts[0]), int(parts[0]), protocol=proto or "tcp")
        if len(parts) == 2:
            return PortMapping(int(parts[1]), int(parts[0]), protocol=proto or "tcp")
        return PortMapping(int(parts[2]), int(parts[1]), parts[0] or "0.0.0.0", proto or "tcp")
    except ValueError:
        raise InvalidSpec(f'invalid port specification: "{value}"') from None


VOLUME_OPTIONS = ("ro", "rw", "idmap")


def parse_volume(value: str) -> MountSpec:
    """``-v``: ``/host:/ctr[:OPTIONS]`` binds, ``name:/ctr[:OPTIONS]`` named volumes, ``/ctr``
    anonymous; OPTIONS a comma-separated list of ``ro`` or ``rw`` and ``idmap``."""
    parts = value.split(":")
    options: list[str] = []
    if len(parts) == 3:
        options = parts[2].split(",")
        for option in options:
            if option not in VOLUME_OPTIONS:
                raise InvalidSpec(f"invalid mode: {option} (use {', '.join(VOLUME_OPTIONS)})")
        if "ro" in options and "rw" in options:
            raise InvalidSpec(f"invalid mode: {parts[2]} (ro and rw together)")
        parts = parts[:2]
    readonly, idmap = "ro" in options, "idmap" in options
    if len(parts) == 1:
        return MountSpec("volume", parts[0], "", readonly, idmap=idmap)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidSpec(f"invalid volume specification: '{value}'")
    source, target = parts
    kind: MountType = "bind" if source.startswith(("/", ".")) else "volume"
    if kind == "bind":
        source = os.path.abspath(source)
    return MountSpec(kind, target, source, readonly, idmap=idmap)


def parse_tmpfs(value: str) -> MountSpec:
    target, _, opts = value.partition(":")
    size = None
    for opt in filter(None, opts.split(",")):
        key, _, val = opt.partition("=")
        if key == "size":
            size = parse_memory(val)
    return MountSpec("tmpfs", target, "tmpfs", False, size)
