from django.apps import AppConfig


class Config(AppConfig):
    name = "portal.storage"
    label = "storage"
    default_auto_field = "django.db.models.BigAutoField"
