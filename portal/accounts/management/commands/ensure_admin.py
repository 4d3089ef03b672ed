"""Creates the first administrator `admin` if no administrator exists, printing its one-time password."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.accounts.models import User


class Command(BaseCommand):
    help = "Create the first admin account (password from BERTH_ADMIN_PASSWORD, or generated and printed once)."

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(is_admin=True).exists():
            return
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        user = User(username="admin", is_admin=True, display_name="Administrator")
        user.set_password(password)
        user.save()
        if settings.ADMIN_PASSWORD:
            self.stdout.write("Created the administrator 'admin' with the password from BERTH_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                f"Created the administrator 'admin'. One-time password: {password}\n"
                "It is not stored anywhere in clear text: note it now and change it after signing in."
            )
