"""Berth's portal: the Django project behind the REST API and the browser UI."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
