"""Reading and changing system settings."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from portal.audit.services import record
from portal.rbac.principals import Principal
from portal.system.models import SystemSettings


def get_system_settings() -> SystemSettings:
    settings_row, _ = SystemSettings.objects.get_or_create(pk=1)
    return settings_row


def update_system_settings(actor: Principal, changes: dict[str, Any], source_ip: str | None = None) -> SystemSettings:
    with transaction.atomic():
        row = SystemSettings.objects.select_for_update().get_or_create(pk=1)[0]
        for key, value in changes.items():
            setattr(row, key, value)
        row.save()
        record(actor, "update", "configuration", "system", source_ip=source_ip, detail=changes)
    return row
