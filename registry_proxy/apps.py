"""Django app entry for the registry proxy: it owns management commands only, no models."""

from __future__ import annotations

from django.apps import AppConfig


class RegistryProxyConfig(AppConfig):
    name = "registry_proxy"
    label = "registry_proxy"
