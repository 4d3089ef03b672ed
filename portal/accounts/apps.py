from django.apps import AppConfig


class Config(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI authentication extensions (drf-spectacular finds them by subclassing).
        from portal.accounts import schema  # noqa: F401
