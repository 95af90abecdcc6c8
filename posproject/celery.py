"""The Celery app. Configuration comes from settings (CELERY_*); the beat schedule is CELERY_BEAT_SCHEDULE."""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "posproject.settings")


class MaintenanceAwareTask(Task):
    """Every task waits out maintenance (a restore): it goes back to the queue for Retry-After seconds instead of
    running into the read-only database. Tasks run eagerly (the embedded mode) run at once: the request that
    queued them was already let through."""

    def __call__(self, *args, **kwargs):
        if not self.request.is_eager:
            from ops.maintenance import MaintenanceMode, check_for_task

            try:
                check_for_task()
            except MaintenanceMode as exc:
                raise self.retry(countdown=exc.retry_after, max_retries=self.request.retries + 1) from None
        return super().__call__(*args, **kwargs)


app = Celery("tillhouse", task_cls=MaintenanceAwareTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
