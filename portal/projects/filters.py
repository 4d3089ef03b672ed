"""Filters for project and member lists."""

from __future__ import annotations

import django_filters

from portal.projects.models import Member, Project


class ProjectFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    public = django_filters.BooleanFilter()
    owner = django_filters.CharFilter(field_name="owner__username")

    class Meta:
        model = Project
        fields = ["name", "public", "owner"]


class MemberFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(field_name="user__username", lookup_expr="icontains")
    role = django_filters.CharFilter()

    class Meta:
        model = Member
        fields = ["username", "role"]
