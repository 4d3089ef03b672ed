"""Filters for webhook policy and delivery lists."""

from __future__ import annotations

import django_filters

from portal.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookPolicy


class PolicyFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = WebhookPolicy
        fields = ["name", "enabled"]


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter(field_name="event__type")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event_type"]
