"""Django app entry for the fleet."""

from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "portal.fleet"
    label = "fleet"

    def ready(self) -> None:
        from portal.artifacts.services import DELETE_GUARDS
        from portal.fleet.services import refuse_deleting_a_running_artifact

        if refuse_deleting_a_running_artifact not in DELETE_GUARDS:
            DELETE_GUARDS.append(refuse_deleting_a_running_artifact)
