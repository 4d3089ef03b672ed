from django.apps import AppConfig


class Config(AppConfig):
    name = "portal.robots"
    label = "robots"
    default_auto_field = "django.db.models.BigAutoField"
