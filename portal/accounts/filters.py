"""Filters for the user list."""

from __future__ import annotations

import django_filters

from portal.accounts.models import User


class UserFilter(django_filters.FilterSet):
    username = django_filters.CharFilter(lookup_expr="icontains")
    email = django_filters.CharFilter(lookup_expr="icontains")
    is_admin = django_filters.BooleanFilter()
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = ["username", "email", "is_admin", "is_active"]
