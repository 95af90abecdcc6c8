"""The Celery app. Configuration comes from settings (CELERY_*); the beat schedule is CELERY_BEAT_SCHEDULE."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posproject.settings")


# Every task waits out maintenance (ops.maintenance); named, so the project shell imports no app.
app = Celery("tillhouse", task_cls="ops.maintenance:MaintenanceAwareTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
