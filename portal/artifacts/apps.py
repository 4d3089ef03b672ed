from django.apps import AppConfig


class Config(AppConfig):
    name = "portal.artifacts"
    label = "artifacts"
    default_auto_field = "django.db.models.BigAutoField"
