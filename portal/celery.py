"""The Celery application: Redis carries work from the portal to workers and agents.

Tasks are Django-aware (`celery.contrib.django.task.DjangoTask`): services enqueue them with
`task.delay_on_commit(...)`, so a worker never looks for rows whose transaction has not committed
(or was rolled back).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("berth", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
