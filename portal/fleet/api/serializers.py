"""Representations of join tokens, hosts and containers, and the inputs that create and change them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.fleet import services
from portal.fleet.models import Container, Host, JoinToken
from portal.rbac.principals import AnonymousPrincipal
from portal.utilities.serializers import FiniteFloatField, NoNulJSONField, StrictSerializer


class JoinTokenSerializer(serializers.ModelSerializer):
    usable = serializers.SerializerMethodField()

    class Meta:
        model = JoinToken
        fields = ["id", "description", "prefix", "created_by", "created_at", "expires_at", "max_uses", "use_count",
                  "labels", "revoked", "usable"]

    def get_usable(self, token: JoinToken) -> bool:
        return token.usable()


class JoinTokenCreatedSerializer(JoinTokenSerializer):
    token = serializers.SerializerMethodField()

    class Meta(JoinTokenSerializer.Meta):
        fields = [*JoinTokenSerializer.Meta.fields, "token"]

    def get_token(self, token: JoinToken) -> str:
        return str(self.context["secret"])


class JoinTokenCreateSerializer(StrictSerializer):
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    expires_in_hours = serializers.IntegerField(required=False, default=24)
    max_uses = serializers.IntegerField(required=False, allow_null=True, default=1)
    labels = serializers.DictField(child=serializers.CharField(max_length=255), required=False, default=dict)


class JoinSerializer(StrictSerializer):
    token = serializers.CharField(max_length=200)
    name = serializers.CharField(max_length=63)
    labels = serializers.DictField(child=serializers.CharField(max_length=255, allow_blank=True), required=False, default=dict)
    address = serializers.CharField(max_length=255)
    facts = serializers.DictField(required=False, default=dict)
    public_key = serializers.CharField(max_length=64)


class HostSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    capacity = serializers.SerializerMethodField()
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = ["id", "name", "status", "labels", "address", "draining", "last_heartbeat_at", "joined_at",
                  "capacity", "usage", "facts"]

    def get_capacity(self, host: Host) -> dict[str, Any]:
        return {"cpus": host.cpus, "memory_bytes": host.memory_bytes,
                "disk_bytes": int(host.facts.get("disk_bytes") or 0)}

    def get_usage(self, host: Host) -> dict[str, Any]:
        reserved = {k: v for k, v in self.context.get("usage", {}).get(host.pk, {}).items() if k != "ports"}
        return {
            **reserved,
            "memory_used_bytes": host.memory_bytes - int(host.facts.get("memory_available_bytes") or host.memory_bytes),
            "disk_free_bytes": int(host.facts.get("disk_free_bytes") or 0),
            "containers_running": int(host.facts.get("containers_running") or 0),
            "load_1m": host.facts.get("load_1m"),
        }


class HostUpdateSerializer(StrictSerializer):
    labels = serializers.DictField(child=serializers.CharField(max_length=255, allow_blank=True), required=False)
    draining = serializers.BooleanField(required=False)


class EnvVariableSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.CharField(allow_null=True, help_text=(
        "null when hidden: always for a secret, and for every variable when the caller may not deploy in the project."))
    secret = serializers.BooleanField(help_text="Deployed as secret: stored encrypted, passed only to the agent.")


class ContainerVolumeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["volume", "bind"])
    name = serializers.CharField(help_text='The volume\'s name ("" for an anonymous one), or the host path of a bind.')
    target = serializers.CharField()
    readonly = serializers.BooleanField()
    owner = serializers.CharField(allow_null=True, help_text=(
        "The project owning the volume on its host (the container's own: no other project's container can "
        "mount it); null for a host path."))


class ContainerSerializer(serializers.ModelSerializer):
    """A container as the caller may see it: the request's principal decides which env values are shown."""

    project = serializers.CharField(source="project.name", read_only=True)
    host = serializers.CharField(source="host_name", read_only=True)
    image = serializers.CharField(read_only=True)
    spec = serializers.SerializerMethodField(help_text="The run options (command, ports, volumes, limits, restart, "
                                             "healthcheck); the environment is in `env`.")
    env = serializers.SerializerMethodField(help_text=(
        "Environment variables in order, plain then secret. Values are shown only to those who may deploy in the "
        "project (container:create); secret values to no one."))
    volumes = serializers.SerializerMethodField()

    class Meta:
        model = Container
        fields = ["id", "name", "project", "host", "repository", "reference", "digest", "image", "status",
                  "desired_state", "error", "error_code", "progress", "exit_code", "oom_killed", "health", "spec",
                  "env", "volumes", "created_by", "created_at", "updated_at", "started_at", "finished_at", "timings"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_spec(self, container: Container) -> dict[str, Any]:
        return {key: value for key, value in (container.spec or {}).items() if key != "env"}

    @extend_schema_field(ContainerVolumeSerializer(many=True))
    def get_volumes(self, container: Container) -> list[dict[str, Any]]:
        return services.container_volumes(container)

    @extend_schema_field(EnvVariableSerializer(many=True))
    def get_env(self, container: Container) -> list[dict[str, Any]]:
        # Without a request (a serializer built by hand) nobody is known, so no value is shown.
        request = self.context.get("request")
        principal = getattr(request, "user", None) or AnonymousPrincipal()
        return services.container_env(principal, container)


# Far above any host (Linux caps pid_max at 2^22), low enough that every store and the agent take the number.
MAX_CPUS = 4096
MAX_PIDS = 2**22
MAX_MEMORY_BYTES = 2**50
PORT_FIELDS = {"host_ip": str, "host_port": int, "container_port": int, "protocol": str}


class DeploySerializer(StrictSerializer):
    repository = serializers.CharField(max_length=512)
    reference = serializers.CharField(max_length=255, required=False, default="latest")
    name = serializers.CharField(max_length=128, required=False)
    host = serializers.CharField(max_length=63, required=False)
    selector = serializers.DictField(child=serializers.CharField(max_length=255), required=False)
    env = NoNulJSONField(required=False, default=list)
    command = serializers.ListField(child=serializers.CharField(), required=False)
    ports = serializers.ListField(child=NoNulJSONField(), required=False, default=list)
    volumes = serializers.ListField(child=serializers.CharField(max_length=1024), required=False, default=list)
    memory = NoNulJSONField(required=False)
    cpus = FiniteFloatField(required=False, max_value=MAX_CPUS)
    pids_limit = serializers.IntegerField(required=False, max_value=MAX_PIDS)
    restart = serializers.CharField(max_length=32, required=False, default="no")
    healthcheck = serializers.DictField(child=NoNulJSONField(), required=False, help_text=(
        'cmd (a shell command), interval, timeout, start_period (seconds), retries; or {"disabled": true}. '
        "Without it the image's HEALTHCHECK applies."))
    secret_env = serializers.DictField(
        child=serializers.CharField(max_length=32768, allow_blank=True, trim_whitespace=False), required=False,
        default=dict, help_text=(
            "Variables whose values are secret: stored encrypted, passed only to the agent, never shown again "
            "(`env` lists them with value null). A name is in env or here, not both."))

    def validate_env(self, value: Any) -> Any:
        if isinstance(value, dict) and all(isinstance(v, str | int | float) for v in value.values()):
            return value
        if isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
            return value
        raise serializers.ValidationError("a list of NAME=value strings or an object of values")

    def validate_memory(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | None):
            raise serializers.ValidationError("bytes, or a number with k, m or g")
        if isinstance(value, int) and value > MAX_MEMORY_BYTES:
            raise serializers.ValidationError(f"at most {MAX_MEMORY_BYTES} bytes")
        return value

    def validate_ports(self, value: list[Any]) -> list[Any]:
        for port in value:
            if isinstance(port, str):
                continue
            if not isinstance(port, dict) or any(
                not isinstance(port.get(name), kind) or isinstance(port.get(name), bool)
                for name, kind in PORT_FIELDS.items() if port.get(name) is not None
            ):
                raise serializers.ValidationError(
                    '"[HOST_IP:]HOST_PORT:CONTAINER_PORT[/udp]" strings or objects of host_ip, host_port, '
                    "container_port and protocol")
        return value

    def validate_healthcheck(self, value: dict[str, Any]) -> dict[str, Any]:
        if "disabled" in value and not isinstance(value["disabled"], bool):
            raise serializers.ValidationError("disabled is true or false")
        return value


class ExecSerializer(StrictSerializer):
    command = serializers.ListField(child=serializers.CharField(), min_length=1)
    env = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    user = serializers.CharField(required=False)
    workdir = serializers.CharField(required=False)
