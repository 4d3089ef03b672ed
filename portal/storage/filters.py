"""Filters for garbage collection runs."""

from __future__ import annotations

import django_filters

from portal.storage.models import GCRun


class GCRunFilter(django_filters.FilterSet):
    class Meta:
        model = GCRun
        fields = ["status", "dry_run"]
