from django.apps import AppConfig


class Config(AppConfig):
    name = "portal.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
