"""Serializers that refuse fields they do not know, the base of every app's input serializers."""

from __future__ import annotations

import math
from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is a 400 instead of silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - {name for name, field in self.fields.items() if not field.read_only})
            if unknown:
                raise serializers.ValidationError({name: ["unknown field"] for name in unknown})
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


class NoNulJSONField(serializers.JSONField):
    """Free-form JSON without NUL characters anywhere: PostgreSQL's jsonb refuses `\\u0000` (a 500 at save)."""

    def to_internal_value(self, data: Any) -> Any:
        if _holds_nul(data):
            raise serializers.ValidationError("must not contain NUL characters")
        return super().to_internal_value(data)


class FiniteFloatField(serializers.FloatField):
    """A number that is neither NaN nor infinite: DRF's FloatField takes "nan" and "inf", which JSON cannot carry
    and no bound compares against."""

    def to_internal_value(self, data: Any) -> float:
        number = super().to_internal_value(data)
        if not math.isfinite(number):
            raise serializers.ValidationError("must be a finite number")
        return number
