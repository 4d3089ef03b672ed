"""Typed readers of the environment for the one settings module, with a registry of every setting."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; raised at start-up so the process never runs half-configured."""


@dataclass(frozen=True)
class Declared:
    name: str
    default: str
    help: str


class Environment:
    """Reads BERTH_* variables; every read declares the setting, its default and its meaning."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._source = os.environ if source is None else source
        self.declared: dict[str, Declared] = {}

    def _raw(self, name: str, default: object, help: str) -> str | None:
        self.declared[name] = Declared(name, "" if default is None else str(default), help)
        value = self._source.get(name)
        return None if value is None or value == "" else value

    def str(self, name: str, default: str, help: str) -> str:
        value = self._raw(name, default, help)
        return default if value is None else value

    def optional_str(self, name: str, help: str) -> str | None:
        return self._raw(name, None, help)

    def bool(self, name: str, default: bool, help: str) -> bool:
        value = self._raw(name, "true" if default else "false", help)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigurationError(f"{name} must be true or false, not {value!r}")

    def int(self, name: str, default: int, help: str) -> int:
        value = self._raw(name, default, help)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from None

    def float(self, name: str, default: float, help: str) -> float:
        value = self._raw(name, default, help)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number, not {value!r}") from None

    def list(self, name: str, default: list[str], help: str) -> list[str]:
        value = self._raw(name, ",".join(default), help)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def path(self, name: str, default: Path, help: str) -> Path:
        value = self._raw(name, default, help)
        return default if value is None else Path(value)


def database_from_url(url: str) -> dict[str, object]:
    """Turns `postgres://user:pass@host:port/name` or `sqlite:///path` into a Django DATABASES entry."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative and sqlite:////absolute, as SQLAlchemy spells them.
        name = path[1:]
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name or ":memory:", "OPTIONS": options}
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ConfigurationError(f"BERTH_DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite or postgres)")


def private_directory(path: Path) -> Path:
    """`path`, created 0700, or narrowed to 0700 when an older Berth made it readable to every local user
    (left alone when another account owns it: a mounted volume's owner decides its mode)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _narrow(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """`path` as an existing or empty file of mode 0600, before a library (SQLite) creates it with 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    _narrow(path, 0o600)
    return path


def _narrow(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o777 != mode:
        path.chmod(mode)


def persistent_secret(path: Path, length: int = 50, generate: Callable[[], str] | None = None) -> str:
    """Returns the secret kept in `path`, creating it (mode 0600) on first use, with `generate` when given."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    private_directory(path.parent)
    value = generate() if generate else secrets.token_urlsafe(length)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    try:
        os.link(tmp, path)  # loses the race gracefully if another process wrote it first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def settings_table(declared: dict[str, Declared], base_dir: Path) -> str:
    """The README's table of settings, with machine-specific paths shown relative to the checkout."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for item in declared.values():
        default = item.default.replace(str(base_dir), ".") if item.default else "(none)"
        rows.append(f"| `{item.name}` | `{default}` | {item.help} |")
    return "\n".join(rows)
