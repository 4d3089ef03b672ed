"""Filters for robot lists."""

from __future__ import annotations

import django_filters

from portal.robots.models import Robot


class RobotFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    disabled = django_filters.BooleanFilter()

    class Meta:
        model = Robot
        fields = ["name", "disabled"]
