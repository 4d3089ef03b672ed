"""Tag names sort in byte order on PostgreSQL, as the distribution spec's tag list requires."""

from typing import Any

from django.db import migrations

# A database created with a language locale (en_US.UTF-8) would otherwise sort `v1-0` and `v1.0` by
# its dictionary rules, and `last=` keyset pagination would disagree with every registry client.
# SQLite already compares text byte by byte.


def byte_order(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'ALTER TABLE artifacts_tag ALTER COLUMN name TYPE varchar(128) COLLATE "C"'
        )


def locale_order(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'ALTER TABLE artifacts_tag ALTER COLUMN name TYPE varchar(128) COLLATE "default"'
        )


class Migration(migrations.Migration):
    dependencies = [("artifacts", "0002_index")]

    operations = [migrations.RunPython(byte_order, locale_order)]
