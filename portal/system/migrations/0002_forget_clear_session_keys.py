"""Sessions stored before keys were hashed (portal.accounts.sessions) held their keys in clear: they are
removed, and their browsers sign in again."""

from typing import Any

from django.db import migrations


def forget_clear_keys(apps: Any, schema_editor: Any) -> None:
    from django.db.models.functions import Length

    session = apps.get_model("sessions", "Session")
    session.objects.annotate(key_length=Length("session_key")).exclude(key_length=40).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0001_initial"), ("sessions", "0001_initial")]
    operations = [migrations.RunPython(forget_clear_keys, migrations.RunPython.noop)]
