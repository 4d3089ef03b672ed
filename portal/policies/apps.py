"""Django app entry for tag policies."""

from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "portal.policies"
    label = "policies"
    default_auto_field = "django.db.models.BigAutoField"
