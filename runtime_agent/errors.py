"""The runtime's exceptions, each with a stable code and a message a Docker user recognises."""

from __future__ import annotations


class RuntimeAgentError(Exception):
    code = "runtime_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RuntimeAgentError):
    code = "not_found"


class NoSuchContainer(NotFound):
    code = "no_such_container"

    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")


class NoSuchVolume(NotFound):
    code = "no_such_volume"

    def __init__(self, name: str) -> None:
        super().__init__(f"get {name}: no such volume")


class Conflict(RuntimeAgentError):
    code = "conflict"


class InvalidSpec(RuntimeAgentError):
    code = "invalid_spec"


class StartFailed(RuntimeAgentError):
    """The container process could not be set up or executed; ``exit_code`` follows Docker."""

    code = "start_failed"

    def __init__(self, message: str, exit_code: int = 128) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NetworkError(RuntimeAgentError):
    code = "network_error"
