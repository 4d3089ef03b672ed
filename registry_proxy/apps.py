"""Django app entry for the registry proxy: it owns only management commands, no models."""

from django.apps import AppConfig


class RegistryProxyConfig(AppConfig):
    name = "registry_proxy"
    label = "registry_proxy"
