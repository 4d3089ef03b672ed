"""Token scopes. Tokens made before them keep what they could do, minus minting credentials: registry:write,
api:read and api:write; new ones default to registry:write alone."""

from django.db import migrations, models

import portal.accounts.models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        # The column is added with the legacy default, which fills every existing row, then given the new one.
        migrations.AddField(
            model_name="personaltoken",
            name="scopes",
            field=models.JSONField(default=portal.accounts.models.legacy_token_scopes),
        ),
        migrations.AlterField(
            model_name="personaltoken",
            name="scopes",
            field=models.JSONField(default=portal.accounts.models.default_token_scopes),
        ),
    ]
