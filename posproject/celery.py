"""The Celery app. Configuration comes from settings (CELERY_*); the beat schedule is CELERY_BEAT_SCHEDULE."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posproject.settings")

app = Celery("tillhouse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
