"""Filters of the host and container lists."""

from __future__ import annotations

import django_filters

from portal.fleet.models import Container, Host


class HostFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    status = django_filters.CharFilter(field_name="status")

    class Meta:
        model = Host
        fields = ["name", "status", "draining"]


class ContainerFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    host = django_filters.CharFilter(field_name="host_name")
    digest = django_filters.CharFilter()
    status = django_filters.CharFilter()

    class Meta:
        model = Container
        fields = ["name", "host", "status", "digest", "desired_state"]
