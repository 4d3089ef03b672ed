from django.apps import AppConfig


class Config(AppConfig):
    name = "portal.system"
    label = "system"
    default_auto_field = "django.db.models.BigAutoField"
