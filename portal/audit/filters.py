"""Filters for audit log lists: who, what, which resource, outcome, project, when and from where."""

from __future__ import annotations

import django_filters
from django.core.validators import validate_ipv46_address

from portal.audit.models import AuditEntry, Outcome

BAD_TIME = "must be an ISO 8601 date and time, such as 2026-01-31T12:00:00Z"


class AuditEntryFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter()
    action = django_filters.CharFilter()
    resource_type = django_filters.CharFilter()
    resource = django_filters.CharFilter(lookup_expr="icontains")
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    project = django_filters.CharFilter(field_name="project_name")
    # Validated here: PostgreSQL refuses a malformed address in an inet comparison with an error.
    source_ip = django_filters.CharFilter(validators=[validate_ipv46_address])
    # `from` is a Python keyword, so these two are named through the class namespace.
    vars()["from"] = django_filters.IsoDateTimeFilter(
        field_name="time", lookup_expr="gte", error_messages={"invalid": BAD_TIME}
    )
    vars()["to"] = django_filters.IsoDateTimeFilter(
        field_name="time", lookup_expr="lte", error_messages={"invalid": BAD_TIME}
    )

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "resource_type", "resource", "outcome", "project", "source_ip"]
